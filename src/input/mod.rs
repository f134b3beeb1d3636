//! Where lines come from: a followed file (`file`) or standard input
//! (`stream`), behind the one shape the loop talks to (`source`).

pub mod file;
pub(crate) mod source;
pub(crate) mod stream;
