#!/usr/bin/env python3
"""The benchmark harness behind bench/run: measures logs2eca side by side
with the tools it replaces, in one run, and prints Markdown tables.

Absolute times on a shared machine are noise, so every comparison is made
in the same run and quoted as a ratio. What is measured (see BENCHMARKS.md):

  scan         --once --from-beginning --dry-run against grep, rg, swatchdog,
               sec
  adversarial  a regex whose class could run over line ends
  latency      write a matching line -> the command runs, against the dash
               pipeline tail|grep|while read and against spawning the command
               directly (the floor); then the same with 100 MB/s of other
               lines appended meanwhile
  state        the same latency with and without --state-file
  metrics      the same latency with and without --metrics-file, and the
               scan with and without it (and, with --before BIN, against a
               binary without the counters)
  catchup      ~1 GB appended while stopped: start -> last line processed,
               with a state file
  ingest       append ~1 GiB with cat while following
  cost         idle context switches and RSS, peak RSS under load
  growth       scan time at 10 MB, 100 MB, 1 GB
  gate         scan with --key and --threshold against without; peak RSS
               after a flood of a million distinct keys
  poll         CPU of polling one idle file at 1 s and 100 ms, and trigger
               latency in poll mode (--poll-only: just this section)
  journal      the journal (--journal-directory on a journal of generated
               entries): entries per second against journalctl --output=json
               alone, idle wake-ups of logs2eca and its journalctl, RSS
  time         scan with --time auto (each matching line's timestamp read)
               against --time arrival, where 1 % and 100 % of lines match

`--only latency,state,catchup` runs just those sections.

Standard library only. Temporary data lives in one temp directory that is
removed at the end, also on Ctrl-C.
"""
import argparse
import datetime
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "target", "release", "logs2eca")
LITERAL = "OutOfMemoryError"
REGEX = "ERROR .*connection to [0-9.]+:[0-9]+ timed out"
# A line that matches LITERAL, as the latency samples append it.
SAMPLE_LINE = (b"2024-03-14T09:15:00.000Z web-01 app[4242]: ERROR Exception in thread "
               b"\"worker-7\" java.lang.OutOfMemoryError: Java heap space\n")
MB = 1_000_000
# Every process started in a session of its own: Ctrl-C in the terminal
# does not reach them, so the cleanup at the end stops those still running.
SESSIONS = []


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers

def proc_status(pid):
    """VmRSS, RssAnon, VmHWM (KiB) and context switches summed over all
    threads. RSS counts the pages of the binary and libc that the process
    touched (shared with the page cache); RssAnon is its own memory."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                fields[key] = int(value.split()[0])
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                        switches += int(line.split()[1])
        except FileNotFoundError:
            pass
    fields["switches"] = switches
    return fields


def smaps_rollup(pid):
    """Pss, Private_Clean and Private_Dirty (KiB): RSS counts every page of
    libc the process maps, though all processes share them; PSS divides a
    shared page among its users, and the private pages are this process's
    alone. The three are the memory a daemon costs, seen three ways."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Pss", "Private_Clean", "Private_Dirty"):
                fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bytes_read(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(next(l for l in f if l.startswith("rchar:")).split()[1])


def wait_for(predicate, timeout, step=0.0005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


class Daemon:
    """logs2eca following a file, started and known to be ready (READY=1),
    unless `ready` is false."""

    def __init__(self, tmp, args, stdout=subprocess.DEVNULL, name="daemon", ready=True):
        sock_path = os.path.join(tmp, f"{name}.notify")
        if os.path.exists(sock_path):  # The same name, used again.
            os.unlink(sock_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        self.sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        self.stderr = open(os.path.join(tmp, f"{name}.stderr"), "w+")
        self.started = time.monotonic()
        # A session of its own, as under a service manager: with the
        # scheduler's autogroups, a busy machine shares the CPU between
        # sessions first, so a contender that shared the harness's session
        # would share its slice with the harness and the background writer.
        self.proc = subprocess.Popen([BIN, *args], stdout=stdout, stderr=self.stderr, env=env,
                                     start_new_session=True)
        SESSIONS.append(self.proc)
        # READY=1 may come with a STATUS= line in the same datagram.
        while ready and b"READY=1" not in self.sock.recv(256).split(b"\n"):
            pass
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.sock.close()
        self.stderr.seek(0)
        return self.stderr.read()


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[k]


def fmt_s(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


# ---------------------------------------------------------------- data

def make_data(tmp, lines, sizes=True):
    """The generated log; with `sizes`, also its first tenth and ten copies
    of it (for the growth section)."""
    data = os.path.join(tmp, "data.log")
    log(f"generating {lines} lines")
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), data, str(lines)], check=True)
    if not sizes:
        return None, data, None
    small = os.path.join(tmp, "small.log")  # the first tenth
    with open(data, "rb") as src, open(small, "wb") as dst:
        for _, line in zip(range(lines // 10), src):
            dst.write(line)
    big = os.path.join(tmp, "big.log")  # ten copies
    with open(big, "wb") as dst:
        subprocess.run(["cat"] + [data] * 10, stdout=dst, check=True)
    return small, data, big


# ---------------------------------------------------------------- 1. scan

def scan_commands(tmp, data, name, pattern):
    """(label, argv, count-argv, how to count its output) for each tool."""
    swatch_conf = os.path.join(tmp, f"swatch-{name}.conf")
    with open(swatch_conf, "w") as f:
        f.write(f"watchfor /{pattern}/\n  echo normal\n")
    sec_conf = os.path.join(tmp, f"sec-{name}.conf")
    with open(sec_conf, "w") as f:
        f.write(f"type=Single\nptype=RegExp\npattern={pattern}\ndesc=match\n"
                "action=write - $0\n")
    l2e_pattern = pattern if name == "literal" else f"/{pattern}/"
    grep_mode = "-F" if name == "literal" else "-E"
    rg_mode = ["-F"] if name == "literal" else []
    # Each tool prints the matching lines or their count; a count is
    # checked, so that every tool is seen doing the same work.
    return [
        ("logs2eca", [BIN, "--once", "--from-beginning", "--dry-run", "-q", "-l", data,
                      "-p", l2e_pattern], "lines"),
        ("grep -c", ["grep", grep_mode, "-c", pattern, data], "count"),
        ("rg -c", ["rg", *rg_mode, "-c", pattern, data], "count"),
        ("swatchdog --examine", ["swatchdog", f"--config-file={swatch_conf}",
                                 f"--script-dir={tmp}", f"--examine={data}"], "dated"),
        ("sec -notail", ["sec", f"-conf={sec_conf}", f"-input={data}", "-notail",
                         "-log=/dev/null"], "dated"),
    ]


def count_matches(argv, how):
    out = subprocess.run(argv, check=True, capture_output=True, text=True,
                         errors="replace").stdout
    if how == "count":
        return int(out.strip())
    if how == "lines":
        return len(out.splitlines())
    return sum(1 for l in out.splitlines() if l.startswith("2024-"))  # swatchdog's banner


def hyperfine(tmp, commands, runs, warmup):
    """Median, mean and sd (s) per command, in one hyperfine invocation."""
    out = os.path.join(tmp, "hyperfine.json")
    # --output=pipe: GNU grep stops at the first match when its stdout is
    # /dev/null (hyperfine's default), even with -c. --ignore-failure: grep
    # and rg exit 1 when a small --lines leaves no match; the counts were
    # checked before.
    argv = ["hyperfine", "-N", "--output=pipe", "--ignore-failure", "--style", "none",
            "--runs", str(runs), "--warmup", str(warmup), "--export-json", out]
    subprocess.run(argv + [shlex.join(c) for c in commands], check=True,
                   stdout=subprocess.DEVNULL)
    with open(out) as f:
        return [{"median": r["median"], "mean": r["mean"], "sd": r["stddev"] or 0.0,
                 "min": r["min"], "cpu": r["user"] + r["system"]}
                for r in json.load(f)["results"]]


def bench_scan(tmp, data, runs):
    rows = []
    for name, pattern in [("literal", LITERAL), ("regex", REGEX)]:
        commands = scan_commands(tmp, data, name, pattern)
        log(f"scan ({name}): counting matches")
        counts = [count_matches(argv, how) for _, argv, how in commands]
        log(f"scan ({name}): timing")
        fast = hyperfine(tmp, [c[1] for c in commands[:3]], runs, 2)
        slow = hyperfine(tmp, [c[1] for c in commands[3:]], max(2, runs // 5), 0)
        base = fast[0]["median"]
        rg = fast[2]["median"]
        for (label, _, _), count, t in zip(commands, counts, fast + slow):
            # A tool that finds another number of lines did other work.
            shown = str(count) if count == counts[1] else f"{count} (grep: {counts[1]})"
            rows.append([name, label, shown, fmt_s(t["median"]),
                         f"± {fmt_s(t['sd'])}", f"{t['median'] / base:.2f}",
                         f"{t['median'] / rg:.2f}"])
        if len(set(counts)) != 1:
            log(f"WARNING: the tools disagree on the number of matches: {counts}")
    return rows


def bench_adversarial(tmp, runs):
    """A regex whose class could run over line ends (`[^:]*`), on 3 x 30,000
    short lines that each start a match: linear matching keeps it in the
    class of grep and rg (it took 35 s when a match could span lines)."""
    data = os.path.join(tmp, "adversarial.log")
    with open(data, "wb") as f:
        f.write(b"ERROR a\nb\nc d\n" * 30_000 + b"ERROR x: fatal\n")
    pattern = "ERROR [^:]*: fatal"
    commands = [
        [BIN, "--once", "--dry-run", "-q", "-l", data, "-p", f"/{pattern}/"],
        ["grep", "-E", "-c", pattern, data],
        ["rg", "-c", pattern, data],
    ]
    times = hyperfine(tmp, commands, runs, 1)
    return [[label, fmt_s(t["median"]), f"± {fmt_s(t['sd'])}"]
            for label, t in zip(["logs2eca", "grep -c", "rg -c"], times)]


# ---------------------------------------------------------------- 2. latency

# The line the latency samples append, followed by the subject's tag: each
# subject matches only its own tag, so subjects can share a file.
SAMPLE_PREFIX = (b"2024-03-14T09:15:00.000Z web-01 app[4242]: ERROR Exception in thread "
                 b"\"worker-7\" java.lang.OutOfMemoryError: Java heap space ")
# Between two samples of one subject: the command exits and is reaped.
SETTLE = 0.02


def last_stamp(path, n):
    """The n-th timestamp (1-based) written to path, once it is there."""
    try:
        with open(path) as f:
            lines = f.read().split()
    except FileNotFoundError:
        return None
    return int(lines[n - 1]) if len(lines) >= n else None


class Subject:
    """Something that runs `sh -c 'date +%s%N >> STAMPS'` when a line with
    its tag is appended to its log (its own file, unless `log` is given)."""

    def __init__(self, tmp, name, log=None):
        self.tag = f"trigger-{name}"
        self.line = SAMPLE_PREFIX + f"[{self.tag}]\n".encode()
        self.log = log or os.path.join(tmp, f"{name}.log")
        if log is None:
            open(self.log, "w").close()
        self.out = os.path.join(tmp, f"{name}.stamps")
        self.fd = os.open(self.log, os.O_WRONLY | os.O_APPEND)
        self.command = f"date +%s%N >> {shlex.quote(self.out)}"
        self.n = 0
        self.delays = []
        self.missed = 0

    def trigger(self):
        """Appends the line; returns the time just before the write."""
        t0 = time.time_ns()
        os.write(self.fd, self.line)
        return t0

    def sample(self, keep=True):
        self.n += 1
        t0 = self.trigger()
        stamp = wait_for(lambda: last_stamp(self.out, self.n), 2.0)
        if stamp is None:  # Lost (the previous command still ran): resync.
            self.missed += 1
            time.sleep(0.2)
            with open(self.out) as f:
                self.n = len(f.read().split())
            return
        if keep:
            self.delays.append((stamp - t0) / 1e6)
        time.sleep(SETTLE)

    def close(self):
        os.close(self.fd)


class Logs2eca(Subject):
    def __init__(self, tmp, name, log=None, extra=()):
        super().__init__(tmp, name, log)
        self.daemon = Daemon(tmp, ["-l", self.log, "-p", self.tag, "-w", "0", "-q", *extra,
                                   "-c", f"sh -c {shlex.quote(self.command)}"], name=name)

    def close(self):
        self.daemon.stop()
        super().close()


class Pipeline(Subject):
    """The shell pipeline logs2eca replaces, run by dash (Debian's /bin/sh)."""

    def __init__(self, tmp, name, log=None):
        super().__init__(tmp, name, log)
        script = (f"tail -n0 -F {shlex.quote(self.log)} | grep --line-buffered -F {self.tag} "
                  f"| while read -r l; do sh -c {shlex.quote(self.command)}; done")
        self.proc = subprocess.Popen(["dash", "-c", script], start_new_session=True,
                                     stderr=subprocess.DEVNULL)
        SESSIONS.append(self.proc)
        # tail says nothing when it is ready: poke it until a line comes out.
        for _ in range(50):
            self.trigger()
            if wait_for(lambda: last_stamp(self.out, 1), 0.1):
                break
        time.sleep(0.2)
        with open(self.out) as f:
            self.n = len(f.read().split())

    def close(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)
        super().close()


class Floor(Subject):
    """The command spawned directly right after the write: what no
    follower can beat."""

    def trigger(self):
        t0 = super().trigger()
        # In the harness's session, which waits meanwhile: as a follower's
        # command shares its idle follower's session. (A session of its own
        # for every command is worse, not better, on a busy machine: each
        # new session is a new scheduling group with no load history.)
        pid = os.posix_spawn("/bin/sh", ["sh", "-c", self.command], os.environ)
        os.waitpid(pid, 0)
        return t0


class Load:
    """bench/load.py appending lines of `source` to `target` at `rate` MB/s."""

    def __init__(self, source, target, rate):
        self.target = target
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "load.py"), source,
                                      target, str(rate)], start_new_session=True)
        SESSIONS.append(self.proc)
        time.sleep(1.0)  # Past its start-up, into its pace.
        self.size, self.at = os.path.getsize(target), time.monotonic()

    def stop(self):
        """Stops it; the rate it achieved since it was up to pace (MB/s)."""
        size, at = os.path.getsize(self.target), time.monotonic()
        self.proc.terminate()
        self.proc.wait(10)
        return (size - self.size) / (at - self.at) / MB


def sample_interleaved(subjects, samples):
    """One sample of each subject in turn; the order rotates every round,
    so that no subject always comes right after the same other one."""
    for s in subjects:
        for _ in range(5):
            s.sample(keep=False)  # Warm up caches and the first exec.
    for i in range(samples):
        k = i % len(subjects)
        for s in subjects[k:] + subjects[:k]:
            s.sample()


def latency_rows(labelled, reference):
    """Percentiles per subject, and their difference to subject `reference`."""
    ref = sorted(labelled[reference][1].delays)
    rows, stats = [], {}
    for label, s in labelled:
        d = sorted(s.delays)
        if not d:
            rows.append([label, "0", str(s.missed)] + ["-"] * 6)
            continue
        p50, p90, p99 = (percentile(d, p) for p in (50, 90, 99))
        stats[label] = (p50, p99)
        rows.append([label, str(len(d)), str(s.missed), f"{p50:.2f}", f"{p90:.2f}",
                     f"{p99:.2f}", f"{d[-1]:.2f}", f"{p50 - percentile(ref, 50):+.2f}",
                     f"{p99 - percentile(ref, 99):+.2f}"])
    return rows, stats


def bench_latency(tmp, samples, source=None, rate=0):
    """logs2eca against the dash pipeline and the floor. With a rate, a
    background writer appends that many MB/s of non-matching lines to the
    one file both followers read, so both have the same load."""
    name = "load" if rate else "latency"
    shared = None
    if rate:
        shared = os.path.join(tmp, f"{name}.log")
        open(shared, "w").close()
    labelled = []
    load = None
    achieved = None
    try:
        labelled.append(("floor: spawn after write", Floor(tmp, f"{name}-floor")))
        labelled.append(("logs2eca -w 0", Logs2eca(tmp, f"{name}-logs2eca", shared)))
        labelled.append(("dash: tail -F \\| grep \\| while read",
                         Pipeline(tmp, f"{name}-pipeline", shared)))
        if rate:
            log(f"latency: background writer at {rate} MB/s")
            load = Load(source, shared, rate)
        log(f"latency{' under load' if rate else ''}: {samples} samples each, interleaved")
        sample_interleaved([s for _, s in labelled], samples)
        if load:
            achieved = load.stop()
            load = None
    finally:
        if load:
            load.stop()
        for _, s in labelled:
            s.close()
        if shared:
            os.unlink(shared)
    rows, stats = latency_rows(labelled, 2)
    return rows, stats, achieved


def bench_state_latency(tmp, samples):
    """logs2eca with and without a state file, against each other."""
    state = os.path.join(tmp, "state-latency.json")
    labelled = []
    try:
        labelled.append(("floor: spawn after write", Floor(tmp, "state-floor")))
        labelled.append(("logs2eca -w 0", Logs2eca(tmp, "state-without")))
        labelled.append(("logs2eca -w 0 --state-file", Logs2eca(tmp, "state-with",
                                                                 extra=["--state-file", state])))
        log(f"state: {samples} samples each, interleaved")
        sample_interleaved([s for _, s in labelled], samples)
    finally:
        for _, s in labelled:
            s.close()
    rows, stats = latency_rows(labelled, 1)
    return rows, stats


# ---------------------------------------------------------------- catch-up

def bench_catchup(tmp, data, expected_per_copy, copies=10, warm_runs=3):
    """logs2eca with a state file is stopped, ~1 GB is appended, and it is
    started again: the time from its start until it printed the last line
    (-n; a unique matching line at the end). The appended bytes were just
    written, so they are in the page cache ("warm"); one more run drops
    them from the cache first (fsync, then POSIX_FADV_DONTNEED), so the
    file is read from the disk ("cold")."""
    results = []
    for run in range(warm_runs + 1):
        cold = run == warm_runs
        followed = os.path.join(tmp, "catchup.log")
        state = os.path.join(tmp, "catchup.state.json")
        out_path = os.path.join(tmp, "catchup.out")
        open(followed, "w").close()
        args = ["-n", "-q", "-l", followed, "-p", LITERAL, "--state-file", state]
        Daemon(tmp, args, name="catchup-before").stop()
        if not os.path.exists(state):
            raise SystemExit("catch-up: no state file after SIGTERM")
        end = f"{LITERAL} catch-up ends here {run}".encode()
        log(f"catch-up: appending {copies} copies of the data while stopped"
            + (" (cold)" if cold else ""))
        with open(followed, "ab") as dst:
            subprocess.run(["cat"] + [data] * copies, stdout=dst, check=True)
            dst.write(end + b"\n")
            if cold:
                dst.flush()
                os.fsync(dst.fileno())
                os.posix_fadvise(dst.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        size = os.path.getsize(followed)
        with open(out_path, "wb") as out:
            d = Daemon(tmp, args, stdout=out, name="catchup", ready=False)
        t0 = d.started

        def ended():
            try:
                with open(out_path, "rb") as f:
                    f.seek(max(0, os.fstat(f.fileno()).st_size - 200))
                    return end in f.read()
            except FileNotFoundError:
                return False

        done = wait_for(ended, 120, step=0.001)
        took = time.monotonic() - t0
        cpu = cpu_seconds(d.pid)
        d.stop()
        with open(out_path, "rb") as f:
            got = f.read().count(b"\n")
        results.append({"cold": cold, "bytes": size, "seconds": took if done else None,
                        "cpu_s": cpu, "matches": got, "expected": expected_per_copy * copies + 1})
        for path in (followed, state, out_path):
            os.unlink(path)
    return results


# ---------------------------------------------------------------- 3. ingest, 4. cost

def bench_ingest(tmp, data, expected_per_copy, copies=10, name="ingest"):
    """Follows a file while cat appends `copies` copies of data to it."""
    followed = os.path.join(tmp, f"{name}.log")
    out_path = os.path.join(tmp, f"{name}.out")
    open(followed, "w").close()
    with open(out_path, "w") as out:
        d = Daemon(tmp, ["-n", "-q", "-l", followed, "-p", LITERAL], stdout=out, name=name)
    expected = expected_per_copy * copies
    size = os.path.getsize(data) * copies
    cpu0 = cpu_seconds(d.pid)
    log(f"ingest: appending {size / MB:.0f} MB with cat")
    with open(followed, "ab") as dst:
        t0 = time.monotonic()
        subprocess.run(["cat"] + [data] * copies, stdout=dst, check=True)
        t1 = time.monotonic()

    def all_out():
        with open(out_path, "rb") as f:
            return f.read().count(b"\n") >= expected

    done = wait_for(all_out, 120)
    t2 = time.monotonic()
    status = proc_status(d.pid)
    cpu = cpu_seconds(d.pid) - cpu0
    d.stop()
    with open(out_path, "rb") as f:
        got = f.read().count(b"\n")
    os.unlink(followed)
    return {
        "bytes": size, "cat_s": t1 - t0, "lag_s": t2 - t1 if done else None,
        "rate": size / (t2 - t0) / 1e9, "cat_rate": size / (t1 - t0) / 1e9,
        "matches": got, "expected": expected, "hwm_kib": status["VmHWM"], "cpu_s": cpu,
    }


def bench_idle(tmp, seconds=5.0, triggers=5):
    """An idle daemon's wake-ups and memory, then its memory once more after
    a few triggers: the code of a match, a spawn and a reap is mapped again
    after start-up's pages were given back (the working set of a daemon
    that has run for a while)."""
    followed = os.path.join(tmp, "idle.log")
    marks = os.path.join(tmp, "idle.marks")
    open(followed, "w").close()
    open(marks, "w").close()
    d = Daemon(tmp, ["-l", followed, "-p", LITERAL, "-w", "0",
                     "-c", f"sh -c {shlex.quote(f'echo >> {marks}')}"], name="idle")
    time.sleep(0.5)
    before = proc_status(d.pid)
    log(f"cost: {seconds:.0f} s idle")
    time.sleep(seconds)
    after = proc_status(d.pid)
    threads = len(os.listdir(f"/proc/{d.pid}/task"))
    shared = smaps_rollup(d.pid)
    for i in range(triggers):
        with open(followed, "a") as f:
            f.write(f"{LITERAL} {i}\n")
        wait_for(lambda: os.path.getsize(marks) > i, 10)
    time.sleep(1.0)
    worked = proc_status(d.pid)
    worked_shared = smaps_rollup(d.pid)
    d.stop()
    return {"switches_per_s": (after["switches"] - before["switches"]) / seconds,
            "rss_kib": after["VmRSS"], "anon_kib": after["RssAnon"], "threads": threads,
            "pss_kib": shared["Pss"],
            "private_kib": shared["Private_Clean"] + shared["Private_Dirty"],
            "triggers": triggers, "worked_rss_kib": worked["VmRSS"],
            "worked_pss_kib": worked_shared["Pss"]}


def bench_long_line(tmp, size=200 * MB):
    followed = os.path.join(tmp, "longline.log")
    open(followed, "w").close()
    d = Daemon(tmp, ["-n", "-q", "-l", followed, "-p", LITERAL], name="longline")
    log(f"cost: a {size // MB} MB line without a newline")
    start = bytes_read(d.pid)
    chunk = b"x" * (1 << 20)
    with open(followed, "ab") as f:
        for _ in range(size // len(chunk)):
            f.write(chunk)
    written = size // len(chunk) * len(chunk)
    caught_up = wait_for(lambda: bytes_read(d.pid) - start >= written, 60, step=0.01)
    status = proc_status(d.pid)
    d.stop()
    return {"hwm_kib": status["VmHWM"], "caught_up": bool(caught_up)}


# ---------------------------------------------------------------- 6. gate

# Every line of gen.py has a host after its timestamp: a key on every line.
EVERY_LINE = r"^\S+ (?P<host>\S+) "
REGEX_KEYED = "ERROR .*connection to (?P<ip>[0-9.]+):[0-9]+ timed out"


def bench_gate(tmp, data, runs):
    """Scan time with --key and --threshold against the same scan without,
    for a pattern that matches every line (the gate's worst case) and for
    the sparse regex (the usual case)."""
    rows = []
    gate = ["--threshold", "1000/3600"]
    for name, pattern, key in [("every line", EVERY_LINE, "host"), ("regex", REGEX_KEYED, "ip")]:
        base = [BIN, "--once", "--from-beginning", "-n", "-q", "-l", data, "-p", f"/{pattern}/"]
        log(f"gate ({name}): timing")
        plain, keyed = hyperfine(tmp, [base, base + ["--key", key] + gate], runs, 1)
        rows.append([name, fmt_s(plain["median"]), fmt_s(keyed["median"]),
                     f"{keyed['median'] / plain['median']:.2f}"])
    return rows


# ~1 % of the generated lines: the regex's matches and its near misses.
ONE_PERCENT = "timed out"


def bench_time(tmp, data, runs):
    """Scan time with the lines' timestamps read (--time auto, the default)
    against their arrival (--time arrival, nothing read), for a pattern
    that matches ~1 % of the lines and one that matches every line. A
    cooldown keeps the output small and the gate busy (-w 1m). The CPU time
    (user + system, mean) is quoted too: on a shared machine it is steadier
    than the wall-clock median."""
    rows = []
    for name, pattern in [("1 %", ONE_PERCENT), ("100 %", f"/{EVERY_LINE}/")]:
        base = [BIN, "--once", "--from-beginning", "-n", "-q", "-w", "1m", "-l", data,
                "-p", pattern]
        log(f"time ({name}): timing")
        arrival, auto = hyperfine(tmp, [base + ["--time", "arrival"], base + ["--time", "auto"]],
                                  runs, 1)
        rows.append([name, fmt_s(arrival["median"]), fmt_s(auto["median"]),
                     f"{auto['median'] / arrival['median']:.2f}", fmt_s(arrival["cpu"]),
                     fmt_s(auto["cpu"]), f"{auto['cpu'] / arrival['cpu']:.2f}"])
    return rows


def bench_flood(tmp, keys=1_000_000):
    """A daemon with a key on cooldown takes a million lines of distinct
    keys: its peak RSS, and whether the cooled key is still suppressed."""
    followed = os.path.join(tmp, "flood.log")
    runs = os.path.join(tmp, "flood.runs")
    open(followed, "w").close()
    record = f"sh -c 'echo \"$LOGS2ECA_KEY\" >> {shlex.quote(runs)}'"
    d = Daemon(tmp, ["-q", "-l", followed, "-p", "/from (?P<ip>\\S+)/", "--key", "ip",
                     "--threshold", "2/3600", "-w", "3600", "-c", record], name="flood")
    with open(followed, "a") as f:
        f.write("from hot\nfrom hot\n")
    wait_for(lambda: os.path.exists(runs), 10, step=0.01)
    log(f"gate: a flood of {keys} keys")
    started = time.monotonic()
    with open(followed, "a") as f:
        for n in range(keys):
            f.write(f"from 10.{n >> 16}.{(n >> 8) & 255}.{n & 255}\n")
        f.write("from hot\nfrom hot\nfrom sentinel\nfrom sentinel\n")
    seen = wait_for(lambda: "sentinel" in open(runs).read(), 120, step=0.01)
    took = time.monotonic() - started
    status = proc_status(d.pid)
    d.stop()
    with open(runs) as f:
        held = f.read().split() == ["hot", "sentinel"]
    return {"hwm_kib": status["VmHWM"], "seconds": took, "held": bool(seen) and held}


# ---------------------------------------------------------------- 5. growth

def bench_growth(tmp, files, runs):
    rows = []
    commands, sizes = [], []
    for path in files:
        sizes.append(os.path.getsize(path))
        commands.append([BIN, "--once", "--from-beginning", "--dry-run", "-q", "-l", path,
                         "-p", LITERAL])
        commands.append(["rg", "-F", "-c", LITERAL, path])
    log("growth: timing scans at three sizes")
    times = hyperfine(tmp, commands, runs, 1)
    per_byte_mid = times[2]["median"] / sizes[1]
    # A straight line through the smallest and largest file: fixed start-up
    # cost plus a rate.
    slope = (times[4]["median"] - times[0]["median"]) / (sizes[2] - sizes[0])
    fit = (times[0]["median"] - slope * sizes[0], 1 / slope / 1e9)
    for i, size in enumerate(sizes):
        l2e, rg = times[2 * i], times[2 * i + 1]
        rows.append([f"{size / MB:.0f} MB", fmt_s(l2e["median"]),
                     f"{size / l2e['median'] / 1e9:.2f}",
                     f"{l2e['median'] / size / per_byte_mid:.2f}", fmt_s(rg["median"]),
                     f"{l2e['median'] / rg['median']:.2f}"])
    return rows, fit


# ---------------------------------------------------------------- 7. poll

def cpu_ns(pid):
    """Time on a CPU in nanoseconds, all threads (schedstat): /proc/PID/stat
    counts in clock ticks (10 ms), too coarse for a process that runs for
    microseconds a second."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            pass
    return total


def bench_poll_cost(tmp, interval, seconds):
    """An idle file followed with --poll INTERVAL: CPU and wake-ups."""
    followed = os.path.join(tmp, f"poll-{interval}.log")
    with open(followed, "w") as f:
        f.write("one line already there\n")
    d = Daemon(tmp, ["-q", "-l", followed, "-p", LITERAL, "-c", "true", "--poll", interval],
               name=f"poll-{interval}")
    time.sleep(0.5)
    log(f"poll: {seconds:.0f} s idle at --poll {interval}")
    t0, ticks0, ns0 = time.monotonic(), cpu_seconds(d.pid), cpu_ns(d.pid)
    switches0 = proc_status(d.pid)["switches"]
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    ticks, ns = cpu_seconds(d.pid) - ticks0, cpu_ns(d.pid) - ns0
    switches = proc_status(d.pid)["switches"] - switches0
    d.stop()
    return [f"`--poll {interval}`", f"{seconds:.0f} s", f"{switches / elapsed:.1f}",
            f"{ticks * 1000:.0f} ms", f"{ns / 1e6:.2f} ms", f"{ns / 1e9 / elapsed * 100:.4f}%"]


class PollingLogs2eca(Subject):
    """logs2eca with --poll: a write is seen at the next look."""

    def __init__(self, tmp, interval, seconds):
        name = f"latency-poll-{interval}"
        super().__init__(tmp, name)
        self.seconds = seconds
        self.daemon = Daemon(tmp, ["-l", self.log, "-p", LITERAL, "-w", "0", "-q", "--poll",
                                   interval, "-c", f"sh -c {shlex.quote(self.command)}"],
                             name=name)

    def sample(self, keep=True):
        # Each sample would otherwise start at the same phase of the poll
        # cycle (right after the look that ran the previous command).
        time.sleep(random.uniform(0, self.seconds))
        super().sample(keep)

    def close(self):
        self.daemon.stop()


def bench_poll_latency(tmp, interval, seconds, samples):
    s = PollingLogs2eca(tmp, interval, seconds)
    try:
        log(f"poll: {samples} latency samples at --poll {interval}")
        s.sample(keep=False)
        for _ in range(samples):
            s.sample()
    finally:
        s.close()
    d = sorted(s.delays)
    p50, p90, p99 = (percentile(d, p) for p in (50, 90, 99))
    mean = sum(d) / len(d)
    return [f"`--poll {interval}`", str(len(d)), str(s.missed), f"{mean:.1f}", f"{p50:.1f}",
            f"{p90:.1f}", f"{p99:.1f}", f"{d[-1]:.1f}",
            f"{mean / (seconds * 1000):.2f}"]


def bench_poll(tmp, seconds, samples):
    cost = [bench_poll_cost(tmp, interval, seconds) for interval in ("1s", "100ms")]
    latency = [bench_poll_latency(tmp, "1s", 1.0, max(10, samples // 10)),
               bench_poll_latency(tmp, "100ms", 0.1, samples)]
    return cost, latency


# ---------------------------------------------------------------- report

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def first_line(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs ({model}), {mem} MiB RAM, "
        f"Linux {platform.release()}; load average {os.getloadavg()[0]:.2f} at the end",
        "- tools: " + "; ".join([
            first_line([BIN, "--version"]), first_line(["grep", "--version"]),
            first_line(["rg", "--version"]),
            first_line(["swatchdog", "--version"]), first_line(["sec", "-version"]),
            first_line(["tail", "--version"]), first_line(["hyperfine", "--version"]),
            first_line(["dpkg-query", "-W", "-f=dash ${Version}\n", "dash"]),
            f"Python {platform.python_version()}"]),
    ]


def stop_sessions():
    """SIGTERM to the process group of each session still running, then
    SIGKILL to those still there after 10 s."""
    running = [p for p in SESSIONS if p.poll() is None]
    for p in running:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in running:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


LATENCY_HEADER = ["subject", "samples", "lost", "p50", "p90", "p99", "max"]

def bench_metrics_latency(tmp, samples):
    """logs2eca with and without a metrics file, against each other."""
    metrics = os.path.join(tmp, "latency.prom")
    labelled = []
    try:
        labelled.append(("floor: spawn after write", Floor(tmp, "metrics-floor")))
        labelled.append(("logs2eca -w 0", Logs2eca(tmp, "metrics-without")))
        labelled.append(("logs2eca -w 0 --metrics-file",
                         Logs2eca(tmp, "metrics-with", extra=["--metrics-file", metrics])))
        log(f"metrics: {samples} samples each, interleaved")
        sample_interleaved([s for _, s in labelled], samples)
    finally:
        for _, s in labelled:
            s.close()
    rows, stats = latency_rows(labelled, 1)
    return rows, stats


def bench_metrics_scan(tmp, data, runs, before=None):
    """The literal scan with and without --metrics-file (the counters are
    kept either way), and with the binary `before` the counters, if given."""
    metrics = os.path.join(tmp, "scan.prom")
    scan = ["--once", "--from-beginning", "--dry-run", "-q", "-l", data, "-p", LITERAL]
    commands = [("logs2eca", [BIN, *scan]),
                ("logs2eca --metrics-file", [BIN, *scan, "--metrics-file", metrics])]
    if before:
        commands.append(("before the counters", [before, *scan]))
    log("metrics: scan timing")
    times = hyperfine(tmp, [argv for _, argv in commands], runs, 2)
    base = times[0]["median"]
    return [[label, fmt_s(t["median"]), f"± {fmt_s(t['sd'])}", f"{t['median'] / base:.3f}"]
            for (label, _), t in zip(commands, times)]


# The sections, in the order they run; --only picks some.
SECTIONS = ["scan", "adversarial", "latency", "state", "metrics", "catchup", "ingest", "cost",
            "growth", "gate", "poll", "time", "journal"]


JOURNAL_REMOTE = next((p for p in ("/lib/systemd/systemd-journal-remote",
                                   "/usr/lib/systemd/systemd-journal-remote")
                       if os.path.exists(p)), None)


def make_journal(tmp, entries):
    """A journal of `entries` sshd-like entries with the fields journald
    gives them, written by systemd-journal-remote from export-format text."""
    directory = os.path.join(tmp, "journal")
    os.makedirs(directory, exist_ok=True)
    log(f"journal: writing {entries} entries with systemd-journal-remote")
    writer = subprocess.Popen([JOURNAL_REMOTE, f"--output={directory}/bench.journal", "-"],
                              stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    t0 = 1_700_000_000_000_000
    chunk = []
    for i in range(entries):
        t = t0 + i * 100
        chunk.append(
            f"__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={i * 100}\n"
            f"_BOOT_ID=11111111111111111111111111111111\n"
            f"_MACHINE_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=bench\n"
            f"_SYSTEMD_UNIT=ssh.service\nSYSLOG_IDENTIFIER=sshd\n_PID={1000 + i % 5000}\n"
            f"PRIORITY=6\n_SOURCE_REALTIME_TIMESTAMP={t - 7}\n"
            # The other fields journald gives an entry of a service's
            # syslog message: an entry has two dozen.
            f"_TRANSPORT=syslog\nSYSLOG_FACILITY=10\nSYSLOG_PID={1000 + i % 5000}\n"
            f"SYSLOG_TIMESTAMP=Nov 14 22:13:20 \n_UID=0\n_GID=0\n_COMM=sshd\n"
            f"_EXE=/usr/sbin/sshd\n_CMDLINE=sshd: unknown [priv]\n_CAP_EFFECTIVE=1ffffffffff\n"
            f"_SELINUX_CONTEXT=unconfined\n_SYSTEMD_CGROUP=/system.slice/ssh.service\n"
            f"_SYSTEMD_SLICE=system.slice\n"
            f"_SYSTEMD_INVOCATION_ID=4b1c6f3e1a2b4c5d8e9f0a1b2c3d4e5f\n"
            f"MESSAGE=Failed password for invalid user u{i % 977} from "
            f"10.{i % 256}.{i // 256 % 256}.7 port {i % 65536} ssh2\n\n")
        if len(chunk) == 10_000:
            writer.stdin.write("".join(chunk).encode())
            chunk = []
    writer.stdin.write("".join(chunk).encode())
    writer.stdin.close()
    if writer.wait() != 0:
        raise SystemExit("systemd-journal-remote failed")
    return directory


def timed_run(argv):
    """Wall time and CPU seconds (the process and its children) of one run."""
    before = os.times()
    start = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system
                                                          - before.children_system)
    return wall, cpu


def bench_journal(tmp, entries, runs):
    directory = make_journal(tmp, entries)
    subjects = [
        ("journalctl --merge --directory D --output=json >/dev/null",
         ["journalctl", "--merge", "--directory", directory, "--output=json"]),
        ("logs2eca --once -n --journal-directory D -p NOMATCH",
         [BIN, "--once", "-n", "-q", "--journal-directory", directory, "-p", "NOMATCH"]),
        ("logs2eca --once -n --journal-directory D -p '/invalid user (\\w+) from/'",
         [BIN, "--once", "-n", "-q", "--journal-directory", directory,
          "-p", "/invalid user (\\w+) from/"]),
    ]
    rows = []
    reference = None
    for label, argv in subjects:
        log(f"journal: {runs} runs of {label}")
        results = sorted(timed_run(argv) for _ in range(runs))
        wall, cpu = results[len(results) // 2]
        rate = entries / wall
        reference = reference or rate
        rows.append([label, fmt_s(wall), f"{cpu:.2f} s", f"{rate:,.0f}",
                     f"{rate / reference:.2f}"])
    # Idle: following, nothing new.
    d = Daemon(tmp, ["--journal-directory", directory, "-n", "-p", "NOMATCH"],
               name="journal-idle")
    children = open(f"/proc/{d.pid}/task/{d.pid}/children").read().split()
    pids = [d.pid] + [int(c) for c in children]
    time.sleep(1)
    before = {pid: proc_status(pid) for pid in pids}
    seconds = 5.0
    log(f"journal: {seconds:.0f} s idle")
    time.sleep(seconds)
    after = {pid: proc_status(pid) for pid in pids}
    d.stop()
    idle = [[("logs2eca" if pid == d.pid else "its journalctl"),
             f"{(after[pid]['switches'] - before[pid]['switches']) / seconds:.1f}",
             f"{after[pid]['VmRSS'] / 1024:.1f} MiB"] for pid in pids]
    return rows, idle


def main():
    global BIN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000,
                        help="lines in the generated log (default 1000000, ~110 MB)")
    parser.add_argument("--runs", type=int, default=10, help="hyperfine runs per fast command")
    parser.add_argument("--samples", type=int, default=200,
                        help="latency samples per subject (default 200)")
    parser.add_argument("--load-rate", type=float, default=100,
                        help="MB/s appended in the background for latency under load "
                             "(default 100; 0: skip that table)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: all of "
                             f"{','.join(SECTIONS)})")
    parser.add_argument("--bin", default=BIN, help="the logs2eca binary (default: the release build)")
    parser.add_argument("--before", default=None,
                        help="metrics: a logs2eca binary without the counters, to scan against")
    parser.add_argument("--poll-seconds", type=float, default=60,
                        help="idle time measured per poll interval (default 60)")
    parser.add_argument("--journal-entries", type=int, default=1_000_000,
                        help="entries in the generated journal (default 1000000)")
    parser.add_argument("--poll-only", action="store_true",
                        help="run only the polling part (7.); the same as --only poll")
    args = parser.parse_args()
    BIN = os.path.abspath(args.bin)
    only = ["poll"] if args.poll_only else [s for s in args.only.split(",") if s]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    want = set(only)
    if "journal" in want and (JOURNAL_REMOTE is None or shutil.which("journalctl") is None):
        log("journal: skipped (needs journalctl and systemd-journal-remote)")
        want.discard("journal")
    # SIGTERM ends the run like Ctrl-C: through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="logs2eca-bench.")
    out = []  # Markdown, printed at the end so that the log stays apart.
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    started = time.monotonic()
    try:
        needs_data = want & {"scan", "latency", "metrics", "catchup", "ingest", "growth", "gate",
                             "time"}
        small, data, big = make_data(tmp, args.lines, "growth" in want) if needs_data else (None,) * 3
        data_size = os.path.getsize(data) if data else 0
        expected = None
        if data and want & {"catchup", "ingest"}:
            expected = count_matches([BIN, "--once", "--dry-run", "-q", "-l", data,
                                      "-p", LITERAL], "lines")
        ingest = []

        if "scan" in want:
            scan = bench_scan(tmp, data, args.runs)
            out.append(f"### 1. Scan (`--once --from-beginning --dry-run`), {args.lines} lines\n")
            out.append(table(["pattern", "tool", "matches", "median", "sd", "× logs2eca", "× rg"],
                             scan))
        if "adversarial" in want:
            adversarial = bench_adversarial(tmp, args.runs)
            out.append("### 1b. Adversarial regex `/ERROR [^:]*: fatal/`, 3 x 30000 short lines\n")
            out.append(table(["tool", "median", "sd"], adversarial))
        if "latency" in want:
            header = LATENCY_HEADER + ["p50 − dash", "p99 − dash"]
            rows, stats, _ = bench_latency(tmp, args.samples)
            out.append("### 2. Trigger latency, write → command runs (ms)\n")
            out.append(table(header, rows))
            if args.load_rate:
                rows, stats, rate = bench_latency(tmp, args.samples, data, args.load_rate)
                out.append(f"### 2b. Trigger latency with {args.load_rate:g} MB/s of other lines "
                           "appended meanwhile (ms)\n")
                out.append(table(header, rows))
                out.append(f"\nBackground writer: {rate:.1f} MB/s achieved (asked "
                           f"{args.load_rate:g}), whole lines in ~64 KiB writes, to the file "
                           "both followers read.")
        if "state" in want:
            rows, stats = bench_state_latency(tmp, args.samples)
            out.append("### 2c. Trigger latency with and without a state file (ms)\n")
            out.append(table(LATENCY_HEADER + ["p50 − without", "p99 − without"], rows))
        if "metrics" in want:
            rows, stats = bench_metrics_latency(tmp, args.samples)
            out.append("### 2d. Trigger latency with and without a metrics file (ms)\n")
            out.append(table(LATENCY_HEADER + ["p50 − without", "p99 − without"], rows))
            rows = bench_metrics_scan(tmp, data, args.runs,
                                      args.before and os.path.abspath(args.before))
            out.append(f"### 1c. Scan with and without a metrics file, {args.lines} lines\n")
            out.append(table(["binary", "median", "sd", "× logs2eca"], rows))
        if "catchup" in want:
            catchup = bench_catchup(tmp, data, expected)
            out.append("### 3b. Catch-up after downtime (`--state-file`, -n)\n")
            out.append(table(
                ["run", "page cache", "appended while stopped", "start → last line", "rate",
                 "logs2eca CPU", "matches"],
                [[str(i + 1), "cold" if r["cold"] else "warm", f"{r['bytes'] / MB:.0f} MB",
                  "never" if r["seconds"] is None else fmt_s(r["seconds"]),
                  "-" if r["seconds"] is None else f"{r['bytes'] / r['seconds'] / 1e9:.2f} GB/s",
                  fmt_s(r["cpu_s"]), f"{r['matches']}/{r['expected']}"]
                 for i, r in enumerate(catchup)]))
        if "ingest" in want:
            ingest = [bench_ingest(tmp, data, expected, name=f"ingest{i}") for i in range(3)]
            out.append("### 3. Ingest while following\n")
            out.append(table(
                ["run", "appended", "cat took", "cat rate", "last trigger after last write",
                 "logs2eca rate", "logs2eca CPU", "matches"],
                [[str(i + 1), f"{r['bytes'] / MB:.0f} MB", fmt_s(r["cat_s"]),
                  f"{r['cat_rate']:.2f} GB/s",
                  "never" if r["lag_s"] is None else f"{r['lag_s'] * 1000:.1f} ms",
                  f"{r['rate']:.2f} GB/s", fmt_s(r["cpu_s"]),
                  f"{r['matches']}/{r['expected']}"] for i, r in enumerate(ingest)]))
        if "cost" in want:
            idle = bench_idle(tmp)
            long_line = bench_long_line(tmp)
            rows = [
                ["context switches/s while idle (5 s, all threads)",
                 f"{idle['switches_per_s']:.1f}"],
                ["threads", str(idle["threads"])],
                ["RSS idle", mib(idle["rss_kib"])],
                ["of which anonymous (heap, stacks; the rest is the binary and libc)",
                 mib(idle["anon_kib"])],
                ["PSS idle (shared pages divided among their users)", mib(idle["pss_kib"])],
                ["private pages idle (not shared with any process)",
                 mib(idle["private_kib"])],
                [f"RSS idle after {idle['triggers']} triggers", mib(idle["worked_rss_kib"])],
                [f"PSS idle after {idle['triggers']} triggers", mib(idle["worked_pss_kib"])],
            ]
            if ingest:
                rows.append(["peak RSS, ~1 GB burst (worst of 3)",
                             mib(max(r["hwm_kib"] for r in ingest))])
            rows.append(["peak RSS, 200 MB line without newline"
                         + ("" if long_line["caught_up"] else " (did not catch up)"),
                         mib(long_line["hwm_kib"])])
            out.append("### 4. Cost\n")
            out.append(table(["measure", "value"], rows))
        if "growth" in want:
            growth, fit = bench_growth(tmp, [small, data, big], max(3, args.runs // 2))
            out.append("### 5. Growth (literal pattern)\n")
            out.append(table(["file", "logs2eca", "GB/s", "time per byte vs the middle file",
                              "rg -c", "× rg"], growth))
            out.append(f"\nlogs2eca ≈ {fit[0] * 1000:.1f} ms + size / ({fit[1]:.2f} GB/s) "
                       "(line through the smallest and largest file)")
        if "gate" in want:
            gate = bench_gate(tmp, data, args.runs)
            flood = bench_flood(tmp)
            out.append("### 6. Gate (`--key` and `--threshold 1000/3600`)\n")
            out.append(table(["pattern", "without", "with --key --threshold", "× without"], gate))
            out.append(f"\nA million distinct keys after a key went on cooldown (default "
                       f"--max-keys): peak RSS {mib(flood['hwm_kib'])}, read in "
                       f"{fmt_s(flood['seconds'])}; the cooled key "
                       + ("stayed suppressed." if flood["held"] else "was NOT suppressed."))
        if "time" in want:
            rows = bench_time(tmp, data, args.runs)
            out.append("### 8. The lines' own time (`--time auto` against `--time arrival`)\n")
            out.append(table(["lines matching", "arrival: median", "auto: median", "×",
                              "arrival: CPU", "auto: CPU", "× CPU"], rows))
        if "poll" in want:
            cost, latency = bench_poll(tmp, args.poll_seconds, args.samples)
            out.append("### 7. Polling one file\n")
            out.append(table(["interval", "idle for", "wake-ups/s", "CPU (stat, ticks)",
                              "CPU (schedstat)", "of one core"], cost))
            out.append("\nTrigger latency in poll mode, write → command runs (ms), each write "
                       "at a random phase of the poll cycle:\n")
            out.append(table(["interval", "samples", "lost", "mean", "p50", "p90", "p99", "max",
                              "mean / interval"], latency))
        if "journal" in want:
            rows, idle = bench_journal(tmp, args.journal_entries, min(args.runs, 3))
            out.append(f"### 9. The journal, {args.journal_entries} entries "
                       "(`--journal-directory`)\n")
            out.append(table(["command", "median wall", "CPU (with children)", "entries/s",
                              "× journalctl"], rows))
            out.append("\nIdle, following the same journal (nothing new):\n")
            out.append(table(["process", "wake-ups/s", "RSS"], idle))
    finally:
        stop_sessions()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(machine()))
    if data_size:
        print(f"- data: {args.lines} generated lines ({data_size / MB:.0f} MB); patterns "
              f"`{LITERAL}` (literal) and `/{REGEX}/` (regex)")
    print(f"- sections: {','.join(s for s in SECTIONS if s in want)}")
    for block in out:
        print(("\n" if block.startswith("###") else "") + block)
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
