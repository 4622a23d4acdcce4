"""Every /api/ route but the webhook needs a token, and /api/ errors are JSON (Redis down: 503)."""

from __future__ import annotations

import fakeredis
import pytest
from flask import Flask

from receiver import create_app
from tests.conftest import make_settings
from tests.recording_enqueuer import RecordingEnqueuer

AUTH = {"Authorization": "Bearer api-token"}
WEBHOOK = "/api/webhooks/bitbucket"


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def app(server: fakeredis.FakeServer) -> Flask:
    return create_app(
        make_settings(),
        enqueuer=RecordingEnqueuer(),
        redis_client=fakeredis.FakeRedis(server=server),
    )


def test_every_api_route_but_the_webhook_answers_401_without_a_token(app: Flask) -> None:
    client = app.test_client()
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == WEBHOOK:
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = client.open(url, method=method, json={})
            assert (answer.status_code, method, url) == (401, method, url)
            assert answer.is_json
            checked.append(f"{method} {url}")
    assert len(checked) >= 5


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/api/nowhere", 404), ("DELETE", "/api/jobs/x", 405), ("GET", WEBHOOK, 405)],
)
def test_api_errors_are_json(app: Flask, method: str, url: str, status: int) -> None:
    answer = app.test_client().open(url, method=method, headers=AUTH)
    assert answer.status_code == status
    assert answer.is_json and answer.json is not None and answer.json["error"]


@pytest.mark.parametrize("url", ["/api/jobs/x", "/api/deliveries/x", "/api/teams/acme"])
def test_redis_unreachable_under_api_is_503_json(
    app: Flask, server: fakeredis.FakeServer, url: str
) -> None:
    server.connected = False
    answer = app.test_client().get(url, headers=AUTH)
    assert answer.status_code == 503
    assert answer.json == {"error": "Redis is unavailable; try again"}
