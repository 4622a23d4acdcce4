"""Dead letters and replay: a job that fails past its retries, replayed once Bitbucket recovers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.deliveries import DeliveryStore
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, fixture, relay

pytestmark = pytest.mark.integration

REPO = "nfalco79/test-repos"
SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        yield bitbucket


def test_a_dead_letter_replayed_after_recovery_runs_one_pipeline_and_one_status_sequence(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    values = bitbucket_values(
        fake,
        pipelines={"enabled": True, "fallbackPoll": "200ms", "pollInterval": "200ms"},
        buildStatus={"contexts": {"ci": "relay/ci"}},
        jobs=[RULE],
    )
    store = DeliveryStore(redis.Redis.from_url(redis_url))
    fake.fail_next(1000, status=502, path="*/pipelines/", method="POST")
    with relay(redis_url, tmp_path, values, env={"BBRELAY_RETRY_BASE_DELAY": "0.01"}) as bbrelay:
        assert (
            bbrelay.deliver(
                "cloud", "repo:push", fixture("cloud", "repo-push-signed.json"), "dl-1"
            ).status_code
            == 202
        )
        wait_until(lambda: (store.get("dl-1") or {}).get("status") == "failed", timeout=60)
        record = store.get("dl-1")
        assert record is not None and record["attempts"] == 9
        assert "BitbucketUnavailable" in record["error"] and "502" in record["error"]
        listed = bbrelay.bbrelay("deliveries", "--failed")
        assert "dl-1" in listed.stdout and "failed" in listed.stdout
        assert fake.statuses(REPO, SHA) == []

        fake.clear_faults()
        replayed = bbrelay.bbrelay("replay", "--all-failed")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed dl-1" in replayed.stdout
        wait_until(lambda: [s["state"] for s in fake.statuses(REPO, SHA)][-1:] == ["SUCCESSFUL"])
        again = bbrelay.bbrelay("replay", "dl-1")
        assert again.returncode == 0
        wait_until(lambda: (store.get("dl-1") or {}).get("replays") == 2)
        wait_until(lambda: (store.get("dl-1") or {}).get("status") == "processed")
        assert bbrelay.bbrelay("deliveries", "--failed").stdout.strip() == "no deliveries failed"

    assert len(fake.triggered()) == 1
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["INPROGRESS", "SUCCESSFUL"]


def test_replaying_an_unknown_delivery_says_so(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    with relay(redis_url, tmp_path, bitbucket_values(fake)) as bbrelay:
        result = bbrelay.bbrelay("replay", "nope")
    assert result.returncode == 1
    assert "no delivery nope" in result.stdout
