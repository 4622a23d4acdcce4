"""Authlib's Flask OAuth client for Bitbucket, with its state kept single-use in Redis.

The browser holds a signed, short-lived session cookie naming the state; the state's data (the
redirect URI, the PKCE verifier, where to go next) lives sealed in Redis and is deleted when the
callback reads it, so a state works once and only in the browser that started the flow.
https://docs.authlib.org/en/latest/client/flask.html
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from datetime import timedelta
from typing import Any

import redis
from flask import Flask

from shared.config.settings import Settings
from shared.sealing import SealBroken, Sealer

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.flask_client import OAuth

STATE_LIFETIME = 600  # seconds a person has to approve at Bitbucket
STATE_PREFIX = "bbrelay:signin:"
COOKIE_NAME = "bbrelay_signin"
REMOTE = "bitbucket"


class SealedStateCache:
    """The cache interface Authlib's FrameworkIntegration uses (get, set, delete), in Redis."""

    def __init__(self, client: redis.Redis[bytes], sealer: Sealer) -> None:
        self.redis = client
        self.sealer = sealer

    def get(self, key: str) -> str | None:
        raw = self.redis.get(STATE_PREFIX + key)
        if raw is None:
            return None
        try:
            return self.sealer.unseal(raw)
        except SealBroken:
            return None

    def set(self, key: str, value: str, expires: int | None = None) -> None:
        self.redis.set(STATE_PREFIX + key, self.sealer.seal(value), ex=expires or STATE_LIFETIME)

    def delete(self, key: str) -> None:
        self.redis.delete(STATE_PREFIX + key)


def cookie_key(settings: Settings) -> bytes:
    """The key signing the sign-in cookie, derived from the first encryption key (so every
    receiver process and host agrees on it without another secret to configure)."""
    key = settings.relay.encryption_keys[0].reveal().encode()
    return hmac.new(key, b"bbrelay sign-in cookie", hashlib.sha256).digest()


def register(app: Flask, settings: Settings, client: redis.Redis[bytes], sealer: Sealer) -> Any:
    """Authlib's remote app for the configured consumer, on `app`; returns it."""
    sign_in = settings.sign_in
    public_url = settings.relay.public_url or sign_in.redirect_uri or ""
    app.config.update(
        SECRET_KEY=cookie_key(settings),
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # sent on the top-level redirect back from Bitbucket
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=STATE_LIFETIME),
    )
    oauth = OAuth(app, cache=SealedStateCache(client, sealer))
    link = sign_in.application_link
    if link is not None:
        remote = oauth.register(
            REMOTE,
            client_id=link.consumer_key,
            request_token_url=link.request_token_url,
            authorize_url=link.authorize_url,
            access_token_url=link.access_token_url,
            client_kwargs={
                "signature_method": "RSA-SHA1",
                "rsa_key": link.private_key.reveal(),
                "default_timeout": settings.bitbucket.timeout.read,
            },
        )
        remote.framework.expires_in = STATE_LIFETIME
        return remote
    client_kwargs: dict[str, Any] = {
        "scope": " ".join(sign_in.scopes),
        "default_timeout": settings.bitbucket.timeout.read,
    }
    if sign_in.product == "server":
        # DC's provider takes PKCE and the client secret in the form:
        # https://confluence.atlassian.com/bitbucketserver/bitbucket-oauth-2-0-provider-api-1108483661.html
        client_kwargs |= {
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_post",
        }
    remote = oauth.register(
        REMOTE,
        client_id=sign_in.client_id,
        client_secret=sign_in.client_secret.reveal() if sign_in.client_secret else None,
        authorize_url=sign_in.authorize_url,
        access_token_url=sign_in.token_url,
        client_kwargs=client_kwargs,
    )
    remote.framework.expires_in = STATE_LIFETIME
    return remote
