"""Repository names reach URL paths: dot segments and odd characters are refused at every door."""

from __future__ import annotations

import json

import fakeredis
import httpx
import pytest

from shared.bitbucket import paths
from shared.bitbucket.errors import ForbiddenHost
from shared.bitbucket.factory import build_client
from shared.config.settings import BitbucketSettings, Consumer
from shared.payloads import PayloadError, parse_event
from shared.secret import Secret
from tests.conftest import SEALER
from tests.unit.test_events import FIXTURES, headers_for


def _parse(product: str, name: str, event_key: str, change: dict[str, str]) -> None:
    document = json.loads((FIXTURES / product / name).read_text())
    repository = document["repository"]
    for field, value in change.items():
        if field == "project":
            repository["project"]["key"] = value
        else:
            repository[field] = value
    body = json.dumps(document).encode()
    parse_event(headers_for(product, event_key), body, received_at=1.0, delivery_id="d-1")


@pytest.mark.parametrize("full_name", ["ws/..", "../x", "ws/.", "ws/a?b", "ws/a%2e", "ws/a/b"])
def test_a_cloud_payload_with_a_path_like_repository_name_is_refused(full_name: str) -> None:
    with pytest.raises(PayloadError) as caught:
        _parse("cloud", "repo-push-signed.json", "repo:push", {"full_name": full_name})
    assert caught.value.field.endswith("full_name")


@pytest.mark.parametrize(("field", "value"), [("slug", ".."), ("project", ".."), ("slug", "a#b")])
def test_a_server_payload_with_a_path_like_slug_or_key_is_refused(field: str, value: str) -> None:
    with pytest.raises(PayloadError):
        _parse("server", "repo-refs_changed.json", "repo:refs_changed", {field: value})


def test_real_names_with_dots_and_personal_projects_pass() -> None:
    assert paths.repository("cloud", "ws/my.repo") == "/repositories/ws/my.repo"
    assert paths.repository("server", "~ANA/x") == "/api/latest/projects/~ANA/repos/x"


@pytest.mark.parametrize("full_name", ["ws/..", "../x", "ws/."])
def test_a_dot_segment_never_becomes_a_path(full_name: str) -> None:
    with pytest.raises(ValueError, match="would change the path"):
        paths.repository("cloud", full_name)


def test_a_call_to_the_configured_host_over_http_is_refused() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("access_token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 7200})
        return httpx.Response(200, json={"values": [], "next": "http://api.bitbucket.org/2.0/x"})

    settings = BitbucketSettings(consumers=(Consumer("client-1", Secret("s3cret")),))
    client = build_client(
        settings, fakeredis.FakeRedis(), SEALER, transport=httpx.MockTransport(api)
    )
    with pytest.raises(ForbiddenHost):
        list(client.iter_workspace_members("ws"))
    with pytest.raises(ForbiddenHost):
        client.sender.send("GET", "http://api.bitbucket.org/2.0/user", "user")
