//! What people and service managers see: log lines (`logging`), the
//! `sd_notify` datagrams (`readiness`), the dry run's output (`printer`)
//! and the summaries of suppressed matches (`summary`).

pub mod logging;
pub mod printer;
pub mod readiness;
pub mod summary;
