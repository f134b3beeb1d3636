//! The state's decisions on real small files in a temporary directory: the
//! same file, rotated, gone, truncated, an inode reused, rewritten in place;
//! the document's round trip and versions; the atomic, locked store.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::identity::find_by_id;
use super::store::SaveOutcome;
use super::*;
use crate::input::file::follow::Follower;
use crate::input::file::identity::{
    FileId, FileIdentity, FilePosition, Fingerprint, Match, Rewrite, fnv1a,
};

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// `n` numbered lines, so that every part of the file differs.
fn lines(from: usize, n: usize) -> Vec<u8> {
    (from..from + n)
        .flat_map(|i| format!("line {i:05} of a test log\n").into_bytes())
        .collect()
}

/// The record a state keeps of `path` read up to `offset`, as the
/// follower makes it.
fn capture(path: &Path, offset: u64) -> FileRecord {
    let file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len();
    let follower = Follower::resume_file(file, offset, false).unwrap();
    FileRecord {
        path: path.to_path_buf(),
        at: follower.processed_position().unwrap(),
        len,
    }
}

/// Resolves `record` against whatever is at `path` now.
fn resolve_at(record: &FileRecord, path: &Path, dirs: &[PathBuf]) -> Recovery {
    let file = File::open(path).ok();
    let meta = file.as_ref().map(|f| f.metadata().unwrap());
    resolve(record, file.as_ref().zip(meta.as_ref()), dirs).unwrap()
}

// ---------------------------------------------------------------------------
// The hash.

#[test]
fn fnv1a_is_the_published_function() {
    // Test vectors of the FNV reference (draft-eastlake-fnv).
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
}

// ---------------------------------------------------------------------------
// Decisions.

#[test]
fn a_record_covers_the_first_kib_and_the_kib_before_the_offset() {
    let d = dir();
    let log = d.path().join("app.log");
    let content = lines(0, 200);
    write(&log, &content);
    let r = capture(&log, 3000);
    let id = r.at.identity;
    assert_eq!(r.at.offset, 3000);
    assert_eq!(r.len, content.len() as u64);
    assert_eq!(id.head.len, 1024);
    assert_eq!(id.head.fnv1a, fnv1a(&content[..1024]));
    assert_eq!(id.tail.len, 1024);
    assert_eq!(id.tail.fnv1a, fnv1a(&content[3000 - 1024..3000]));
    let meta = fs::metadata(&log).unwrap();
    assert_eq!(id.id, FileId::at(&log, &meta));
    assert_eq!((id.id.dev, id.id.ino), (meta.dev(), meta.ino()));

    let small = capture(&log, 10);
    let id = small.at.identity;
    assert_eq!(id.tail.len, 10, "no more than what precedes the offset");
    assert_eq!(id.head.len, 10, "the head is what was read, as live");
}

#[test]
fn the_same_file_resumes_at_its_offset_also_after_appends() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, &lines(0, 100));
    let r = capture(&log, 52 * 27);
    append(&log, &lines(100, 10));
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::Resume { offset } if offset == 52 * 27
    ));
}

#[test]
fn an_empty_file_at_offset_zero_is_the_same_file() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, b"");
    let r = capture(&log, 0);
    append(&log, b"first\n");
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::Resume { offset: 0 }
    ));
}

#[test]
fn a_file_rotated_by_rename_is_found_and_continued_where_it_was() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, &lines(0, 100));
    let r = capture(&log, 1000);
    append(&log, b"written before the rotation\n");
    fs::rename(&log, d.path().join("app.log.1")).unwrap();
    write(&log, b"the new file\n");
    let dirs = [d.path().to_path_buf()];
    match resolve_at(&r, &log, &dirs) {
        Recovery::Rotated(found) => {
            assert_eq!(found.path, d.path().join("app.log.1"));
            assert_eq!(found.offset, 1000);
            assert_eq!(found.file.metadata().unwrap().ino(), r.at.identity.id.ino);
        }
        other => panic!("expected Rotated, got {other:?}"),
    }
}

#[test]
fn a_file_moved_to_another_directory_is_found_there_if_that_is_a_candidate() {
    let d = dir();
    fs::create_dir(d.path().join("logs")).unwrap();
    fs::create_dir(d.path().join("old")).unwrap();
    let log = d.path().join("logs/app.log");
    write(&log, &lines(0, 10));
    let r = capture(&log, 100);
    fs::rename(&log, d.path().join("old/app.log.1")).unwrap();
    // No file at the path at all.
    let only_logs = [d.path().join("logs")];
    assert!(matches!(
        resolve_at(&r, &log, &only_logs),
        Recovery::Gone { .. }
    ));
    let both = [d.path().join("logs"), d.path().join("old")];
    match resolve_at(&r, &log, &both) {
        Recovery::Rotated(found) => assert_eq!(found.path, d.path().join("old/app.log.1")),
        other => panic!("expected Rotated, got {other:?}"),
    }
}

#[test]
fn a_deleted_file_is_gone_with_the_bytes_known_to_be_unread() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, b"processed\nnot yet\n");
    let dirs = [d.path().to_path_buf()];
    let partly_read = capture(&log, 10);
    let fully_read = capture(&log, 18);
    fs::remove_file(&log).unwrap();
    assert!(matches!(
        resolve_at(&partly_read, &log, &dirs),
        Recovery::Gone {
            unread_bytes: Some(8)
        }
    ));
    assert!(matches!(
        resolve_at(&fully_read, &log, &dirs),
        Recovery::Gone { unread_bytes: None }
    ));
}

#[test]
fn a_truncated_file_is_read_from_the_start() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, &lines(0, 100));
    let r = capture(&log, 2000);
    // copytruncate: same inode, emptied, a little written again.
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, b"after the truncation\n");
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::FromStart(Rewrite::Truncated)
    ));
}

#[test]
fn a_file_truncated_and_refilled_past_the_offset_is_read_from_the_start() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, &lines(0, 100));
    let r = capture(&log, 2000);
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &lines(500, 200));
    assert!(fs::metadata(&log).unwrap().len() > 2000);
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::FromStart(Rewrite::HeadChanged)
    ));
}

#[test]
fn a_reused_inode_number_is_not_the_old_file() {
    let d = dir();
    let old = d.path().join("old.log");
    let log = d.path().join("app.log");
    write(&old, &lines(0, 100));
    write(&log, &lines(1000, 100));
    // What a record of a deleted file looks like when the file system has
    // given its inode number to the file now at the path.
    let mut r = capture(&old, 2000);
    let meta = fs::metadata(&log).unwrap();
    r.at.identity.id = FileId {
        born: None,
        ..FileId::at(&log, &meta)
    };
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::FromStart(Rewrite::HeadChanged)
    ));
    // The same, found while looking for a rotated file elsewhere: not ours.
    let rotated_dirs = [d.path().to_path_buf()];
    let elsewhere = d.path().join("no-such.log");
    assert!(matches!(
        resolve_at(&r, &elsewhere, &rotated_dirs),
        Recovery::Gone { .. }
    ));
}

#[test]
fn bytes_changed_before_the_offset_are_read_from_the_start() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, &lines(0, 150));
    let r = capture(&log, 3000);
    // Past the first KiB, before the offset: the head still matches.
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .write_all_at(b"XXXX", 2500)
        .unwrap();
    assert!(matches!(
        resolve_at(&r, &log, &[]),
        Recovery::FromStart(Rewrite::TailChanged)
    ));
}

#[test]
fn classify_tells_another_file_from_the_recorded_one() {
    let d = dir();
    let a = d.path().join("a.log");
    let b = d.path().join("b.log");
    write(&a, b"a\n");
    write(&b, b"a\n");
    let r = capture(&a, 2);
    let file = File::open(&b).unwrap();
    let meta = file.metadata().unwrap();
    assert_eq!(r.at.compare(&file, &meta).unwrap(), Match::Other);
    let file = File::open(&a).unwrap();
    let meta = file.metadata().unwrap();
    assert_eq!(
        r.at.compare(&file, &meta).unwrap(),
        Match::Same { offset: 2 }
    );
}

/// A closed short file whose inode number went to a new file with the
/// same first bytes: the birth time tells them apart where the file
/// system keeps one; a record without one (an older state, a file system
/// without it) is compared as before.
#[test]
fn a_file_born_later_under_the_saved_inode_is_not_the_saved_file() {
    let d = dir();
    let log = d.path().join("app.log");
    write(&log, b"header\nline 1\n");
    let saved = capture(&log, 14);
    let Some(born) = saved.at.identity.id.born else {
        eprintln!("skipped: this file system keeps no birth time");
        return;
    };
    let mut reborn = saved.clone();
    reborn.at.identity.id.born = Some(born + 1);
    assert!(matches!(
        resolve_at(&reborn, &log, &[d.path().to_path_buf()]),
        Recovery::Gone { .. }
    ));
    let mut unknown = saved.clone();
    unknown.at.identity.id.born = None;
    assert!(matches!(
        resolve_at(&unknown, &log, &[]),
        Recovery::Resume { offset: 14 }
    ));
    assert!(matches!(
        resolve_at(&saved, &log, &[]),
        Recovery::Resume { offset: 14 }
    ));
}

#[test]
fn find_by_id_looks_only_at_regular_files_in_the_given_directories() {
    let d = dir();
    let sub = d.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let target = sub.join("x.log");
    write(&target, b"x\n");
    std::os::unix::fs::symlink(&target, d.path().join("link")).unwrap();
    let meta = fs::metadata(&target).unwrap();
    let (dev, ino) = (meta.dev(), meta.ino());
    assert_eq!(
        find_by_id(dev, ino, &[d.path().to_path_buf()]),
        None,
        "neither through a symlink nor in a subdirectory"
    );
    let missing = d.path().join("missing");
    assert_eq!(find_by_id(dev, ino, &[missing, sub.clone()]), Some(target));
    let sub_meta = fs::metadata(&sub).unwrap();
    assert_eq!(
        find_by_id(sub_meta.dev(), sub_meta.ino(), &[d.path().to_path_buf()]),
        None,
        "a directory is not a file"
    );
}

// ---------------------------------------------------------------------------
// The document.

fn full_state(d: &Path) -> State {
    let log = d.join("app.log");
    write(&log, &lines(0, 100));
    let mut state = State::new(&log, WallTime::from_unix_ms(1_700_000_000_123));
    state.files.current = Some(capture(&log, 1500));
    state.files.rotated = vec![capture(&log, 27)];
    state.files.rotated[0].path =
        PathBuf::from(std::ffi::OsString::from_vec(b"/var/log/\xffold".to_vec()));
    state.gate.keys = vec![
        KeyRecord {
            key: Vec::new(),
            last_end_unix_ms: Some(WallTime::from_unix_ms(1_699_999_999_000)),
            suppressed: 7,
            window_unix_ms: Vec::new(),
        },
        KeyRecord {
            key: b"10.0.0.1".to_vec(),
            last_end_unix_ms: None,
            suppressed: 0,
            window_unix_ms: vec![WallTime::from_unix_ms(1), WallTime::from_unix_ms(2)],
        },
        KeyRecord {
            key: b"\xfe\x00binary".to_vec(),
            ..KeyRecord::default()
        },
    ];
    state
}

#[test]
fn a_state_survives_its_round_trip_exactly_also_with_bytes_that_are_not_utf8() {
    let d = dir();
    let state = full_state(d.path());
    let json = state.to_json().unwrap();
    assert_eq!(State::from_json(&json), Ok(state.clone()));
    let text = String::from_utf8(json).unwrap();
    assert!(text.starts_with(r#"{"version":"2","#), "{text}");
    assert!(text.ends_with("}\n"));
    let head = state.files.current.as_ref().unwrap().at.identity.head.fnv1a;
    assert!(
        text.contains(&format!(r#""fnv1a":"{head:016x}""#)),
        "hashes are hex strings: {text}"
    );
    assert!(
        text.contains(r#""key":"10.0.0.1""#),
        "UTF-8 keys are strings"
    );
    assert!(
        text.contains(r#""key":[254,0,98"#),
        "others are bytes: {text}"
    );
}

#[test]
fn a_minimal_state_omits_what_is_empty_and_reads_back() {
    let state = State::new(Path::new("/var/log/app.log"), WallTime::from_unix_ms(5));
    let json = state.to_json().unwrap();
    assert_eq!(
        String::from_utf8(json.clone()).unwrap(),
        "{\"version\":\"2\",\"path\":\"/var/log/app.log\",\"saved_unix_ms\":5}\n"
    );
    assert_eq!(State::from_json(&json), Ok(state));
}

#[test]
fn other_versions_and_damaged_documents_are_refused_with_a_reason() {
    let cases: [(&[u8], &str); 9] = [
        (
            br#"{"version":"3","path":"/a","saved_unix_ms":1}"#,
            r#"version "3", this logs2eca reads version 1 (a number) and "2" (a string)"#,
        ),
        (br#"{"version":3,"path":"/a"}"#, "version 3 (a number)"),
        // Version 2 is a string: the number is not it, and the message
        // says so rather than claim to read it.
        (
            br#"{"version":2,"path":"/a","saved_unix_ms":1}"#,
            r#"version 2 (a number), this logs2eca reads version 1 (a number) and "2" (a string)"#,
        ),
        (br#"{"version":"2","path":"/a"}"#, "damaged"),
        (br#"{"version":0}"#, "version 0"),
        (
            br#"{"path":"/a","saved_unix_ms":1}"#,
            "not a logs2eca state",
        ),
        (b"\x00\x00\x00\x00", "not a logs2eca state"),
        (
            br#"{"version":1,"path":"/a","saved_unix_ms":1"#,
            "not a logs2eca state",
        ),
        (br#"{"version":1,"path":"/a"}"#, "damaged"),
    ];
    for (bytes, reason) in cases {
        let err = State::from_json(bytes).unwrap_err();
        assert!(
            err.contains(reason),
            "{}: {err}",
            String::from_utf8_lossy(bytes)
        );
    }
    for with_a_field_from_the_future in [
        &br#"{"version":1,"path":"/a","saved_unix_ms":1,"later":true}"#[..],
        br#"{"version":"2","path":"/a","saved_unix_ms":1,"later":true}"#,
    ] {
        assert!(State::from_json(with_a_field_from_the_future).is_ok());
    }
}

// ---------------------------------------------------------------------------
// Version 1, as the release before version 2 wrote it (tests/fixtures).

const FIXTURE_FILE: &[u8] = include_bytes!("../../../tests/fixtures/state-v1/file.json");
const FIXTURE_JOURNAL: &[u8] = include_bytes!("../../../tests/fixtures/state-v1/journal.json");

/// Every record of a version-1 state of a file source lands in its part,
/// unchanged; written again, it is version 2 and reads back the same.
#[test]
fn a_version_1_state_of_files_is_migrated_whole() {
    let state = State::from_json(FIXTURE_FILE).unwrap();
    assert_eq!(state.path, Path::new("@ROOT@/app.log"));
    let current = state.files.current.as_ref().unwrap();
    assert_eq!((current.at.offset, current.len), (20, 20));
    assert_eq!(current.at.identity.id.born, None, "version 1 kept none");
    assert_eq!(current.at.identity.head.fnv1a, 0x20af_6feb_8c60_bc51);
    let [rotated] = &state.files.rotated[..] else {
        panic!("{:?}", state.files.rotated)
    };
    assert_eq!(rotated.path, Path::new("@ROOT@/app.log.1"));
    assert_eq!((rotated.at.offset, rotated.len), (66, 73));
    assert_eq!(rotated.at.identity.tail.len, 66);
    assert_eq!(state.files.rotated_dirs, [PathBuf::from("@ROOT@")]);
    assert_eq!(state.journal, None);
    let held: Vec<_> = state
        .gate
        .held
        .iter()
        .map(|h| (&h.line[..], h.trigger, &h.key[..]))
        .collect();
    assert_eq!(held, [(&b"ERROR b 2"[..], true, &b"b"[..])]);
    let keys: Vec<_> = state
        .gate
        .keys
        .iter()
        .map(|k| (&k.key[..], k.suppressed, k.window_unix_ms.len()))
        .collect();
    assert_eq!(
        keys,
        [(&b"a"[..], 1, 0), (&b"b"[..], 0, 0), (&b"c"[..], 0, 1)]
    );
    assert_eq!(
        state.gate.settings,
        Some(GateSettings {
            wait_ms: 3_600_000,
            threshold: 2,
            window_ms: 3_600_000
        })
    );
    let [job] = &state.runner.jobs[..] else {
        panic!("{:?}", state.runner.jobs)
    };
    assert_eq!(
        (&job.action[..], &job.key[..], job.attempt),
        ("do", &b"a"[..], 1)
    );
    assert_eq!(job.env.len(), 9);
    let [running] = &state.runner.running[..] else {
        panic!("{:?}", state.runner.running)
    };
    assert_eq!(&running.key[..], b"a");

    let again = state.to_json().unwrap();
    assert!(again.starts_with(br#"{"version":"2","#));
    assert_eq!(State::from_json(&again), Ok(state));
}

/// Version 1 saved a held match's key for `logs2eca status` only (none
/// for a match queued behind its key's run) and took it from the line at
/// start: a migrated record says so; a version-2 record keeps its key.
#[test]
fn a_version_1_held_key_is_migrated_as_one_to_take_from_the_line() {
    let v1 = br#"{"version":1,"path":"/a","saved_unix_ms":1,
        "held":[{"line":"ERROR a","trigger":true,"key":"a"},{"line":"ERROR b"}]}"#;
    let state = State::from_json(v1).unwrap();
    let held: Vec<_> = state
        .gate
        .held
        .iter()
        .map(|h| (&h.key[..], h.key_from_line))
        .collect();
    assert_eq!(held, [(&b"a"[..], true), (&b""[..], true)]);
    // Written again (version 2), the mark stays until a start has taken
    // the keys from the lines.
    assert_eq!(State::from_json(&state.to_json().unwrap()), Ok(state));

    let v2 = br#"{"version":"2","path":"/a","saved_unix_ms":1,
        "gate":{"held":[{"line":"ERROR a","key":"a"},{"line":"ERROR b"}]}}"#;
    let state = State::from_json(v2).unwrap();
    assert!(state.gate.held.iter().all(|h| !h.key_from_line));
}

/// The journal's variant: the cursor and a held match's entry fields.
#[test]
fn a_version_1_state_of_the_journal_is_migrated_whole() {
    let state = State::from_json(FIXTURE_JOURNAL).unwrap();
    assert_eq!(state.path, Path::new("journal:@ROOT@/j"));
    assert!(state.files.current.is_none() && state.files.rotated.is_empty());
    let journal = state.journal.as_ref().unwrap();
    assert!(journal.cursor.as_deref().unwrap().contains(";i=3;"));
    assert_eq!(journal.received_unix_us, Some(1_700_000_000_002_000));
    let [held] = &state.gate.held[..] else {
        panic!("{:?}", state.gate.held)
    };
    assert_eq!(held.line, b"fail: 2");
    assert!(
        held.fields
            .iter()
            .any(|f| f.name == "LOGS2ECA_JOURNAL_UNIT" && f.value == b"ssh.service")
    );
    assert_eq!(state.runner.jobs.len(), 1);
    assert_eq!(state.runner.running.len(), 1);
    let again = state.to_json().unwrap();
    assert_eq!(State::from_json(&again), Ok(state));
}

#[test]
fn candidate_dirs_are_where_the_files_were_then_the_paths_own_each_once() {
    let mut state = State::new(Path::new("/var/log/app.log"), WallTime::from_unix_ms(0));
    let record = |path: &str| FileRecord {
        path: path.into(),
        at: FilePosition {
            identity: FileIdentity {
                id: FileId {
                    dev: 1,
                    ino: 2,
                    born: None,
                },
                head: Fingerprint::EMPTY,
                tail: Fingerprint::EMPTY,
            },
            offset: 0,
            skipping: false,
        },
        len: 0,
    };
    state.files.current = Some(record("/srv/app/current.log"));
    state.files.rotated = vec![record("/var/log/old/app.log.1"), record("/srv/app/x.log")];
    assert_eq!(
        state.files.candidate_dirs(&state.path),
        [
            PathBuf::from("/srv/app"),
            "/var/log/old".into(),
            "/var/log".into()
        ]
    );
}

#[test]
fn a_first_start_has_no_state_and_a_saved_state_is_read_back() {
    let d = dir();
    let path = d.path().join("state.json");
    let state = full_state(d.path());
    {
        let (mut file, loaded) = StateFile::open(&path).unwrap();
        assert_eq!(loaded, None);
        assert_eq!(file.save(&state), SaveOutcome::Written);
        assert_eq!(file.save(&state), SaveOutcome::Written);
    }
    let mut names: Vec<_> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["app.log", "state.json", "state.json.lock"],
        "no temporary file is left behind"
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (_file, loaded) = StateFile::open(&path).unwrap();
    assert_eq!(loaded, Some(state));
}

#[test]
fn a_held_state_file_cannot_be_opened_again_and_the_message_names_the_holder() {
    let d = dir();
    let path = d.path().join("state.json");
    let (_held, _) = StateFile::open(&path).unwrap();
    let err = StateFile::open(&path).unwrap_err();
    assert_eq!(err.status, crate::error::ExitStatus::Failure);
    let expected = format!(
        "the state file {} is in use by another logs2eca (pid {})",
        path.display(),
        std::process::id()
    );
    assert_eq!(err.message, expected);
}

#[test]
fn a_damaged_state_is_moved_aside_and_the_start_goes_on() {
    for content in [&b"{\"version\":1,"[..], b"{\"version\":99}", b""] {
        let d = dir();
        let path = d.path().join("state.json");
        write(&path, content);
        let (_file, loaded) = StateFile::open(&path).unwrap();
        assert_eq!(loaded, None);
        assert!(!path.exists());
        assert_eq!(fs::read(d.path().join("state.json.bad")).unwrap(), content);
    }
}

/// A `--state-file` that names some other file (a typo) is not moved
/// aside: it is not ours. The start fails naming it.
#[test]
fn a_foreign_file_as_the_state_is_refused_and_left_alone() {
    let d = dir();
    let path = d.path().join("notes.txt");
    write(&path, b"my notes\n");
    let err = StateFile::open(&path).unwrap_err();
    assert_eq!(err.status, crate::error::ExitStatus::Failure);
    assert!(
        err.message.contains("not a logs2eca state file"),
        "{}",
        err.message
    );
    assert_eq!(fs::read(&path).unwrap(), b"my notes\n");
    assert!(!d.path().join("notes.txt.bad").exists());
}

#[test]
fn an_unusable_state_directory_fails_the_start_naming_it() {
    let d = dir();
    let not_a_dir = d.path().join("file");
    write(&not_a_dir, b"");
    let missing = d.path().join("missing");
    for parent in [not_a_dir, missing] {
        let err = StateFile::open(&parent.join("state.json")).unwrap_err();
        assert_eq!(err.status, crate::error::ExitStatus::Failure);
        assert!(
            err.message.starts_with(&format!(
                "cannot write to the state directory {}: ",
                parent.display()
            )),
            "{}",
            err.message
        );
    }
}

#[test]
fn an_unreadable_state_file_fails_the_start() {
    let d = dir();
    let path = d.path().join("state.json");
    fs::create_dir(&path).unwrap();
    let err = StateFile::open(&path).unwrap_err();
    assert!(
        err.message
            .starts_with(&format!("cannot read the state file {}", path.display())),
        "{}",
        err.message
    );
}

/// Runs `body` with a tiny tmpfs mounted on a fresh directory, in a mount
/// namespace of its own thread so that nothing outlives the test. Returns
/// `false` (and says so) where mounting is not allowed.
fn with_tiny_tmpfs(body: impl FnOnce(&Path) + Send) -> bool {
    let d = dir();
    let mount_point = d.path();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if !private_mount_namespace() {
                    return false;
                }
                crate::sys::mount::tmpfs(mount_point, "64k").expect("mount tmpfs");
                body(mount_point);
                true
            })
            .join()
            .unwrap()
    })
}

/// Gives the calling thread its own mount namespace, with mounts that do
/// not propagate back. `false` if not allowed (not root).
fn private_mount_namespace() -> bool {
    match crate::sys::mount::private_namespace() {
        Ok(()) => true,
        Err(err) => {
            eprintln!(
                "skipped: no private mount namespace ({err}); run as root to test a full disk"
            );
            false
        }
    }
}

#[test]
fn a_full_disk_fails_saves_quietly_keeps_the_old_state_and_recovers() {
    with_tiny_tmpfs(|root| {
        let path = root.join("state.json");
        let (mut file, _) = StateFile::open(&path).unwrap();
        let mut state = State::new(Path::new("/var/log/app.log"), WallTime::from_unix_ms(1));
        assert_eq!(file.save(&state), SaveOutcome::Written);
        let before = fs::read(&path).unwrap();

        let filler = root.join("filler");
        let mut f = File::create(&filler).unwrap();
        let block = [b'x'; 4096];
        while f.write_all(&block).is_ok() {}
        drop(f);

        // Big enough not to fit in what the filler's last partial write left.
        state.gate.keys = (0..200u32)
            .map(|i| KeyRecord {
                key: format!("key number {i}").into_bytes(),
                ..KeyRecord::default()
            })
            .collect();
        assert_eq!(file.save(&state), SaveOutcome::Failed);
        assert_eq!(file.save(&state), SaveOutcome::FailedAgain);
        assert_eq!(fs::read(&path).unwrap(), before, "the old state is intact");
        assert!(
            !root.join("state.json.tmp").exists(),
            "no partial temp file"
        );

        fs::remove_file(&filler).unwrap();
        assert_eq!(file.save(&state), SaveOutcome::Recovered);
        assert_eq!(file.save(&state), SaveOutcome::Written);
        assert_eq!(State::from_json(&fs::read(&path).unwrap()), Ok(state));
    });
}

/// The runs still to do survive the document's round trip, bytes and all;
/// a state written before they were kept (no `jobs`) reads as having none.
#[test]
fn jobs_round_trip_and_an_older_state_has_none() {
    let mut state = State::new(Path::new("/var/log/a.log"), WallTime::from_unix_ms(5));
    state.runner.jobs = vec![
        JobRecord {
            action: "do".to_owned(),
            key: b"10.0.0.1".to_vec(),
            env: vec![EnvRecord {
                name: "LOGS2ECA_MATCH_LINE".to_owned(),
                value: b"not utf-8: \xff".to_vec(),
            }],
            attempt: 2,
            due_unix_ms: None,
            held: false,
        },
        JobRecord {
            action: "undo".to_owned(),
            key: Vec::new(),
            env: Vec::new(),
            attempt: 1,
            due_unix_ms: Some(WallTime::from_unix_ms(1_000)),
            held: true,
        },
    ];
    let back = State::from_json(&state.to_json().unwrap()).unwrap();
    assert_eq!(back, state);
    let older = br#"{"version":1,"path":"/var/log/a.log","saved_unix_ms":5}"#;
    assert_eq!(State::from_json(older).unwrap().runner.jobs, []);
}
