"""Reliability under faults: the relay as the Procfile runs it, loaded and hurt on purpose.

Each scenario starts its own redis-server (AOF, `appendfsync everysec`), a fake Bitbucket
Cloud, the receiver under gunicorn and two Celery workers, sends signed `repo:push` deliveries
at a fixed rate (one in ten starts a pipeline job) while it injects its faults, then waits for
everything to become final (up to --recovery seconds after the last fault) and counts:

  (a) SIGKILL a worker's pool children, then a whole worker (restarted ~1 s later), in turn
  (b) Redis SIGTERM, later SIGKILL, each down ~3 s, same port and data dir
  (c) SIGKILL gunicorn worker processes (not the arbiter)
  (d) malformed requests (garbage, bad signatures, bad JSON, bad framing, huge headers)

Exits non-zero if any delivery was lost, a pipeline ran twice, a job is not final, a process
died unasked, or an answer was a 5xx other than 503.

Usage: .venv/bin/python bench/chaos.py [--scenario a,b,c,d] [--duration 60] [--rate 50]
           [--recovery 300] [--malformed 1000] [--quick] [--logs DIR]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ would come first on sys.path and bench/receiver.py would shadow the
# `receiver` package.
sys.path[0] = str(ROOT)

from bench.reliability.faults import SCENARIOS, FaultLog, Plan  # noqa: E402
from bench.reliability.push_load import PushLoad  # noqa: E402
from bench.reliability.relay_stack import RelayStack, relay_stack  # noqa: E402
from bench.reliability.tally import (  # noqa: E402
    Snapshot,
    duplicated_pipelines,
    snapshot,
    wait_for_recovery,
)
from shared.jobs.model import FINAL_STATES  # noqa: E402

QUICK = {"duration": 15.0, "rate": 20.0, "recovery": 120.0, "malformed": 100, "interval": 5.0}
FULL = {"duration": 60.0, "rate": 50.0, "recovery": 300.0, "malformed": 1000, "interval": 10.0}


@dataclass
class Outcome:
    """One scenario's column of the table, and which of its failure counts are above zero."""

    name: str
    rows: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, label: str, value: int, *, fails: bool = False) -> None:
        self.rows[label] = str(value)
        if fails and value:
            self.failures.append(f"{label} {value}")


def run_scenario(key: str, args: argparse.Namespace) -> Outcome:
    title, inject = SCENARIOS[key]
    print(f"== ({key}) {title}: {args.rate:g}/s for {args.duration:g} s", flush=True)
    plan = Plan(args.duration, args.interval, args.malformed)
    stopping = threading.Event()
    with tempfile.TemporaryDirectory(prefix=f"bbrelay-chaos-{key}-") as tmp:
        try:
            with relay_stack(Path(tmp)) as stack:
                load = PushLoad(stack.url, args.rate, args.duration, tag=key)
                log = FaultLog()
                load.start()
                try:
                    inject(stack, plan, log, stopping)
                    load.join()
                finally:
                    stopping.set()
                    load.stop()
                    load.join()
                since = max(log.last_at or 0.0, load.ended_at or time.monotonic())
                print(f"  load done; waiting up to {args.recovery:g} s for recovery", flush=True)
                with stack.redis.client() as client:
                    recovered = wait_for_recovery(client, load.sent, since, args.recovery)
                    shot = snapshot(client, load.sent)
                return tally(f"({key}) {title}", stack, load, log, shot, recovered)
        finally:
            if args.logs:
                shutil.copytree(Path(tmp) / "logs", Path(args.logs) / key, dirs_exist_ok=True)


def tally(
    name: str,
    stack: RelayStack,
    load: PushLoad,
    log: FaultLog,
    shot: Snapshot,
    recovered: float | None,
) -> Outcome:
    outcome = Outcome(name)
    queued = [s for s in load.sent if s.queued]
    answers = Counter(s.status for s in load.sent)
    malformed = log.malformed.answers if log.malformed else Counter()
    every = answers + malformed
    outcome.count("sent", len(load.sent))
    outcome.count("accepted (202 queued or spooled)", len(queued))
    outcome.count("no answer", answers[None])
    outcome.count("processed", shot.deliveries["processed"])
    outcome.count("lost", len(queued) - shot.deliveries["processed"], fails=True)
    outcome.count("  of which dead letters", shot.deliveries["failed"])
    outcome.count("pipeline pushes accepted", sum(1 for s in queued if s.pipeline))
    outcome.count("pipelines started", len(stack.bitbucket.triggered()))
    outcome.count(
        "duplicated pipelines", duplicated_pipelines(stack.bitbucket.triggered()), fails=True
    )
    final = sum(n for state, n in shot.jobs.items() if state in FINAL_STATES)
    outcome.count("jobs final", final)
    outcome.count("jobs not final", shot.jobs.total() - final, fails=True)
    outcome.count("jobs missing", shot.jobs_missing, fails=True)
    deaths = [death for process in stack.processes for death in process.deaths]
    outcome.count("worker/web deaths", len(deaths), fails=True)
    outcome.count("503 answers", every[503])
    other = sum(n for status, n in every.items() if status and status >= 500 and status != 503)
    outcome.count("other 5xx", other, fails=True)
    if log.malformed:
        outcome.count("malformed sent", malformed.total())
        outcome.count("malformed 4xx", sum(n for s, n in malformed.items() if s and s < 500))
        outcome.count("malformed no answer", malformed[None])
    if not shot.reachable:
        outcome.failures.append("Redis unreachable at the end")
    outcome.rows["time to recover"] = (
        f"{recovered:.1f} s" if recovered is not None else "not recovered"
    )
    states = ", ".join(f"{state} {n}" for state, n in sorted(shot.jobs.items()))
    outcome.notes = [
        *log.events,
        *(log.malformed.summary() if log.malformed else []),
        f"job states at the end: {states or 'none'}",
        *deaths,
    ]
    return outcome


def print_table(outcomes: list[Outcome]) -> None:
    labels = list(dict.fromkeys(label for o in outcomes for label in o.rows))
    width = max(len(label) for label in labels)
    columns = [max(len(o.name), *(len(v) for v in o.rows.values())) for o in outcomes]
    print()
    print(" " * width + "".join(f"  {o.name:>{w}}" for o, w in zip(outcomes, columns, strict=True)))
    for label in labels:
        cells = (f"  {o.rows.get(label, '-'):>{w}}" for o, w in zip(outcomes, columns, strict=True))
        print(f"{label:<{width}}" + "".join(cells))
    for outcome in outcomes:
        verdict = "; ".join(outcome.failures) if outcome.failures else "ok"
        print(f"{outcome.name}: {verdict}")
        for note in outcome.notes:
            print(f"    {note}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenario", default=",".join(SCENARIOS), help="e.g. a,b")
    parser.add_argument("--duration", type=float, help="seconds of load per scenario (60)")
    parser.add_argument("--rate", type=float, help="signed pushes per second (50)")
    parser.add_argument("--recovery", type=float, help="seconds to wait after the faults (300)")
    parser.add_argument("--malformed", type=int, help="malformed requests in (d) (1000)")
    parser.add_argument("--interval", type=float, help="seconds between kills in (a), (c) (10)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--logs", help="copy each scenario's process logs to this directory")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.scenario.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from a,b,c,d")
    return args


def _terminate(signum: int, _: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the clean-ups


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        outcomes = [run_scenario(key, args) for key in args.scenario.split(",")]
    except KeyboardInterrupt:
        print("interrupted; every process and temporary directory is removed", file=sys.stderr)
        return 128 + signal.SIGINT
    print_table(outcomes)
    return 1 if any(outcome.failures for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
