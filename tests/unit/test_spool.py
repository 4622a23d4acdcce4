"""The spool: verified deliveries kept while Redis is down, drained once it is back, never twice."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import fakeredis
from structlog.testing import capture_logs

from bbrelay import check
from receiver import create_app
from receiver.signature import sign
from receiver.spool_drain import SpoolDrainer
from shared.config.settings import SpoolSettings
from shared.deliveries import DeliveryStore
from shared.secret import Secret
from shared.spool import DATA, Spool, SpooledDelivery
from tests.conftest import SIGNED_SECRET, fixture_bytes, make_settings
from tests.recording_enqueuer import RecordingEnqueuer

URL = "/api/webhooks/bitbucket"
BODY = fixture_bytes("cloud/repo-push-signed.json")


def _headers(delivery: str, body: bytes = BODY) -> dict[str, str]:
    return {
        "X-Event-Key": "repo:push",
        "X-Request-UUID": delivery,
        "X-Hub-Signature": sign(Secret(SIGNED_SECRET), body),
        "Content-Type": "application/json",
    }


def _delivery(n: int) -> SpooledDelivery:
    return SpooledDelivery(f"d-{n}", {"X-Event-Key": "repo:push"}, b'{"n": %d}' % n, 100.0 + n)


def test_a_torn_record_is_skipped_with_a_log_line_and_the_others_are_kept(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), 1 << 20)
    spool.append(_delivery(1))
    whole = (tmp_path / DATA).stat().st_size
    spool.append(_delivery(2))
    with open(tmp_path / DATA, "r+b") as file:  # the second write cut short by a crash
        file.truncate(whole + 30)
    spool.append(_delivery(3))
    with capture_logs() as logs:
        read = [delivery for _, delivery in spool.pending()]
    assert read == [_delivery(1), None, _delivery(3)]
    [torn] = [line for line in logs if line["event"] == "spool.torn_record_skipped"]
    assert (torn["offset"], torn["skipped"]) == (whole, 30)
    assert spool.stats(now=110.0).depth == 2


def test_progress_is_durable_and_a_drained_spool_is_emptied(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), 1 << 20)
    for n in range(3):
        spool.append(_delivery(n))
    [(first, _), *_] = spool.pending()
    spool.commit(first)
    again = Spool(str(tmp_path), 1 << 20)  # another process, or this one after a restart
    assert [delivery for _, delivery in again.pending()] == [_delivery(1), _delivery(2)]
    assert again.stats(now=110.0).as_dict() == {
        "depth": 2,
        "bytes": (tmp_path / DATA).stat().st_size - first,
        "oldest_age": 9.0,
    }
    *_, (end, _) = again.pending()
    again.commit(end)
    again.compact()
    assert (tmp_path / DATA).stat().st_size == 0
    assert not again.has_pending()
    assert oct(os.stat(tmp_path / DATA).st_mode & 0o777) == "0o600"


def test_redis_down_spools_and_the_drainer_queues_each_delivery_once(tmp_path: Path) -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    enqueuer = RecordingEnqueuer()
    settings = make_settings(spool_dir=str(tmp_path / "spool"))
    app = create_app(settings, enqueuer=enqueuer, redis_client=client)
    web = app.test_client()
    server.connected = False
    for delivery in ("s-1", "s-2"):
        body = BODY + b" " * int(delivery[-1])  # a body of its own, past the body dedupe
        answer = web.post(URL, data=body, headers=_headers(delivery, body))
        assert (answer.status_code, answer.json) == (
            202,
            {"delivery": delivery, "status": "spooled"},
        )
    ready = web.get("/readyz")
    assert ready.status_code == 200 and ready.json is not None
    assert (ready.json["status"], ready.json["spool"]["depth"]) == ("degraded", 2)
    drainer: SpoolDrainer = app.extensions["bbrelay.drainer"]
    assert drainer.drain() == 0  # Redis still down: nothing taken off
    server.connected = True
    resent = web.post(URL, data=BODY + b" ", headers=_headers("s-1", BODY + b" "))
    assert resent.json == {"delivery": "s-1", "status": "spooled"}  # behind the others
    assert drainer.drain() == 3  # s-1, s-2, and s-1 again: a duplicate
    store = DeliveryStore(client)
    assert [event["delivery_id"] for event, _ in enqueuer.sent] == ["s-1", "s-2"]
    assert (store.get("s-2") or {})["status"] == "queued"
    assert not app.extensions["bbrelay.spool"].has_pending()
    metrics = web.get("/metrics").get_data(as_text=True)
    assert "bbrelay_spool_depth 0.0" in metrics
    assert 'bbrelay_spool_drained_total{outcome="duplicate"}' in metrics
    assert web.get("/readyz").json["status"] == "ready"  # type: ignore[index]


def test_a_full_spool_answers_503_and_releases_the_claim(tmp_path: Path) -> None:
    enqueuer = RecordingEnqueuer()
    settings = make_settings()
    spool = SpoolSettings(dir=str(tmp_path / "spool"), max_bytes=100)
    settings = dataclasses.replace(settings, relay=dataclasses.replace(settings.relay, spool=spool))
    web = create_app(settings, enqueuer=enqueuer, redis_client=fakeredis.FakeRedis()).test_client()
    enqueuer.broken = True
    with capture_logs() as logs:
        full = web.post(URL, data=BODY, headers=_headers("f-1"))
    assert full.status_code == 503
    assert any(line["event"] == "webhook.spool_refused" for line in logs)
    enqueuer.broken = False
    assert web.post(URL, data=BODY, headers=_headers("f-1")).status_code == 202
    assert len(enqueuer.sent) == 1


def test_check_warns_while_deliveries_wait_in_the_spool(tmp_path: Path) -> None:
    settings = make_settings(spool_dir=str(tmp_path))
    checker = check.Checker(settings)
    assert checker.spool().status == "ok"
    Spool(str(tmp_path), 1 << 20).append(_delivery(1))
    line = checker.spool()
    assert (line.status, line.detail.split(" (")[0]) == ("warn", "1 deliveries")
