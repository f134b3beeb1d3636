//! A followed path: which file it names (`resolve`), how changes are seen
//! (`watch` for inotify, `polling` for polling, `fstype` for when inotify
//! cannot be trusted), what a file is (`identity`), one open file (`follow`), the path over time across
//! rotation (`rotation`) and bytes to whole lines (`lines`).

pub(crate) mod follow;
pub(crate) mod fstype;
pub(crate) mod identity;
pub mod lines;
pub(crate) mod polling;
pub(crate) mod resolve;
pub(crate) mod rotation;
pub(crate) mod source;
pub(crate) mod watch;
