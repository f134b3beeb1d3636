//! Logging to stderr, where systemd's journal and `docker logs` pick it up.
//! `-v`/`-q` win over `RUST_LOG`, which wins over the default (info).

use log::LevelFilter;

use crate::cli::Cli;

pub fn init(cli: &Cli) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(LevelFilter::Info).format_target(false);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let level = match (cli.verbose, cli.quiet) {
        (0, 0) => None,
        (1, _) => Some(LevelFilter::Debug),
        (2.., _) => Some(LevelFilter::Trace),
        (_, 1) => Some(LevelFilter::Warn),
        (_, 2) => Some(LevelFilter::Error),
        (_, _) => Some(LevelFilter::Off),
    };
    if let Some(level) = level {
        builder.filter_level(level);
    }
    builder.init();
}
