//! The `logs2eca` executable: parse the settings, start logging, run the
//! daemon and turn its outcome into an exit status. Everything else lives in
//! the library so that tests can reach it.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match logs2eca::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    logs2eca::logging::init(&cli);
    match logs2eca::config::Config::from_cli(cli).and_then(logs2eca::daemon::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("logs2eca: {err}");
            err.exit_code()
        }
    }
}
