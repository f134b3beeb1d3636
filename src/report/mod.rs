//! What people and service managers see: log lines (`logging`), the
//! `sd_notify` datagrams (`readiness`) and the `STATUS=` line they carry
//! (`status_line`), the metrics file (`metrics`) and the counters behind
//! both (`counters`), the dry run's output (`printer`) and the summaries
//! of suppressed matches (`summary`), and the events people read
//! (`event`).

pub(crate) mod clock;
pub(crate) mod counters;
pub(crate) mod event;
pub(crate) mod live;
pub(crate) mod logging;
pub(crate) mod metrics;
pub(crate) mod printer;
pub(crate) mod readiness;
pub(crate) mod status;
pub(crate) mod status_line;
pub(crate) mod summary;
