//! What the user asked for: flags and `LOGS2ECA_*` variables (`cli`), their
//! validation into a `Config` that cannot be wrong (`config`, `duration`),
//! the warnings about likely mistakes (`advice`) and the `--check` report
//! (`check`).

pub(crate) mod advice;
pub(crate) mod check;
pub mod cli;
pub(crate) mod config;
pub(crate) mod duration;
pub(crate) mod env_file;
pub(crate) mod file_look;
pub(crate) mod regex_look;
pub(crate) mod shown;
