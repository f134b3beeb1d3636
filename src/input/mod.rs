//! Where lines come from: a followed file (`file`), standard input
//! (`stream`) or the systemd journal (`journal`), behind the one shape the
//! loop talks to (`source`).

pub mod file;
pub(crate) mod journal;
pub(crate) mod source;
pub(crate) mod stream;
