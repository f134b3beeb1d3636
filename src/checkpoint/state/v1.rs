//! Version 1 of the state file, as releases before version 2 wrote it:
//! every part's fields side by side at the top (`current`, `rotated`,
//! `rotated_dirs`, `journal`; `held`, `keys`, `gate` for the gate's
//! settings; `jobs`, `running`), with `"version": 1` as a number. Only
//! read, and only to be migrated: [`migrate`] is the one place that
//! knows both layouts.

use std::path::PathBuf;

use serde::Deserialize;

use super::{
    FileRecord, FilesRecord, GatePiece, GateSettings, HeldRecord, JobRecord, JournalRecord,
    KeyRecord, RunnerPiece, RunningRecord, WallTime, encoding,
};

#[derive(Debug, Deserialize)]
pub struct State {
    #[serde(with = "encoding::path")]
    path: PathBuf,
    saved_unix_ms: WallTime,
    #[serde(default)]
    current: Option<FileRecord>,
    #[serde(default)]
    rotated: Vec<FileRecord>,
    #[serde(default)]
    rotated_dirs: Vec<PathBuf>,
    #[serde(default)]
    held: Vec<HeldRecord>,
    #[serde(default)]
    keys: Vec<KeyRecord>,
    #[serde(default)]
    jobs: Vec<JobRecord>,
    #[serde(default)]
    running: Vec<RunningRecord>,
    #[serde(default)]
    gate: Option<GateSettings>,
    #[serde(default)]
    journal: Option<JournalRecord>,
}

/// A version-1 state as the current version keeps it: the same records,
/// grouped by the part they belong to. Nothing is lost or changed (a file
/// record has no birth time, which compares as unknown), except that a
/// held match's key is marked as one to take from its line again, as
/// version 1 did: it saved a key for `logs2eca status` only, and none for
/// a match queued behind its key's run.
pub fn migrate(mut old: State) -> super::State {
    for held in &mut old.held {
        held.key_from_line = true;
    }
    super::State {
        path: old.path,
        saved_unix_ms: old.saved_unix_ms,
        files: FilesRecord {
            current: old.current,
            rotated: old.rotated,
            rotated_dirs: old.rotated_dirs,
        },
        journal: old.journal,
        gate: GatePiece {
            held: old.held,
            keys: old.keys,
            settings: old.gate,
        },
        runner: RunnerPiece {
            jobs: old.jobs,
            running: old.running,
        },
    }
}
