#!/usr/bin/env python3
"""The background writer of the latency-under-load benchmark: appends whole
lines of SOURCE to TARGET at a steady RATE (MB/s), until it is terminated.

Latency under load means a follower that has other lines to read when the
line that matters arrives. The lines are taken from the generated log (none
of them contains the benchmark's trigger tags) and written in blocks of about
64 KiB that end at a line end, so that a trigger line appended by the harness
in between is always a line of its own. Pacing is by the clock: a block is
written when the bytes written so far are due, so a late block is followed by
the next one at once, and the average rate holds.

Usage: load.py SOURCE TARGET RATE_MB_S
"""
import os
import signal
import sys
import time

BLOCK = 64 << 10
SOURCE_BYTES = 32 << 20  # cycled: enough to look like a log, little memory


def blocks(source):
    with open(source, "rb") as f:
        data = f.read(SOURCE_BYTES)
    data = data[: data.rfind(b"\n") + 1]
    view = memoryview(data)
    out, start = [], 0
    while start < len(data):
        end = data.find(b"\n", min(start + BLOCK, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        out.append(view[start:end])
        start = end
    return out


def main():
    source, target, rate = sys.argv[1], sys.argv[2], float(sys.argv[3]) * 1e6
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    chunks = blocks(source)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    written = 0
    started = time.monotonic()
    while True:
        for chunk in chunks:
            due = started + written / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            written += os.write(fd, chunk)


if __name__ == "__main__":
    main()
