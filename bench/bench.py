#!/usr/bin/env python3
"""The benchmark harness behind bench/run: measures logs2eca side by side
with the tools it replaces, in one run, and prints Markdown tables.

Absolute times on a shared machine are noise, so every comparison is made
in the same run and quoted as a ratio. What is measured (see BENCHMARKS.md):

  scan     --once --from-beginning --dry-run against grep, rg, swatchdog, sec
  latency  write a matching line -> the command runs, against tail|grep and
           against spawning the command directly (the floor)
  ingest   append ~1 GiB with cat while following
  cost     idle context switches and RSS, peak RSS under load
  growth   scan time at 10 MB, 100 MB, 1 GB
  gate     scan with --key and --threshold against without; peak RSS after
           a flood of a million distinct keys
  poll     CPU of polling one idle file at 1 s and 100 ms, and trigger
           latency in poll mode (--poll-only runs just this part)

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
    """logs2eca following a file, started and known to be ready (READY=1)."""

    def __init__(self, tmp, args, stdout=subprocess.DEVNULL, name="daemon"):
        sock_path = os.path.join(tmp, f"{name}.notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        self.sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        self.stderr = open(os.path.join(tmp, f"{name}.stderr"), "w+")
        self.proc = subprocess.Popen([BIN, *args], stdout=stdout, stderr=self.stderr, env=env)
        # READY=1 comes with a STATUS= line.
        while b"READY=1" not in self.sock.recv(4096).split(b"\n"):
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

def make_data(tmp, lines):
    data = os.path.join(tmp, "data.log")
    log(f"generating {lines} lines")
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), data, str(lines)], check=True)
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
                 "min": r["min"]} for r in json.load(f)["results"]]


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

def last_stamp(path, n):
    """The n-th timestamp (1-based) written to path, once it is there."""
    try:
        with open(path) as f:
            lines = f.read().split()
    except FileNotFoundError:
        return None
    return int(lines[n - 1]) if len(lines) >= n else None


class Subject:
    """Something that runs `date +%s%N >> out` when a line is appended."""

    def __init__(self, tmp, name):
        self.log = os.path.join(tmp, f"{name}.log")
        self.out = os.path.join(tmp, f"{name}.stamps")
        open(self.log, "w").close()
        self.fd = os.open(self.log, os.O_WRONLY | os.O_APPEND)
        self.command = f"date +%s%N >> {shlex.quote(self.out)}"
        self.n = 0
        self.delays = []
        self.missed = 0

    def trigger(self):
        """Appends the line; returns the time just before the write."""
        t0 = time.time_ns()
        os.write(self.fd, SAMPLE_LINE)
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
        time.sleep(0.02)  # Let the command exit and be reaped.


class Logs2eca(Subject):
    def __init__(self, tmp):
        super().__init__(tmp, "latency-logs2eca")
        self.daemon = Daemon(tmp, ["-l", self.log, "-p", LITERAL, "-w", "0", "-q",
                                   "-c", f"sh -c {shlex.quote(self.command)}"], name="latency")

    def close(self):
        self.daemon.stop()


class Pipeline(Subject):
    def __init__(self, tmp):
        super().__init__(tmp, "latency-pipeline")
        script = (f"tail -n0 -F {shlex.quote(self.log)} | grep --line-buffered -F {LITERAL} "
                  f"| while read -r l; do sh -c {shlex.quote(self.command)}; done")
        self.proc = subprocess.Popen(["bash", "-c", script], start_new_session=True,
                                     stderr=subprocess.DEVNULL)
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


class Floor(Subject):
    """The command spawned directly right after the write: what no
    follower can beat."""

    def __init__(self, tmp):
        super().__init__(tmp, "latency-floor")

    def trigger(self):
        t0 = super().trigger()
        pid = os.posix_spawn("/bin/sh", ["sh", "-c", self.command], os.environ)
        os.waitpid(pid, 0)
        return t0

    def close(self):
        pass


def bench_latency(tmp, samples):
    subjects = [("floor: spawn after write", Floor(tmp)),
                ("logs2eca -w 0", Logs2eca(tmp)),
                ("tail -F \\| grep \\| while read", Pipeline(tmp))]
    try:
        log(f"latency: {samples} samples each, interleaved")
        for _, s in subjects:
            for _ in range(5):
                s.sample(keep=False)  # Warm up caches and the first exec.
        for _ in range(samples):
            for _, s in subjects:
                s.sample()
    finally:
        for _, s in subjects:
            s.close()
    rows = []
    floor = sorted(subjects[0][1].delays)
    for label, s in subjects:
        d = sorted(s.delays)
        p50, p90, p99 = (percentile(d, p) for p in (50, 90, 99))
        rows.append([label, str(len(d)), str(s.missed), f"{p50:.2f}", f"{p90:.2f}",
                     f"{p99:.2f}", f"{d[-1]:.2f}", f"{p50 - percentile(floor, 50):+.2f}",
                     f"{p99 - percentile(floor, 99):+.2f}"])
    return rows


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


def bench_idle(tmp, seconds=5.0):
    followed = os.path.join(tmp, "idle.log")
    open(followed, "w").close()
    d = Daemon(tmp, ["-l", followed, "-p", LITERAL, "-c", "true"], name="idle")
    time.sleep(0.5)
    before = proc_status(d.pid)
    log(f"cost: {seconds:.0f} s idle")
    time.sleep(seconds)
    after = proc_status(d.pid)
    threads = len(os.listdir(f"/proc/{d.pid}/task"))
    d.stop()
    return {"switches_per_s": (after["switches"] - before["switches"]) / seconds,
            "rss_kib": after["VmRSS"], "anon_kib": after["RssAnon"], "threads": threads}


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


def print_poll(cost, latency):
    print("\n### 7. Polling one file\n")
    print(table(["interval", "idle for", "wake-ups/s", "CPU (stat, ticks)",
                 "CPU (schedstat)", "of one core"], cost))
    print("\nTrigger latency in poll mode, write → command runs (ms), each write at a "
          "random phase of the poll cycle:\n")
    print(table(["interval", "samples", "lost", "mean", "p50", "p90", "p99", "max",
                 "mean / interval"], latency))


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
        f"Linux {platform.release()}",
        "- tools: " + "; ".join([
            first_line([BIN, "--version"]), first_line(["grep", "--version"]),
            first_line(["rg", "--version"]),
            first_line(["swatchdog", "--version"]), first_line(["sec", "-version"]),
            first_line(["tail", "--version"]), first_line(["hyperfine", "--version"]),
            f"Python {platform.python_version()}"]),
    ]


def main():
    global BIN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000,
                        help="lines in the generated log (default 1000000, ~110 MB)")
    parser.add_argument("--runs", type=int, default=10, help="hyperfine runs per fast command")
    parser.add_argument("--samples", type=int, default=200, help="latency samples per subject")
    parser.add_argument("--bin", default=BIN, help="the logs2eca binary (default: the release build)")
    parser.add_argument("--poll-seconds", type=float, default=60,
                        help="idle time measured per poll interval (default 60)")
    parser.add_argument("--poll-only", action="store_true",
                        help="run only the polling part (7.)")
    args = parser.parse_args()
    BIN = os.path.abspath(args.bin)
    # SIGTERM ends the run like Ctrl-C: through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="logs2eca-bench.")
    if args.poll_only:
        try:
            started = time.monotonic()
            poll = bench_poll(tmp, args.poll_seconds, args.samples)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print("\n".join(machine()))
        print_poll(*poll)
        log(f"done in {time.monotonic() - started:.0f} s")
        return
    try:
        started = time.monotonic()
        small, data, big = make_data(tmp, args.lines)
        data_size = os.path.getsize(data)
        scan = bench_scan(tmp, data, args.runs)
        adversarial = bench_adversarial(tmp, args.runs)
        expected = int(scan[0][2].split()[0])
        latency = bench_latency(tmp, args.samples)
        ingest = [bench_ingest(tmp, data, expected, name=f"ingest{i}") for i in range(3)]
        idle = bench_idle(tmp)
        long_line = bench_long_line(tmp)
        growth, fit = bench_growth(tmp, [small, data, big], max(3, args.runs // 2))
        gate = bench_gate(tmp, data, args.runs)
        flood = bench_flood(tmp)
        poll = bench_poll(tmp, args.poll_seconds, args.samples)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    print("\n".join(machine()))
    print(f"- data: {args.lines} generated lines ({data_size / MB:.0f} MB); patterns `{LITERAL}` (literal) and "
          f"`/{REGEX}/` (regex)\n")
    print("### 1. Scan (`--once --from-beginning --dry-run`), "
          f"{args.lines} lines\n")
    print(table(["pattern", "tool", "matches", "median", "sd", "× logs2eca", "× rg"], scan))
    print("\n### 1b. Adversarial regex `/ERROR [^:]*: fatal/`, 3 x 30000 short lines\n")
    print(table(["tool", "median", "sd"], adversarial))
    print("\n### 2. Trigger latency, write → command runs (ms)\n")
    print(table(["subject", "samples", "lost", "p50", "p90", "p99", "max", "p50 − floor",
                 "p99 − floor"],
                latency))
    print("\n### 3. Ingest while following\n")
    print(table(["run", "appended", "cat took", "cat rate", "last trigger after last write",
                 "logs2eca rate", "logs2eca CPU", "matches"],
                [[str(i + 1), f"{r['bytes'] / MB:.0f} MB", fmt_s(r["cat_s"]),
                  f"{r['cat_rate']:.2f} GB/s",
                  "never" if r["lag_s"] is None else f"{r['lag_s'] * 1000:.1f} ms",
                  f"{r['rate']:.2f} GB/s", fmt_s(r["cpu_s"]),
                  f"{r['matches']}/{r['expected']}"] for i, r in enumerate(ingest)]))
    print("\n### 4. Cost\n")
    print(table(["measure", "value"], [
        ["context switches/s while idle (5 s, all threads)", f"{idle['switches_per_s']:.1f}"],
        ["threads", str(idle["threads"])],
        ["RSS idle", mib(idle["rss_kib"])],
        ["of which anonymous (heap, stacks; the rest is the binary and libc)",
         mib(idle["anon_kib"])],
        ["peak RSS, ~1 GB burst (worst of 3)", mib(max(r["hwm_kib"] for r in ingest))],
        ["peak RSS, 200 MB line without newline"
         + ("" if long_line["caught_up"] else " (did not catch up)"),
         mib(long_line["hwm_kib"])],
    ]))
    print("\n### 5. Growth (literal pattern)\n")
    print(table(["file", "logs2eca", "GB/s", "time per byte vs the middle file", "rg -c", "× rg"],
                growth))
    print(f"\nlogs2eca ≈ {fit[0] * 1000:.1f} ms + size / ({fit[1]:.2f} GB/s) "
          "(line through the smallest and largest file)")
    print("\n### 6. Gate (`--key` and `--threshold 1000/3600`)\n")
    print(table(["pattern", "without", "with --key --threshold", "× without"], gate))
    print(f"\nA million distinct keys after a key went on cooldown (default --max-keys): "
          f"peak RSS {mib(flood['hwm_kib'])}, read in {fmt_s(flood['seconds'])}; the cooled key "
          + ("stayed suppressed." if flood["held"] else "was NOT suppressed."))
    print_poll(*poll)
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
