"""A relay receiver with sign-in on, against the fake Bitbucket, and a browser made of httpx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml
from joserfc import jwt
from joserfc.jwk import KeySet

from shared.identity import new_signing_key
from tests.fakes.bitbucket_oauth import CLOUD_AUTHORIZE, SERVER_AUTHORIZE
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import free_port, receiver, service_env
from tests.integration.relay import API_TOKEN, bitbucket_values

CLIENT_ID, CLIENT_SECRET = "sign-in-app", "sign-in-secret-long-enough"
AUDIENCE = "the-platform"
LINK_KEY = "relay-application-link"
PLATFORM = "http://127.0.0.1:9/signed-in"  # never fetched: the test reads the redirect


@dataclass
class SignInRelay:
    url: str
    log: Path
    platform: str
    env: dict[str, str]

    @property
    def callback(self) -> str:
        return f"{self.url}/auth/bitbucket/callback"

    def verify(self, id_token: str) -> dict[str, Any]:
        """The token's claims, checked against the relay's JWKS, issuer and audience."""
        keys = KeySet.import_key_set(httpx.get(f"{self.url}/.well-known/jwks.json").json())
        token = jwt.decode(id_token, keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.url},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(token.claims)
        return dict(token.claims)


@contextmanager
def sign_in_relay(
    redis_url: str,
    tmp: Path,
    fake: FakeBitbucket,
    whitelist: list[str],
    mapping: dict[str, str],
    platform: str = PLATFORM,
    link_key: str | None = None,
) -> Iterator[SignInRelay]:
    """The receiver (gunicorn) with sign-in enabled; the signing key from a secret reference;
    with `link_key` (a private key, PEM) through an OAuth 1.0a application link instead."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = tmp / "secrets"
    (secrets / "identity").mkdir(parents=True)
    (secrets / "identity" / "key.pem").write_text(new_signing_key())
    authorize = CLOUD_AUTHORIZE if fake.product == "cloud" else SERVER_AUTHORIZE
    git = bitbucket_values(fake)
    git["oauth"] = {**git.get("oauth", {}), "authorizeUrl": f"{fake.base_url}{authorize}"}
    if link_key is not None:
        (secrets / "link").mkdir()
        (secrets / "link" / "private.pem").write_text(link_key)
        git["oauth"]["version"] = "1.0a"
        git |= {"consumerKey": LINK_KEY, "privateKeySecret": {"name": "link", "key": "private.pem"}}
    values = {
        "global": {
            "git": {"bitbucket": git},
            "auth": {
                "bitbucket": {
                    "enabled": True,
                    "clientId": CLIENT_ID,
                    "clientSecret": CLIENT_SECRET,
                    "teamSync": {"workspaceWhitelist": whitelist},
                }
            },
            "teams": {"bitbucket": {"mapping": mapping}},
            "relay": {
                "apiTokens": [API_TOKEN],
                "publicUrl": url,
                "identity": {
                    "redirectUrl": platform,
                    "audience": AUDIENCE,
                    "signingKeySecret": {"name": "identity", "key": "key.pem"},
                },
            },
        }
    }
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    fake.authorization.register(CLIENT_ID, CLIENT_SECRET, f"{url}/auth/bitbucket/callback")
    env = service_env(redis_url, tmp, {"BBRELAY_SECRETS_DIR": str(secrets)})
    with receiver(env, tmp, workers=1, port=port) as started:
        yield SignInRelay(started, tmp / "receiver.log", platform, env)


def authorize_form(browser: httpx.Client, authorize_url: str) -> dict[str, str]:
    """Open the consent page and return the fields its form submits."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    assert 'id="grant"' in page.text
    return dict(parse_qsl(urlsplit(authorize_url).query))


def consent(browser: httpx.Client, authorize_url: str, decision: str = "allow") -> str:
    """Click Grant access (or Cancel) on the fake's consent page; the callback URL it sends to."""
    fields = authorize_form(browser, authorize_url)
    action = authorize_url.split("?", 1)[0]
    answer = browser.post(action, data={**fields, "decision": decision})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def start(browser: httpx.Client, relay: SignInRelay, next_url: str | None = None) -> str:
    """GET /auth/bitbucket/login; the authorize URL it redirects to."""
    params = {"next": next_url} if next_url else {}
    answer = browser.get(f"{relay.url}/auth/bitbucket/login", params=params)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def fragment(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).fragment))
