"""The chaos suite's tally: what counts as lost, not final, missing and duplicated."""

from __future__ import annotations

import redis

from bench.reliability.push_load import Sent
from bench.reliability.relay_stack import RULE_NAME
from bench.reliability.tally import REPOSITORY, duplicated_pipelines, snapshot
from shared.deliveries import DeliveryStore
from shared.jobs.model import JobRequest
from shared.jobs.planning import job_id
from shared.jobs.store import JobStore
from tests.conftest import SEALER
from tests.fakes.bitbucket_server import PipelineRun


def _accepted(store: DeliveryStore, delivery_id: str, commit: str, pipeline: bool) -> Sent:
    store.claim(delivery_id, f"sha-{delivery_id}", b"{}", {})
    return Sent(delivery_id, commit, pipeline, status=202, queued=True)


def _job(jobs: JobStore, commit: str) -> str:
    the_id = job_id(RULE_NAME, REPOSITORY, commit)
    request = JobRequest(
        the_id, RULE_NAME, "pipeline", "ci", "cloud", REPOSITORY, commit, None, None, "x", "d"
    )
    jobs.create(request)
    return the_id


def test_an_accepted_delivery_not_processed_and_a_job_not_final_keep_it_unsettled(
    fake_redis: redis.Redis[bytes],
) -> None:
    deliveries, jobs = DeliveryStore(fake_redis), JobStore(fake_redis, SEALER)
    sent = [
        _accepted(deliveries, "done", "a" * 40, pipeline=False),
        _accepted(deliveries, "stuck", "b" * 40, pipeline=False),
        _accepted(deliveries, "job-pending", "c" * 40, pipeline=True),
        _accepted(deliveries, "job-missing", "d" * 40, pipeline=True),
        Sent("refused", "e" * 40, pipeline=False, status=503),
    ]
    for delivery_id in ("done", "job-pending", "job-missing"):
        deliveries.advance(delivery_id, "processed")
    pending = _job(jobs, "c" * 40)

    shot = snapshot(fake_redis, sent)
    assert shot.deliveries == {"processed": 3, "queued": 1}
    assert (shot.jobs, shot.jobs_missing, shot.settled) == ({"PENDING": 1}, 1, False)

    deliveries.advance("stuck", "processed")
    jobs.advance(pending, "SUCCESSFUL")
    _job(jobs, "d" * 40)
    assert snapshot(fake_redis, sent).settled is False  # the late job is still PENDING
    jobs.advance(job_id(RULE_NAME, REPOSITORY, "d" * 40), "FAILED")
    assert snapshot(fake_redis, sent).settled is True


def test_only_a_second_run_of_one_commit_and_selector_is_a_duplicate() -> None:
    def run(n: int, commit: str, pattern: str) -> PipelineRun:
        target = {"commit": {"hash": commit}, "selector": {"type": "custom", "pattern": pattern}}
        return PipelineRun(f"{{{n}}}", n, REPOSITORY, {"target": target})

    runs = [
        run(1, "a" * 40, "x"),
        run(2, "a" * 40, "x"),
        run(3, "a" * 40, "y"),
        run(4, "b" * 40, "x"),
    ]
    assert duplicated_pipelines(runs) == 1
    assert duplicated_pipelines([*runs, run(5, "a" * 40, "x")]) == 2
