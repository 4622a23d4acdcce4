"""Sign in with Bitbucket end to end: real receiver, real Redis, the fake's authorization server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import redis
from authlib.integrations.requests_client import OAuth1Session, OAuthError
from joserfc.jwk import RSAKey

from shared.identity import new_signing_key
from shared.teams.snapshot import Diff, Member
from shared.teams.store import TeamStore
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.sign_in import (
    LINK_KEY,
    PLATFORM,
    SignInRelay,
    consent,
    fragment,
    sign_in_relay,
    start,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(redis_url: str, tmp_path: Path) -> Iterator[tuple[FakeBitbucket, SignInRelay]]:
    """Cloud: user 0 owns `beta` (no snapshot yet) and is a member in `acme`'s snapshot."""
    with FakeBitbucket("cloud") as fake:
        for workspace in ("acme", "beta"):
            team_data.add_member(fake, workspace, 0, group=None)
        team_data.add_member(fake, "elsewhere", 1, group=None)
        fake.authorization.emails[team_data.user_key(0)] = "user0@example.com"
        member = Member(team_data.user_key(0), "user00000", "User 0", ("member",), "member")
        store = TeamStore(redis.Redis.from_url(redis_url))
        store.save("acme", {member.user_id: member}, Diff(), at=1.0)
        mapping = {"owner": "admin", "member": "member"}
        with sign_in_relay(redis_url, tmp_path, fake, ["acme", "beta"], mapping) as relay:
            yield fake, relay


def _signed_in(relay: SignInRelay, fake: FakeBitbucket, user: str, next_url: str | None) -> str:
    fake.authorization.logged_in = user
    with httpx.Client() as browser:
        callback = consent(browser, start(browser, relay, next_url))
        answer = browser.get(callback)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def test_cloud_sign_in_hands_the_platform_a_verified_identity_with_the_highest_role(
    cloud: tuple[FakeBitbucket, SignInRelay],
) -> None:
    fake, relay = cloud
    location = _signed_in(relay, fake, team_data.user_key(0), "http://127.0.0.1:9/projects/7")
    assert location.startswith(PLATFORM + "#")
    found = fragment(location)
    assert found["next"] == "http://127.0.0.1:9/projects/7"
    claims = relay.verify(found["id_token"])
    assert claims["sub"] == "acc-00000"
    assert claims["role"] == "admin"  # owner of beta (live) outranks member of acme (snapshot)
    assert claims["workspaces"] == ["acme", "beta"]
    assert claims["email"] == "user0@example.com"
    assert claims["name"] == "User 0"
    assert 0 < claims["exp"] - claims["iat"] <= 300
    log = relay.log.read_text()
    assert "sign_in.succeeded" in log
    assert found["id_token"] not in log
    assert "utok-" not in log and "rtok-" not in log


def test_next_pointing_elsewhere_is_dropped(cloud: tuple[FakeBitbucket, SignInRelay]) -> None:
    fake, relay = cloud
    location = _signed_in(relay, fake, team_data.user_key(0), "https://evil.example/steal")
    assert "next" not in fragment(location)


def test_dc_sign_in_with_pkce_maps_the_users_groups(redis_url: str, tmp_path: Path) -> None:
    with FakeBitbucket("server") as fake:
        team_data.seed(fake, "", members=4, groups=2)  # user00001 is in group-01
        mapping = {"group-01": "admin"}
        with sign_in_relay(redis_url, tmp_path, fake, ["dc"], mapping) as relay:
            location = _signed_in(relay, fake, "user00001", None)
            claims = relay.verify(fragment(location)["id_token"])
    assert (claims["sub"], claims["role"], claims["workspaces"]) == ("1", "admin", ["dc"])
    assert "next" not in fragment(location)


def _error(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text
    assert "id_token" not in answer.headers.get("location", "")


@pytest.fixture
def keys(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _stored(client: redis.Redis[bytes]) -> set[bytes]:
    return set(client.keys("*"))


def test_every_refusal_answers_a_page_and_stores_nothing(
    cloud: tuple[FakeBitbucket, SignInRelay], keys: redis.Redis[bytes]
) -> None:
    fake, relay = cloud
    fake.authorization.logged_in = team_data.user_key(0)
    with httpx.Client() as browser:
        authorize = start(browser, relay)
        state = _query(authorize)["state"]
        before = _stored(keys)
        _error(browser.get(relay.callback, params={"code": "x"}), 400, "no state")
        _error(
            browser.get(relay.callback, params={"code": "x", "state": "forged"}),
            400,
            "already used, has expired, or was changed",
        )
        with httpx.Client() as other_browser:
            _error(
                other_browser.get(relay.callback, params={"code": "x", "state": state}),
                400,
                "no sign-in cookie",
            )
        assert _stored(keys) == before
        callback = consent(browser, authorize)
        assert browser.get(callback).status_code == 302
        used_code = _query(callback)["code"]
        _error(browser.get(callback), 400, "already used, has expired, or was changed")

        state2 = _query(consent(browser, start(browser, relay)))["state"]
        before = _stored(keys)
        _error(
            browser.get(relay.callback, params={"code": used_code, "state": state2}),
            400,
            "did not accept the sign-in code",
        )
        assert _stored(keys) < before  # the state is spent, nothing added

        fake.authorization.code_lifetime = -1.0
        _error(browser.get(consent(browser, start(browser, relay))), 400, "expired")
        fake.authorization.code_lifetime = 60.0

        tampered = start(browser, relay).replace("callback&", "callback%3Fvia%3Delsewhere&")
        _error(browser.get(consent(browser, tampered)), 400, "callback URL does not match")

        _error(browser.get(consent(browser, start(browser, relay), "deny")), 403, "declined")

        fake.authorization.logged_in = team_data.user_key(1)
        _error(browser.get(consent(browser, start(browser, relay))), 403, "not a member")
    assert not keys.keys("bbrelay:signin:*")
    assert "utok-" not in relay.log.read_text()


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_dc_application_link_signs_in_with_oauth_1a_rsa_sha1(
    redis_url: str, tmp_path: Path
) -> None:
    private = new_signing_key()
    public = RSAKey.import_key(private).as_pem(private=False).decode()
    with FakeBitbucket("server") as fake:
        team_data.seed(fake, "", members=4, groups=2)
        fake.application_links.register(LINK_KEY, public)
        mapping = {"group-01": "admin"}
        with sign_in_relay(redis_url, tmp_path, fake, ["dc"], mapping, link_key=private) as relay:
            location = _signed_in(relay, fake, "user00001", None)
            claims = relay.verify(fragment(location)["id_token"])
            fake.authorization.logged_in = "user00001"
            with httpx.Client() as browser:
                denied = browser.get(consent(browser, start(browser, relay), "deny"))
    assert (claims["sub"], claims["role"], claims["workspaces"]) == ("1", "admin", ["dc"])
    assert fake.application_links.refused_signatures == 0
    assert fake.requests_to("/rest/api/latest/users/user00001")[0].consumer == "link:user00001"
    _error(denied, 403, "declined")


def test_the_fake_refuses_a_link_request_signed_with_another_key(tmp_path: Path) -> None:
    with FakeBitbucket("server") as fake:
        public = RSAKey.import_key(new_signing_key()).as_pem(private=False).decode()
        fake.application_links.register(LINK_KEY, public)
        session = OAuth1Session(LINK_KEY, signature_method="RSA-SHA1", rsa_key=new_signing_key())
        with pytest.raises(OAuthError):
            session.fetch_request_token(f"{fake.base_url}/plugins/servlet/oauth/request-token")
        session.close()
    assert fake.application_links.refused_signatures == 1
