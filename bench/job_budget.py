"""Bitbucket calls per pipeline job, now that Pipelines' own status webhooks finish the job.

Runs the real receiver and a Celery worker against the fake Bitbucket, which posts Pipelines'
commit statuses to the relay (signed `repo:commit_status_*` webhooks) when a run starts and when
it ends `--duration` seconds later. Counts every call made for each job except OAuth token
fetches (trigger, statuses, run reads), and prints them beside the polling design's
1 + duration/15 s + 2, and the jobs per hour one consumer carries at 1,000 calls an hour.

Usage: .venv/bin/python -m bbrelay.with_redis -- .venv/bin/python bench/job_budget.py
       [--jobs 20] [--durations 2,6]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.pipeline_statuses import StatusWebhooks
from tests.integration.relay import WEBHOOK_SECRET, Relay, bitbucket_values, push_of, relay

RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
POLL = 15.0  # pipelines.pollInterval, the old design's only way to see a run end
FALLBACK = 600.0  # pipelines.fallbackPoll
MAX_POLL = 3600.0  # pipelines.maxPollInterval
HOURLY = 1000


def polling_calls(duration: float) -> int:
    """Before: trigger, INPROGRESS, one read every 15 s until the end, the final status."""
    return 1 + math.ceil(duration / POLL) + 2


def fallback_looks(duration: float) -> list[float]:
    """Now: when the fallback reads a run of `duration` seconds (10m, then 15 s doubling to the
    cap), up to the first read that finds it ended."""
    looks, wait = [FALLBACK], None
    while looks[-1] < duration:
        wait = POLL if wait is None else min(MAX_POLL, 2 * wait)
        looks.append(looks[-1] + wait)
    return looks


def webhook_calls(duration: float) -> int:
    """Now, status webhooks delivered: trigger, INPROGRESS, final, and the fallback reads made
    while the run still ran (none for a run shorter than fallbackPoll)."""
    return 3 + sum(look < duration for look in fallback_looks(duration))


def no_webhook_calls(duration: float) -> int:
    """Now, no status webhook ever: trigger, INPROGRESS, final, and every fallback read."""
    return 3 + len(fallback_looks(duration))


def measure(redis_url: str, jobs: int, durations: list[float], tmp: Path) -> dict[float, list[int]]:
    """Calls per job for `jobs` pushes whose runs last each of `durations` seconds (one fake
    and one relay for all, so a cached OAuth token stays valid)."""
    with FakeBitbucket("cloud") as fake:
        values = bitbucket_values(
            fake,
            rateLimit={"requestsPerHour": 1_000_000, "burstSize": 100_000},
            pipelines={"enabled": True},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[RULE],
        )
        commits: dict[float, list[str]] = {}
        with relay(redis_url, tmp, values, concurrency=2) as bbrelay:
            fake.status_webhooks = StatusWebhooks(
                f"{bbrelay.url}/api/webhooks/bitbucket", WEBHOOK_SECRET
            )
            for duration in durations:
                fake.pipeline_duration = duration
                commits[duration] = run_jobs(bbrelay, fake, jobs, duration)
            time.sleep(1.0)  # let any late call for these jobs arrive before counting
        runs = {run.uuid: run.commit for run in fake.triggered()}
        per_job: Counter[str] = Counter()
        for request in fake.requests_to("*"):
            if request.path.endswith("/access_token"):
                continue
            per_job[job_of(request.path, request.body, runs)] += 1
    return {duration: [per_job[sha] for sha in shas] for duration, shas in commits.items()}


def run_jobs(bbrelay: Relay, fake: FakeBitbucket, jobs: int, duration: float) -> list[str]:
    """Push `jobs` commits and wait until each job's final status is posted; the commits."""
    shas = [hashlib.sha256(f"{duration}-{n}".encode()).hexdigest()[:40] for n in range(jobs)]
    for n, sha in enumerate(shas):
        bbrelay.deliver("cloud", "repo:push", push_of(sha), f"budget-{duration}-{n}")
    deadline = time.monotonic() + duration + 120
    while time.monotonic() < deadline:
        finals = [s for sha in shas for s in fake.statuses(RULE_REPO, sha)[-1:]]
        if sum(s["state"] == "SUCCESSFUL" for s in finals) == jobs:
            break
        time.sleep(0.2)
    return shas


RULE_REPO = "nfalco79/test-repos"


def job_of(path: str, body: object, runs: dict[str, str | None]) -> str:
    """The commit a call was made for: its status path, its trigger body, or its run."""
    if "/commit/" in path:
        return path.split("/commit/")[1].split("/")[0]
    if path.rstrip("/").endswith("/pipelines") and isinstance(body, dict):
        return str(body["target"]["commit"]["hash"])
    uuid = path.rstrip("/").rsplit("/", 1)[-1]
    return runs.get(uuid) or path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--durations", default="2,6")
    args = parser.parse_args()
    redis_url = os.environ.get("BBRELAY_REDIS_URL")
    if not redis_url:
        sys.exit("run under `python -m bbrelay.with_redis --` (or set BBRELAY_REDIS_URL)")
    print(f"{args.jobs} pipeline jobs per run length; Pipelines' status webhooks on")
    print("measured: run length   calls per job (mean / max)")
    durations = [float(d) for d in args.durations.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure(redis_url, args.jobs, durations, Path(tmp))
    for duration, calls in measured.items():
        print(f"          {duration:>6.0f} s     {statistics.fmean(calls):.2f} / {max(calls)}")
    print(
        "\ncomputed per job (pollInterval 15s, fallbackPoll 10m, maxPollInterval 1h); jobs per"
        " hour at 1,000 calls/h in brackets"
    )
    print("run length   before (polling)   now, webhooks come   now, no webhook ever")
    for minutes in (1, 10, 60):
        duration = 60.0 * minutes
        before, now, lost = (f(duration) for f in (polling_calls, webhook_calls, no_webhook_calls))
        print(
            f"{minutes:>4d} min   {before:>5d} ({HOURLY // before:>3d}/h)"
            f"   {now:>10d} ({HOURLY // now}/h)   {lost:>9d} ({HOURLY // lost}/h)"
        )


if __name__ == "__main__":
    main()
