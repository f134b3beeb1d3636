//! The defects of a hostile review, one test each (D-numbers of the
//! review): paths trusted where they should not be, anchors that took a
//! `\r` for a line's edge, a stop that `--once` ignored, and more. Each
//! fails on the code the review was run against.

use crate::common::*;

/// D3: a `\r` inside a line is a byte of the line, not a line edge: an
/// anchored pattern cannot be satisfied by the text after it, and the key
/// it captures is never the attacker's. The trailing `\r` is still no part
/// of the line.
#[test]
fn d3_an_inner_cr_is_no_line_edge() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(
        &sandbox,
        [
            "-n",
            "-l",
            LOG,
            "-p",
            r"/^Failed password for \S+ from (\S+) port \d+$/",
        ],
    );
    sandbox.append(
        LOG,
        "app[1]: login failed for user alice\rFailed password for root from 10.6.6.6 port 22\n",
    );
    sandbox.append(LOG, "Failed password for root from 192.0.2.1 port 22\r\n");
    daemon.expect_line("Failed password for root from 192.0.2.1 port 22");
}
