//! The `logs2eca` executable: parse the settings, start logging, run the
//! daemon and turn its outcome into an exit status. Everything else lives in
//! the library so that tests can reach it.

use std::process::ExitCode;

use logs2eca::report::logging;
use logs2eca::settings::cli;

fn main() -> ExitCode {
    keep_large_buffers_out_of_the_heap();
    let code = run();
    // Whatever the outcome, the queued log lines (and the error line) go
    // out first, as far as a stalled stderr allows.
    logging::finish();
    code
}

fn run() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = logging::init(&cli).and_then(|()| logs2eca::run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            logging::fatal(&err.to_string());
            err.exit_code()
        }
    }
}

/// glibc raises its mmap threshold each time a large block is freed, after
/// which the 1.25 MiB read buffers of rotated files come from the heap,
/// where `calloc` must zero them (making every page resident) and where
/// memory freed below a live block is never returned. A fixed threshold
/// keeps every read buffer a private mapping: untouched pages cost nothing,
/// and closing a rotated file gives its memory back to the system.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}
