#!/usr/bin/env python3
"""Writes the benchmark's log file: deterministic (seeded), realistic lines.

The benchmark needs data that looks like a real syslog-style application log
(timestamp, host, program[pid], level, message) so that the regex engines'
prefilters see realistic text, and that is the same on every run so that
results can be compared. Two kinds of line match the benchmark patterns,
a few hundred per million lines each:

  literal  OutOfMemoryError
  regex    ERROR .*connection to [0-9.]+:[0-9]+ timed out

The regex also has near misses: WARN lines with the same "timed out" text.

Usage: gen.py OUT LINES [SEED]
"""
import random
import sys

HOSTS = [f"web-{i:02d}" for i in range(1, 9)] + ["db-01", "db-02", "cache-01", "lb-01"]
PATHS = ["/api/v1/users", "/api/v1/orders", "/api/v1/items", "/static/app.js",
         "/login", "/health", "/api/v2/search", "/metrics"]
USERS = ["alice", "bob", "carol", "deploy", "backup", "root", "www-data", "nagios"]


def ip(r):
    return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def message(r):
    """(program, level, text) for one ordinary line; ~0.03% literal and
    ~0.03% regex matches, ~1% near misses for the regex."""
    x = r.random()
    if x < 0.0003:
        return "app", "ERROR", ("Exception in thread \"worker-%d\" java.lang.OutOfMemoryError: "
                                "Java heap space" % r.randrange(64))
    if x < 0.0006:
        return "app", "ERROR", (f"request {r.getrandbits(32):08x} failed: connection to "
                                f"{ip(r)}:{r.choice([5432, 6379, 8080])} timed out "
                                f"after {r.randrange(1000, 30000)} ms")
    if x < 0.0106:
        return "app", "WARN", (f"connection to {ip(r)}:{r.choice([5432, 6379, 8080])} "
                               f"timed out after {r.randrange(100, 5000)} ms, retrying")
    if x < 0.50:
        status = r.choices([200, 201, 204, 301, 304, 404, 500], [70, 5, 5, 3, 10, 6, 1])[0]
        return "nginx", "INFO", (f"{ip(r)} \"GET {r.choice(PATHS)}/{r.randrange(100000)} "
                                 f"HTTP/1.1\" {status} {r.randrange(100, 90000)} "
                                 f"{r.randrange(1, 900)}ms")
    if x < 0.65:
        return "sshd", "INFO", (f"Accepted publickey for {r.choice(USERS)} from {ip(r)} "
                                f"port {r.randrange(1024, 65536)} ssh2")
    if x < 0.70:
        return "sshd", "WARN", (f"Failed password for {r.choice(USERS)} from {ip(r)} "
                                f"port {r.randrange(1024, 65536)} ssh2")
    if x < 0.85:
        return "postgres", "INFO", (f"duration: {r.randrange(1, 5000) / 10:.1f} ms  statement: "
                                    f"SELECT * FROM orders WHERE id = {r.randrange(10**6)}")
    if x < 0.93:
        return "app", "DEBUG", (f"cache {'hit' if r.random() < 0.8 else 'miss'} for key "
                                f"session:{r.getrandbits(48):012x}")
    if x < 0.98:
        return "CRON", "INFO", f"({r.choice(USERS)}) CMD (/usr/local/bin/rotate --quiet)"
    return "app", "ERROR", (f"payment {r.getrandbits(32):08x} declined: "
                            f"code {r.randrange(1000, 1100)}")


def main():
    out, lines = sys.argv[1], int(sys.argv[2])
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    pids = {}
    t = 1_710_403_200_000  # 2024-03-14T08:00:00Z in ms; lines are ~5 ms apart
    with open(out, "w", buffering=1 << 20) as f:
        for _ in range(lines):
            t += r.randrange(10)
            program, level, text = message(r)
            host = r.choice(HOSTS)
            pid = pids.setdefault((host, program), r.randrange(300, 40000))
            s, ms = divmod(t, 1000)
            day, s = divmod(s - 1_710_374_400, 86400)  # seconds since 2024-03-14T00:00Z
            f.write(f"2024-03-{14 + day:02d}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
                    f".{ms:03d}Z {host} {program}[{pid}]: {level} {text}\n")


if __name__ == "__main__":
    main()
