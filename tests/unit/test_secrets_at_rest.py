"""Secrets the relay keeps in Redis are sealed: a scan after a realistic flow finds none."""

from __future__ import annotations

import dataclasses

import fakeredis
import httpx
import redis

from receiver import create_app
from shared.bitbucket.factory import build_client
from shared.bitbucket.models import BuildStatus
from shared.config.settings import Consumer, DataChangeTrigger, PipelinesSettings
from shared.jobs.store import JobStore
from shared.secret import Secret
from shared.webhook_secrets import SecretRing
from tests.conftest import SEALER, make_settings
from tests.recording_enqueuer import RecordingEnqueuer

CLIENT_SECRET = "consumer-secret-0123456789abcdef"
ACCESS_TOKEN = "access-token-from-bitbucket-0123456789"
API_TOKEN = "api-token-0123456789abcdefghijkl"
WEBHOOK_SECRET = "configured-webhook-secret-0123456789"
ROTATED_SECRET = "rotated-webhook-secret-0123456789"
CONFIGURED_VARIABLE = "configured-variable-value-0123456789"
REQUEST_VARIABLE = "request-variable-value-0123456789"
SHA = "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e"


def _bitbucket(request: httpx.Request) -> httpx.Response:
    """Cloud's token endpoint (a client-credentials grant) and a build status it accepts."""
    if request.url.path.endswith("/access_token"):
        return httpx.Response(
            200,
            json={
                "access_token": ACCESS_TOKEN,
                "scopes": "repository:write pipeline:write",
                "expires_in": 7200,
                "refresh_token": "refresh-token-0123456789abcdef",
                "token_type": "bearer",
                "state": "client_credentials",
            },
        )
    return httpx.Response(201, json={"state": "INPROGRESS"})


def _everything_stored(client: redis.Redis[bytes]) -> bytes:
    """Every key, field, member and value in the Redis, whatever its type."""
    parts: list[bytes] = []
    for key in client.scan_iter():
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"zset":
            parts += client.zrange(key, 0, -1)
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"set":
            parts += list(client.smembers(key))
        else:
            raise AssertionError(f"a {kind!r} at {key!r}: teach this scan to read it")
    return b"\n".join(parts)


def test_no_configured_secret_or_token_is_found_in_redis_after_a_realistic_flow() -> None:
    client = fakeredis.FakeRedis()
    settings = make_settings(
        secrets=(WEBHOOK_SECRET,),
        consumers=(Consumer("client-1", Secret(CLIENT_SECRET)),),
        pipelines=PipelinesSettings(
            enabled=True,
            data_change=DataChangeTrigger(
                enabled=True,
                branch="main",
                variables={"STUDIO_TOKEN": CONFIGURED_VARIABLE},
                allowed_variables=("DATASET",),
            ),
        ),
    )
    settings = dataclasses.replace(
        settings, relay=dataclasses.replace(settings.relay, api_tokens=(Secret(API_TOKEN),))
    )
    bitbucket = build_client(
        settings.bitbucket, client, SEALER, transport=httpx.MockTransport(_bitbucket)
    )
    bitbucket.post_build_status(
        "ws/data", SHA, BuildStatus("INPROGRESS", "ci", "Data", "https://studio/jobs/1")
    )
    SecretRing(client, SEALER).add(ROTATED_SECRET)  # what `bbrelay hooks rotate-secret` keeps
    app = create_app(settings, enqueuer=RecordingEnqueuer(), redis_client=client)
    answer = app.test_client().post(
        "/api/triggers/data-change",
        json={"repository": "ws/data", "variables": {"DATASET": REQUEST_VARIABLE}},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )

    assert answer.status_code == 202 and answer.json is not None
    job = JobStore(client, SEALER).get(answer.json["job"])
    assert job is not None and job.request.variables == {"DATASET": REQUEST_VARIABLE}
    assert [s.reveal() for s in SecretRing(client, SEALER).secrets()] == [ROTATED_SECRET]
    assert client.get("bbrelay:oauth:token:client-1") is not None
    stored = _everything_stored(client)
    for value in (
        CLIENT_SECRET,
        ACCESS_TOKEN,
        "refresh-token-0123456789abcdef",
        API_TOKEN,
        WEBHOOK_SECRET,
        ROTATED_SECRET,
        CONFIGURED_VARIABLE,
        REQUEST_VARIABLE,
    ):
        assert value.encode() not in stored, f"{value} is kept in Redis in the clear"
