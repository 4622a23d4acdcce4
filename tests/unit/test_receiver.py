"""The webhook endpoint: every bad input gets a clear answer and nothing is lost or doubled."""

from __future__ import annotations

import io
import json

import fakeredis
import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from structlog.testing import capture_logs

from receiver import NoWebhookSecret, create_app
from receiver.signature import sign
from shared.config.settings import AccessLists, Settings, WebhookSettings
from shared.secret import Secret
from tests.conftest import SIGNED_DIGEST, SIGNED_SECRET, fixture_bytes, make_settings
from tests.recording_enqueuer import RecordingEnqueuer

URL = "/api/webhooks/bitbucket"
SIGNED_BODY = fixture_bytes("cloud/repo-push-signed.json")


def _client(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer, settings: Settings | None = None
) -> FlaskClient:
    app = create_app(
        settings or make_settings(),
        enqueuer=enqueuer,
        redis_client=fakeredis.FakeRedis(server=server),
    )
    return app.test_client()


@pytest.fixture
def client(server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer) -> FlaskClient:
    return _client(server, enqueuer)


def _cloud_headers(
    delivery: str = "d-1", body: bytes = SIGNED_BODY, key: str = "repo:push"
) -> dict[str, str]:
    return {
        "X-Event-Key": key,
        "X-Request-UUID": delivery,
        "X-Hub-Signature": sign(Secret(SIGNED_SECRET), body),
        "Content-Type": "application/json",
    }


def _stored_keys(server: fakeredis.FakeServer) -> int:
    return int(fakeredis.FakeRedis(server=server).dbsize())


def _count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("bbrelay_webhook_deliveries_total", {"outcome": outcome})
    return value or 0.0


def test_accepts_bitbuckets_signed_push_and_enqueues_it_once(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    headers = _cloud_headers() | {"X-Hub-Signature": SIGNED_DIGEST}
    response = client.post(URL, data=SIGNED_BODY, headers=headers)
    assert response.status_code == 202
    assert response.json == {"delivery": "d-1", "status": "queued"}
    [(event, _)] = enqueuer.sent
    assert event["event_key"] == "repo:push"
    assert event["delivery_id"] == "d-1"
    assert event["repository"] == "nfalco79/test-repos"


def test_the_same_delivery_id_again_is_a_duplicate(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-1"))
    again = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-1"))
    assert again.status_code == 200
    assert again.json == {"delivery": "d-1", "status": "duplicate"}
    assert len(enqueuer.sent) == 1


def test_the_same_body_under_a_new_delivery_id_is_a_duplicate(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-1"))
    replay = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-2"))
    assert replay.status_code == 200
    assert replay.json is not None and replay.json["status"] == "duplicate"
    assert len(enqueuer.sent) == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        "sha256=" + "g" * 64,
        "sha1=" + "0" * 40,
        "not-a-signature",
    ],
    ids=["missing", "wrong", "non-hex", "sha1-not-verifying", "malformed"],
)
def test_rejects_unverified_deliveries_with_401_and_stores_nothing(
    server: fakeredis.FakeServer,
    client: FlaskClient,
    enqueuer: RecordingEnqueuer,
    signature: str | None,
) -> None:
    headers = _cloud_headers()
    headers.pop("X-Hub-Signature")
    if signature:
        headers["X-Hub-Signature"] = signature
    before = _count("bad_signature")
    response = client.post(URL, data=SIGNED_BODY, headers=headers)
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "missing or invalid X-Hub-Signature"
    assert response.json["expected"].startswith("X-Hub-Signature: sha256=<hex HMAC-SHA256")
    assert response.json["try"] == "bbrelay send-test-event"
    assert enqueuer.sent == []
    assert _stored_keys(server) == 0
    assert _count("bad_signature") == before + 1


def test_accepts_a_delivery_signed_with_the_rotated_second_secret(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    client = _client(server, enqueuer, make_settings(secrets=("brand-new", SIGNED_SECRET)))
    response = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers())
    assert response.status_code == 202


def test_accepts_sha1_when_it_verifies(client: FlaskClient) -> None:
    headers = _cloud_headers() | {
        "X-Hub-Signature": sign(Secret(SIGNED_SECRET), SIGNED_BODY, "sha1")
    }
    assert client.post(URL, data=SIGNED_BODY, headers=headers).status_code == 202


def test_rejects_a_body_over_256_kib_with_413(
    server: fakeredis.FakeServer, client: FlaskClient
) -> None:
    body = b"{" + b" " * (256 * 1024) + b"}"
    response = client.post(URL, data=body, headers=_cloud_headers(body=body))
    assert response.status_code == 413
    assert _stored_keys(server) == 0


def test_accepts_a_body_of_exactly_the_limit(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    padded = SIGNED_BODY + b" " * (256 * 1024 - len(SIGNED_BODY))
    client = _client(server, enqueuer)
    response = client.post(URL, data=padded, headers=_cloud_headers(body=padded))
    assert response.status_code == 202


def test_broken_json_gets_400_naming_the_body(client: FlaskClient) -> None:
    body = b'{"push": '
    response = client.post(URL, data=body, headers=_cloud_headers(body=body))
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["field"] == "body"
    assert "JSON" in response.json["reason"]


def test_a_payload_without_repository_gets_400_naming_the_field(client: FlaskClient) -> None:
    payload = json.loads(SIGNED_BODY)
    del payload["repository"]
    body = json.dumps(payload).encode()
    response = client.post(URL, data=body, headers=_cloud_headers(body=body))
    assert response.status_code == 400
    assert response.json is not None and response.json["field"] == "repository"


def test_event_key_header_disagreeing_with_the_body_gets_400(client: FlaskClient) -> None:
    body = fixture_bytes("server/pr-opened.json")
    headers = _cloud_headers(body=body, key="pr:merged") | {"X-Request-Id": "s-1"}
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 400
    assert response.json is not None and "eventKey" in json.dumps(response.json)


def test_an_unknown_event_key_is_ignored_with_202(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    headers = _cloud_headers(key="repo:teleported")
    response = client.post(URL, data=SIGNED_BODY, headers=headers)
    assert response.status_code == 202
    assert response.json is not None and response.json["status"] == "ignored"
    assert enqueuer.sent == []


def test_an_unsubscribed_event_is_ignored_with_202(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    settings = make_settings(webhooks=WebhookSettings(events=("pullrequest:created",)))
    response = _client(server, enqueuer, settings).post(
        URL, data=SIGNED_BODY, headers=_cloud_headers()
    )
    assert response.status_code == 202
    assert response.json is not None and response.json["status"] == "ignored"
    assert enqueuer.sent == []


def test_a_blocked_repository_is_filtered_with_202(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    settings = make_settings(repositories=AccessLists(block=("nfalco79/test-*",)))
    response = _client(server, enqueuer, settings).post(
        URL, data=SIGNED_BODY, headers=_cloud_headers()
    )
    assert response.status_code == 202
    assert response.json == {
        "status": "filtered",
        "reason": "nfalco79/test-repos matches 'nfalco79/test-*' in "
        "global.git.bitbucket.repositories.blockList",
    }
    assert enqueuer.sent == []


def test_a_repository_outside_the_allow_list_is_filtered_naming_the_list(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    settings = make_settings(repositories=AccessLists(allow=("acme/data-pipeline",)))
    response = _client(server, enqueuer, settings).post(
        URL, data=SIGNED_BODY, headers=_cloud_headers()
    )
    assert response.json == {
        "status": "filtered",
        "reason": "nfalco79/test-repos is not in global.git.bitbucket.repositories.allowList",
    }


def test_a_workspace_outside_the_allow_list_is_filtered(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    settings = make_settings(workspaces=AccessLists(allow=("partner-*",)))
    response = _client(server, enqueuer, settings).post(
        URL, data=SIGNED_BODY, headers=_cloud_headers()
    )
    assert response.json == {
        "status": "filtered",
        "reason": "nfalco79 is not in global.git.bitbucket.workspaces.allowList",
    }


def test_an_unsigned_server_ping_gets_200_and_enqueues_nothing(
    server: fakeredis.FakeServer, client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    response = client.post(
        URL,
        data=fixture_bytes("server/diagnostics-ping.json"),
        headers={"X-Event-Key": "diagnostics:ping", "X-Request-Id": "ping-1"},
    )
    assert response.status_code == 200
    assert enqueuer.sent == []
    assert _stored_keys(server) == 0


def test_redis_down_gives_503_and_the_same_delivery_is_accepted_once_it_is_back(
    server: fakeredis.FakeServer, client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    server.connected = False
    down = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-9"))
    assert down.status_code == 503
    server.connected = True
    back = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-9"))
    assert back.status_code == 202
    assert len(enqueuer.sent) == 1


def test_broker_refusing_the_task_gives_503_and_releases_the_claim(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    enqueuer.broken = True
    assert client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-5")).status_code == 503
    enqueuer.broken = False
    assert client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-5")).status_code == 202
    assert len(enqueuer.sent) == 1


def test_server_deliveries_use_x_request_id_as_the_delivery_id(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    body = fixture_bytes("server/pr-opened.json")
    headers = _cloud_headers(body=body, key="pr:opened")
    headers.pop("X-Request-UUID")
    headers["X-Request-Id"] = "dc-77"
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 202
    assert enqueuer.sent[0][0]["delivery_id"] == "dc-77"
    assert enqueuer.sent[0][0]["product"] == "server"


def test_logs_bind_the_delivery_and_never_carry_secret_signature_or_body(
    client: FlaskClient,
) -> None:
    with capture_logs() as logs:
        client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-log"))
    [line] = [entry for entry in logs if entry["event"] == "webhook.accepted"]
    text = json.dumps(logs)
    assert SIGNED_SECRET not in text
    assert SIGNED_DIGEST.split("=")[1] not in text
    assert "Test for webhook signature" not in text
    assert line["status"] == 202


def test_the_delivery_record_is_readable_with_a_bearer_token(client: FlaskClient) -> None:
    client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-rec"))
    assert client.get("/api/deliveries/d-rec").status_code == 401
    wrong = client.get("/api/deliveries/d-rec", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = client.get("/api/deliveries/d-rec", headers={"Authorization": "Bearer api-token"})
    assert ok.status_code == 200
    assert ok.json is not None
    assert ok.json["status"] == "queued"
    assert ok.json["event_key"] == "repo:push"
    missing = client.get("/api/deliveries/nope", headers={"Authorization": "Bearer api-token"})
    assert missing.status_code == 404


def test_readyz_reports_redis_and_dry_run(
    server: fakeredis.FakeServer, client: FlaskClient
) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json is not None and ready.json["dry_run"] is True
    server.connected = False
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_metrics_expose_deliveries_by_outcome_and_latency(client: FlaskClient) -> None:
    client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-m"))
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.content_type == CONTENT_TYPE_LATEST
    assert 'bbrelay_webhook_deliveries_total{outcome="accepted"}' in text
    assert 'bbrelay_webhook_deliveries_total{outcome="too_large"}' in text
    assert "bbrelay_webhook_request_duration_seconds_bucket" in text


def test_the_receiver_refuses_to_start_without_a_webhook_secret(fake_redis: redis.Redis) -> None:
    with pytest.raises(NoWebhookSecret, match="BBRELAY_WEBHOOK_SECRET"):
        create_app(make_settings(secrets=()), enqueuer=RecordingEnqueuer(), redis_client=fake_redis)


def test_an_unreadable_rotation_ring_gives_503_not_401(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    client = _client(server, enqueuer, make_settings(secrets=("not-the-one",)))
    server.connected = False
    down = client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-7"))
    assert down.status_code == 503
    assert _count("unavailable") >= 1
    server.connected = True
    assert client.post(URL, data=SIGNED_BODY, headers=_cloud_headers("d-7")).status_code == 401


def test_a_body_the_server_cannot_read_gets_400_and_stores_nothing(
    server: fakeredis.FakeServer, client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    class BrokenChunks(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, _buffer: object) -> int:
            raise ValueError("Invalid chunk size")  # as gunicorn's InvalidChunkSize, not OSError

    environ = {"wsgi.input": io.BufferedReader(BrokenChunks()), "wsgi.input_terminated": True}
    headers = _cloud_headers("d-8") | {"Transfer-Encoding": "chunked"}
    response = client.post(URL, headers=headers, environ_overrides=environ)
    assert response.status_code == 400
    assert response.json == {"error": "the request body could not be read"}
    assert enqueuer.sent == []
    assert _stored_keys(server) == 0
