//! What people and service managers see: log lines (`logging`), the
//! `sd_notify` datagrams (`readiness`), the dry run's output (`printer`)
//! and the summaries of suppressed matches (`summary`).

pub(crate) mod event;
pub(crate) mod logging;
pub(crate) mod printer;
pub(crate) mod readiness;
pub(crate) mod summary;
