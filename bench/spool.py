"""What one spooled delivery costs: µs per append (with its fsync) and per drained record.

Prints, for `--count` appends of the signed push fixture (about 14 KB) into a spool in `--dir`
(default: a temporary directory; point it at the disk the relay's varDir is on, since the figure
is mostly that disk's fsync):
- append: median and p99 µs per delivery, and fsyncs per delivery (one for the record; the
  directory once, when the file is created);
- the same append without fsync, so the fsync's share shows;
- drain bookkeeping: µs per record to read it back and record progress (one fsync each), the
  intake's own Redis work not included.

Usage: .venv/bin/python bench/spool.py [--dir DIR] [--count N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from shared.spool import Spool, SpooledDelivery

BODY = (
    Path(__file__).parents[1] / "tests/fixtures/bitbucket/cloud/repo-push-signed.json"
).read_bytes()


def appends(directory: str, count: int) -> list[float]:
    spool = Spool(directory, 1 << 40)
    headers = {"X-Event-Key": "repo:push", "X-Request-UUID": "{0}"}
    took = []
    for n in range(count):
        delivery = SpooledDelivery(f"bench-{n}", headers, BODY, time.time())
        start = time.perf_counter()
        spool.append(delivery)
        took.append((time.perf_counter() - start) * 1e6)
    return took


def drains(directory: str) -> tuple[int, float]:
    spool = Spool(directory, 1 << 40)
    start = time.perf_counter()
    records = 0
    for next_offset, _delivery in spool.pending():
        spool.commit(next_offset)
        records += 1
    return records, (time.perf_counter() - start) * 1e6


def describe(label: str, took: list[float]) -> str:
    p99 = statistics.quantiles(took, n=100)[98]
    return f"{label:<22} median {statistics.median(took):8.1f} µs   p99 {p99:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to make the spools (default: a temporary directory)")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        fsyncs = 0
        real_fsync = os.fsync

        def counted(fd: int) -> None:
            nonlocal fsyncs
            fsyncs += 1
            real_fsync(fd)

        with mock.patch("os.fsync", counted):
            synced = appends(os.path.join(root, "synced"), args.count)
        unsynced_calls = appends_without_fsync(os.path.join(root, "unsynced"), args.count)
        records, drain_us = drains(os.path.join(root, "synced"))
    where = args.dir or tempfile.gettempdir()
    print(f"spool in {where}, {args.count} deliveries of {len(BODY)} bytes")
    print(describe("append + fsync", synced))
    print(f"{'fsyncs per delivery':<22} {fsyncs / args.count:.3f}")
    print(describe("append, no fsync", unsynced_calls))
    print(f"{'drain bookkeeping':<22} {drain_us / records:8.1f} µs per record (1 fsync each)")


def appends_without_fsync(directory: str, count: int) -> list[float]:
    with mock.patch("os.fsync", lambda fd: None):
        return appends(directory, count)


if __name__ == "__main__":
    main()
