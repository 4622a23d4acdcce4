"""Credentials for Bitbucket calls: OAuth client credentials (shared token), bearer, basic.

The OAuth token is cached in Redis per consumer so every worker process on every host uses the
same one; one process at a time fetches a new one (a short Redis lock), the others wait for it.
https://developer.atlassian.com/cloud/bitbucket/rest/intro/#client-credentials-grant-4-4
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import redis
import structlog
from authlib.common.errors import AuthlibBaseError

from shared.bitbucket.errors import AuthFailed, BitbucketUnavailable, LimiterUnavailable
from shared.bitbucket.oauth_client import OAuth2Client
from shared.config.settings import BitbucketSettings, Consumer
from shared.sealing import SealBroken, Sealer
from shared.secret import Secret

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "bbrelay:oauth"  # noqa: S105 - a Redis key prefix
REFRESH_MARGIN = 300.0
LOCK_TTL_MS = 15_000
WAIT_FOR_OTHER = 15.0


class Credential(Protocol):
    """Something that signs a request as one identity Bitbucket counts against."""

    identity: str

    def authorization(self) -> str: ...

    def invalidate(self, authorization: str) -> None: ...


def consumer_identity(kind: str, value: str) -> str:
    """A stable, non-secret name for a consumer: its client id, or a hash of a token."""
    if kind == "token":
        return f"token:{hashlib.sha256(value.encode()).hexdigest()[:12]}"
    return f"{kind}:{value}"


@dataclass
class BearerCredential:
    """A Cloud access token or a DC HTTP access token."""

    token: Secret

    def __post_init__(self) -> None:
        self.identity = consumer_identity("token", self.token.reveal())

    def authorization(self) -> str:
        return f"Bearer {self.token.reveal()}"

    def invalidate(self, authorization: str) -> None:
        """A static token cannot be refreshed."""


@dataclass
class BasicCredential:
    """A Cloud API token with the account email, or a DC user and password."""

    username: str
    password: Secret

    def __post_init__(self) -> None:
        self.identity = consumer_identity("user", self.username)

    def authorization(self) -> str:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return f"Basic {base64.b64encode(raw).decode()}"

    def invalidate(self, authorization: str) -> None:
        """Basic credentials cannot be refreshed."""


class OAuthCredential:
    """Client credentials grant through Authlib, the token shared (sealed) through Redis."""

    def __init__(
        self,
        consumer: Consumer,
        token_url: str,
        client: redis.Redis[bytes],
        http_factory: Callable[..., OAuth2Client],
        sealer: Sealer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.consumer = consumer
        self.identity = consumer_identity("oauth", consumer.client_id)
        self.token_url = token_url
        self.redis = client
        self.http_factory = http_factory
        self.sealer = sealer
        self.clock = clock
        self.key = f"{TOKEN_PREFIX}:token:{consumer.client_id}"
        self.lock_key = f"{TOKEN_PREFIX}:lock:{consumer.client_id}"
        self._local: tuple[str, float] | None = None

    def authorization(self) -> str:
        return f"Bearer {self._access_token()}"

    def invalidate(self, authorization: str) -> None:
        """Forget a token Bitbucket refused, unless another process already replaced it.

        Check-then-delete is not atomic; losing that race costs one extra token request.
        """
        token = authorization.removeprefix("Bearer ")
        self._local = None
        try:
            cached = self._read_shared()
            if cached and cached[0] == token:
                self.redis.delete(self.key)
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"Redis unreachable: {exc}") from exc

    def _access_token(self) -> str:
        now = self.clock()
        if self._local and self._local[1] - REFRESH_MARGIN > now:
            return self._local[0]
        try:
            return self._shared_token(now)
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"Redis unreachable: {exc}") from exc

    def _shared_token(self, now: float) -> str:
        deadline = time.monotonic() + WAIT_FOR_OTHER
        while True:
            cached = self._read_shared()
            if cached and cached[1] - REFRESH_MARGIN > now:
                self._local = cached
                return cached[0]
            if self.redis.set(self.lock_key, b"1", nx=True, px=LOCK_TTL_MS):
                try:
                    # Another process may have stored a token between our read and our lock.
                    cached = self._read_shared()
                    if cached and cached[1] - REFRESH_MARGIN > self.clock():
                        self._local = cached
                        return cached[0]
                    return self._fetch_and_share()
                finally:
                    self.redis.delete(self.lock_key)
            if time.monotonic() > deadline:
                raise BitbucketUnavailable("timed out waiting for another process's token")
            time.sleep(0.05)
            now = self.clock()

    def _read_shared(self) -> tuple[str, float] | None:
        data = self._shared_value()
        if data is None:
            return None
        return str(data["access_token"]), float(data["expires_at"])

    def _shared_value(self) -> dict[str, Any] | None:
        """The cached token record; one sealed under a key no longer configured is no token."""
        raw = self.redis.get(self.key)
        if raw is None:
            return None
        try:
            return dict(json.loads(self.sealer.unseal(raw)))
        except SealBroken:
            return None

    def _fetch_and_share(self) -> str:
        token = self._fetch()
        expires_in = float(token.get("expires_in") or 3600)
        expires_at = self.clock() + expires_in
        value = {
            "access_token": token["access_token"],
            "expires_at": expires_at,
            "scopes": token.get("scopes") or token.get("scope") or "",
        }
        ttl_ms = max(1000, int((expires_in - REFRESH_MARGIN / 2) * 1000))
        self.redis.set(self.key, self.sealer.seal(json.dumps(value)), px=ttl_ms)
        self._local = (str(token["access_token"]), expires_at)
        log.info("oauth.token_fetched", consumer=self.identity, expires_in=int(expires_in))
        return str(token["access_token"])

    def _fetch(self) -> dict[str, Any]:
        client_secret = self.consumer.client_secret.reveal()
        with self.http_factory(self.consumer.client_id, client_secret) as oauth:
            try:
                token = oauth.fetch_token(self.token_url, grant_type="client_credentials")
            except AuthlibBaseError as exc:
                raise AuthFailed(
                    f"the token endpoint refused consumer {self.consumer.client_id}: "
                    f"{exc.error}; check clientId/clientSecret"
                ) from exc
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if status >= 500:
                    raise BitbucketUnavailable(f"token endpoint answered {status}") from exc
                raise AuthFailed(
                    f"the token endpoint refused consumer {self.consumer.client_id} ({status})"
                ) from exc
            except httpx.TransportError as exc:
                raise BitbucketUnavailable(f"token endpoint unreachable: {exc}") from exc
        return dict(token)

    def granted_scopes(self) -> str:
        """The scopes of the shared token, as the token endpoint listed them."""
        data = self._shared_value()
        return str(data.get("scopes", "")) if data else ""


def credentials_from_settings(
    settings: BitbucketSettings,
    client: redis.Redis[bytes],
    http_factory: Callable[..., OAuth2Client],
    sealer: Sealer,
) -> list[Credential]:
    """An explicit token or user wins over OAuth consumers (DESIGN §6); else the pool."""
    if settings.token:
        return [BearerCredential(settings.token)]
    if settings.username and settings.password:
        return [BasicCredential(settings.username, settings.password)]
    return [
        OAuthCredential(consumer, settings.token_url, client, http_factory, sealer)
        for consumer in settings.consumers
    ]
