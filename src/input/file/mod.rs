//! A followed path: which file it names (`resolve`), how changes are seen
//! (`watch` for inotify, `polling` for polling, `fstype` for when inotify
//! cannot be trusted), one open file (`follow`), the path over time across
//! rotation (`rotation`) and bytes to whole lines (`lines`).

pub mod follow;
pub mod fstype;
pub mod lines;
pub mod polling;
pub mod resolve;
pub mod rotation;
pub mod watch;
