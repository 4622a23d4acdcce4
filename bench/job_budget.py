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

from shared.config.settings import PipelinesSettings
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.pipeline_statuses import StatusWebhooks
from tests.integration.relay import WEBHOOK_SECRET, Relay, bitbucket_values, push_of, relay
from workers.job_flow import next_look

RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
POLL = 15.0  # pipelines.pollInterval, the old design's only way to see a run end
FALLBACK = 600.0  # pipelines.fallbackPoll
MAX_POLL = 3600.0  # pipelines.maxPollInterval
MAX_FOLLOW = 86400.0  # pipelines.maxFollow
HOURLY = 1000


def polling_calls(duration: float) -> int:
    """Before: trigger, INPROGRESS, one read every 15 s until the end, the final status."""
    return 1 + math.ceil(duration / POLL) + 2


SETTINGS = PipelinesSettings(
    fallback_poll=FALLBACK, poll_interval=POLL, max_poll_interval=MAX_POLL, max_follow=MAX_FOLLOW
)


def fallback_reads(duration: float, *, inprogress_heard: bool, end_heard: bool) -> int:
    """How many times the fallback reads a run of `duration` seconds, by the relay's own
    `next_look`: a read at each look while the job is not final. When the final webhook
    comes the job is final at `duration`, so only the looks before it read; when it does not,
    the looks read up to the first one that finds the run ended (or the maxFollow one)."""
    look, wait, reads = FALLBACK, None, 0
    while look <= MAX_FOLLOW:
        if end_heard and look >= duration:
            return reads
        reads += 1
        if look >= duration:
            return reads
        wait = next_look(wait, look, SETTINGS, statuses_arrive=inprogress_heard)
        look += wait
    return reads


def webhook_calls(duration: float) -> int:
    """Now, status webhooks delivered: trigger, INPROGRESS, final, and the fallback reads made
    while the run still ran."""
    return 3 + fallback_reads(duration, inprogress_heard=True, end_heard=True)


def final_lost_calls(duration: float) -> int:
    """Now, the run's INPROGRESS webhook came but its final one was lost."""
    return 3 + fallback_reads(duration, inprogress_heard=True, end_heard=False)


def no_webhook_calls(duration: float) -> int:
    """Now, no status webhook ever: trigger, INPROGRESS, final, and every fallback read."""
    return 3 + fallback_reads(duration, inprogress_heard=False, end_heard=False)


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
        "\ncomputed per job from the relay's own next_look (pollInterval 15s, fallbackPoll 10m,"
        " maxPollInterval 1h, maxFollow 24h); jobs per hour at 1,000 calls/h in brackets"
    )
    print("run length   before (polling)   webhooks come   final webhook lost   no webhook ever")
    columns = (polling_calls, webhook_calls, final_lost_calls, no_webhook_calls)
    for minutes in (1, 10, 60):
        before, now, final_lost, none = (f(60.0 * minutes) for f in columns)
        print(
            f"{minutes:>4d} min   {before:>5d} ({HOURLY // before:>3d}/h)"
            f"   {now:>7d} ({HOURLY // now}/h)   {final_lost:>9d} ({HOURLY // final_lost}/h)"
            f"   {none:>9d} ({HOURLY // none}/h)"
        )


if __name__ == "__main__":
    main()
