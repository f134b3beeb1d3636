//! What logs2eca writes to stderr and stdout, and what their readers can do
//! to it (SPEC §5, §9): a stalled stderr stalls nothing, a closed stdout or
//! stderr never makes it panic, a dry run ends when its reader goes away,
//! and under systemd every line carries its journal priority, with no
//! logged text able to start a line of its own.

use std::fs::File;
use std::io::{ErrorKind, PipeReader, PipeWriter, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use crate::common::{
    Daemon, LOG, Sandbox, TIMEOUT, bin, clean_command, poll, proc_stat, wait_child, wait_until,
};

// ---------------------------------------------------------------------------
// Pipes.

/// A pipe whose reader has already gone: every write to it fails (EPIPE).
fn closed_pipe() -> PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

/// A pipe whose read end never blocks the test.
fn pipe() -> (PipeReader, PipeWriter) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    // SAFETY: fcntl on a descriptor we own, with integer flags.
    unsafe {
        let flags = libc::fcntl(reader.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(reader.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    (reader, writer)
}

/// Appends to `into` whatever the pipe holds now.
fn drain(reader: &mut PipeReader, into: &mut Vec<u8>) {
    let mut buf = [0; 64 << 10];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return, // WouldBlock: nothing more for now.
        }
    }
}

fn lines_of(sandbox: &Sandbox, rel: &str) -> Vec<String> {
    sandbox
        .read(rel)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------
// A stalled stderr (SPEC §5: the loop waits on nothing but its own events).

/// Appends `n` matching lines in one write: with `-v` each is logged, far
/// more than a pipe and the log queue hold.
fn flood(sandbox: &Sandbox, n: usize) {
    let text: String = (0..n).map(|i| format!("ERROR flood {i}\n")).collect();
    sandbox.append(LOG, text);
}

/// Appends `line` until the commands have recorded it as the line they
/// were started for.
fn wait_for_run_of(sandbox: &Sandbox, line: &str) {
    wait_until(&format!("a command started for {line:?}"), || {
        sandbox.append(LOG, format!("{line}\n"));
        lines_of(sandbox, "runs.txt")
            .iter()
            .any(|run| run == line)
            .then_some(())
    });
}

#[test]
fn a_stalled_stderr_stalls_neither_reading_nor_timeouts_nor_sigterm() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let (mut reader, writer) = pipe();
    // Each command records its line, then runs until its timeout: a new
    // command can only start once the loop has enforced that timeout.
    let command = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; exec sleep 300'"#;
    let mut daemon = Daemon::builder(&sandbox)
        // A cooldown of 1 ms, not 0: with `-w 0` the flood would be queued
        // and run one by one, and the lines after it would wait their turn.
        .args(["-v", "-l", LOG, "-p", "ERROR", "-w", "1ms", "-t", "0.1"])
        .args(["-c", command])
        .stderr(writer)
        .start();

    // Nobody reads stderr: the pipe fills, then the log queue.
    flood(&sandbox, 20_000);
    for n in 1..=3 {
        wait_for_run_of(&sandbox, &format!("ERROR after the flood {n}"));
    }

    // Once stderr is read again, the writer catches up and says how much
    // it had to drop.
    let mut seen = Vec::new();
    let report = wait_until("the dropped-lines report on stderr", || {
        drain(&mut reader, &mut seen);
        String::from_utf8_lossy(&seen)
            .lines()
            .find(|line| line.contains("log line(s) dropped"))
            .map(String::from)
    });
    assert!(report.contains("WARN"), "{report}");

    // Stalled again: SIGTERM still stops the daemon, and the lines it
    // cannot write do not keep it from exiting.
    flood(&sandbox, 20_000);
    wait_for_run_of(&sandbox, "ERROR after the second flood");
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status:?}");
    drain(&mut reader, &mut seen);
    let text = String::from_utf8_lossy(&seen);
    assert!(!text.contains("panicked"), "{text}");
}

// ---------------------------------------------------------------------------
// Closed stdout and stderr (SPEC §5: writes never panic).

/// Runs logs2eca in `sandbox` with the given stdout and stderr; bounded.
fn run_with(sandbox: &Sandbox, args: &[&str], stdout: Stdio, stderr: Stdio) -> ExitStatus {
    let mut child = clean_command(bin())
        .current_dir(sandbox.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn logs2eca");
    match wait_child(&mut child, TIMEOUT) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logs2eca {args:?} did not exit within {TIMEOUT:?}");
        }
    }
}

#[test]
fn closed_stdout_and_stderr_never_cause_a_panic() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "INFO fine\nERROR one\nERROR two\n");
    let cases: &[(&[&str], i32)] = &[
        (&["--nope"], 2),
        (&["-l", LOG, "-p", "x", "-w", "soon", "-n"], 2),
        (&["--help"], 0),
        (&["--version"], 0),
        (
            &[
                "--once",
                "--from-beginning",
                "-v",
                "-n",
                "-l",
                LOG,
                "-p",
                "ERROR",
            ],
            0,
        ),
        (
            &[
                "--once",
                "--from-beginning",
                "-v",
                "-l",
                LOG,
                "-p",
                "ERROR",
                "-c",
                "true",
            ],
            0,
        ),
        (&["--once", "-n", "-l", "logs/missing.log", "-p", "x"], 1),
    ];
    let stderr_path = sandbox.path("stderr.txt");
    for &(args, code) in cases {
        let both_closed = run_with(&sandbox, args, closed_pipe().into(), closed_pipe().into());
        assert_eq!(both_closed.code(), Some(code), "{args:?}, both closed");

        // The same with one of them readable: no panic message either.
        let stderr = File::create(&stderr_path).unwrap();
        let status = run_with(&sandbox, args, closed_pipe().into(), stderr.into());
        assert_eq!(status.code(), Some(code), "{args:?}, stdout closed");
        let text = sandbox.read("stderr.txt").unwrap();
        assert!(!text.contains("panicked"), "{args:?}: {text}");

        let stdout = File::create(&stderr_path).unwrap();
        let status = run_with(&sandbox, args, stdout.into(), closed_pipe().into());
        assert_eq!(status.code(), Some(code), "{args:?}, stderr closed");
    }
}

// ---------------------------------------------------------------------------
// A dry run whose reader goes away (SPEC §5: as `grep ... | head -1`).

/// Reads up to the first newline from a non-blocking pipe, bounded.
fn first_line(reader: &mut PipeReader) -> String {
    let mut seen = Vec::new();
    wait_until("a line on stdout", || {
        drain(reader, &mut seen);
        let end = seen.iter().position(|&b| b == b'\n')?;
        Some(String::from_utf8_lossy(&seen[..end]).into_owned())
    })
}

/// `rchar` of `/proc/<pid>/io`: every byte the process has read.
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("read /proc/<pid>/io");
    let line = io.lines().find(|l| l.starts_with("rchar:")).expect("rchar");
    line["rchar:".len()..].trim().parse().expect("rchar value")
}

#[test]
fn a_dry_run_scan_stops_when_its_reader_goes_away() {
    let sandbox = Sandbox::new();
    // Larger than three of the loop's read budgets (64 MiB each): a scan
    // that stops at its next check reads a fraction of it.
    let chunk: String = (0..20_000).map(|i| format!("x match {i:044}\n")).collect();
    let size = {
        let mut file = File::create(sandbox.log()).unwrap();
        let mut size = 0;
        while size < 192 << 20 {
            std::io::Write::write_all(&mut file, chunk.as_bytes()).unwrap();
            size += chunk.len() as u64;
        }
        size
    };
    let (mut reader, writer) = pipe();
    let mut child = clean_command(bin())
        .current_dir(sandbox.root())
        .args(["--once", "--from-beginning", "-n", "-l", LOG, "-p", "match"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn logs2eca");
    assert!(first_line(&mut reader).starts_with("x match "));
    drop(reader);

    // Exited (a zombie until reaped, whose counters can still be read).
    let pid = child.id();
    let exited = poll(TIMEOUT, || {
        proc_stat(pid as i32).filter(|s| s.state == 'Z').map(|_| ())
    });
    let read = exited.map(|()| bytes_read(pid));
    let status = wait_child(&mut child, Duration::from_secs(1));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        exited.is_some(),
        "still scanning {TIMEOUT:?} after stdout was closed"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    let read = read.unwrap();
    assert!(read < size / 2, "read {read} bytes of a {size}-byte file");
}

#[test]
fn a_following_dry_run_stops_when_its_reader_goes_away() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let (mut reader, writer) = pipe();
    let mut daemon = Daemon::builder(&sandbox)
        .args(["-v", "-n", "-l", LOG, "-p", "ERROR"])
        .stdout(writer)
        .start();
    sandbox.append(LOG, "ERROR first\n");
    assert_eq!(first_line(&mut reader), "ERROR first");
    drop(reader);
    sandbox.append(LOG, "ERROR nobody reads this\n");
    let status = daemon.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(daemon.stderr().contains("standard output is closed"));
}

// ---------------------------------------------------------------------------
// The journal's priorities (SPEC §9).

/// What `JOURNAL_STREAM` names, if set.
enum Stream {
    Unset,
    /// The device and inode of the daemon's stderr.
    Stderr,
    /// Those of another file (a parent's journal stream, inherited).
    OtherFile,
}

/// Runs logs2eca with stderr to a file and returns its exit code and
/// stderr.
fn run_logged(
    sandbox: &Sandbox,
    args: &[&str],
    stream: Stream,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let stderr_path = sandbox.path("stderr.txt");
    let stderr = File::create(&stderr_path).unwrap();
    let other = sandbox.path("other.txt");
    File::create(&other).unwrap();
    let identity = |path: &std::path::Path| {
        let meta = std::fs::metadata(path).unwrap();
        format!("{}:{}", meta.dev(), meta.ino())
    };
    let mut command = clean_command(bin());
    match stream {
        Stream::Unset => {}
        Stream::Stderr => {
            command.env("JOURNAL_STREAM", identity(&stderr_path));
        }
        Stream::OtherFile => {
            command.env("JOURNAL_STREAM", identity(&other));
        }
    }
    let mut child = command
        .current_dir(sandbox.root())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn logs2eca");
    let status = wait_child(&mut child, TIMEOUT).expect("logs2eca did not exit");
    (status.code(), sandbox.read("stderr.txt").unwrap())
}

/// A scan that logs at info (start, match) and warning (a failing command).
const FAILING_RUN: &[&str] = &[
    "--once",
    "--from-beginning",
    "-l",
    LOG,
    "-p",
    "ERROR",
    "-c",
    "false",
];

/// journald's reading of a line: a leading `<N>` is its priority, and a
/// line without one is filed at info.
fn priority(line: &str) -> Option<u8> {
    let bytes = line.as_bytes();
    (bytes.len() >= 3 && bytes[0] == b'<' && bytes[1].is_ascii_digit() && bytes[2] == b'>')
        .then(|| bytes[1] - b'0')
}

#[track_caller]
fn assert_journal(stderr: &str) {
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        assert!(
            priority(line).is_some(),
            "no priority: {line:?} in\n{stderr}"
        );
        assert!(
            !line.contains("Z INFO") && !line.contains("Z WARN"),
            "{line:?}"
        );
    }
}

#[track_caller]
fn assert_plain(stderr: &str) {
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        assert!(priority(line).is_none(), "{line:?} in\n{stderr}");
        assert!(
            line.starts_with("[20"),
            "no timestamp: {line:?} in\n{stderr}"
        );
    }
}

#[test]
fn lines_carry_journal_priorities_when_stderr_is_the_journal() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR one\n");
    let (code, stderr) = run_logged(&sandbox, FAILING_RUN, Stream::Stderr, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_journal(&stderr);
    let find = |fragment: &str| {
        let line = stderr.lines().find(|l| l.contains(fragment));
        line.and_then(priority)
            .unwrap_or_else(|| panic!("no {fragment:?} in\n{stderr}"))
    };
    assert_eq!(find("match: ERROR one"), 6);
    // A failing command is what `journalctl -p warning` must show.
    assert_eq!(find("exited with status 1"), 4);
}

#[test]
fn an_inherited_journal_stream_naming_another_file_is_ignored() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR one\n");
    let (code, stderr) = run_logged(&sandbox, FAILING_RUN, Stream::OtherFile, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_plain(&stderr);
    let (_, stderr) = run_logged(&sandbox, FAILING_RUN, Stream::Unset, &[]);
    assert_plain(&stderr);
}

#[test]
fn log_format_forces_either_format() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR one\n");
    let with = |extra: &[&'static str]| [FAILING_RUN, extra].concat();
    let (_, stderr) = run_logged(
        &sandbox,
        &with(&["--log-format", "journal"]),
        Stream::Unset,
        &[],
    );
    assert_journal(&stderr);
    let (_, stderr) = run_logged(
        &sandbox,
        &with(&["--log-format", "plain"]),
        Stream::Stderr,
        &[],
    );
    assert_plain(&stderr);
    let env = [("LOGS2ECA_LOG_FORMAT", " journal ")];
    let (_, stderr) = run_logged(&sandbox, FAILING_RUN, Stream::OtherFile, &env);
    assert_journal(&stderr);
    // Flag beats environment.
    let (_, stderr) = run_logged(
        &sandbox,
        &with(&["--log-format", "plain"]),
        Stream::Unset,
        &env,
    );
    assert_plain(&stderr);
    // Empty counts as unset: auto.
    let env = [("LOGS2ECA_LOG_FORMAT", "")];
    let (_, stderr) = run_logged(&sandbox, FAILING_RUN, Stream::Stderr, &env);
    assert_journal(&stderr);
}

#[test]
fn a_bad_log_format_is_a_usage_error() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    for (args, env) in [
        (&["--log-format", "syslog"][..], &[][..]),
        (&[][..], &[("LOGS2ECA_LOG_FORMAT", "json")][..]),
    ] {
        let args = [&["--once", "-n", "-l", LOG, "-p", "x"], args].concat();
        let (code, stderr) = run_logged(&sandbox, &args, Stream::Unset, env);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("logs2eca: invalid --log-format"),
            "{stderr}"
        );
    }
}

#[test]
fn errors_at_exit_are_at_error_priority_in_the_journal() {
    let sandbox = Sandbox::new();
    let (code, stderr) = run_logged(
        &sandbox,
        &["--once", "-n", "-l", "logs/missing.log", "-p", "x"],
        Stream::Stderr,
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_journal(&stderr);
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("<3>logs2eca: cannot open"), "{stderr}");

    // Before the settings are even parsed.
    let (code, stderr) = run_logged(&sandbox, &["--nope"], Stream::Stderr, &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("<3>logs2eca: unexpected argument"),
        "{stderr}"
    );
    let (_, stderr) = run_logged(&sandbox, &["--nope"], Stream::OtherFile, &[]);
    assert!(
        stderr.starts_with("logs2eca: unexpected argument"),
        "{stderr}"
    );
}

#[test]
fn no_logged_text_can_start_a_line_of_its_own() {
    let sandbox = Sandbox::new();
    // A file name and a log line, both made to look like journal lines.
    let name = "logs/app\n<3>forged name.log";
    sandbox.write(name, "ERROR one\r<3>forged line\u{1b}[2J\n");
    for format in ["journal", "plain"] {
        let args = [
            "--once",
            "--from-beginning",
            "--log-format",
            format,
            "-l",
            name,
            "-p",
            "ERROR",
            "-c",
            "false",
        ];
        let (code, stderr) = run_logged(&sandbox, &args, Stream::Unset, &[]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!stderr.contains(['\r', '\u{1b}']), "{stderr:?}");
        // Every line is one of ours: four of them, none at error priority.
        assert_eq!(stderr.lines().count(), 4, "{stderr}");
        for line in stderr.lines() {
            match format {
                "journal" => assert!(matches!(priority(line), Some(4 | 6)), "{stderr}"),
                _ => assert!(line.starts_with("[20"), "{stderr}"),
            }
        }
        assert!(
            stderr.contains(r"match: ERROR one\r<3>forged line\x1b[2J -> started"),
            "{stderr}"
        );
        assert!(stderr.contains(r"logs/app\n<3>forged name.log"), "{stderr}");
    }
}
