"""The relay's own Bitbucket credential from "Connect Bitbucket": an administrator's access and
refresh tokens, sealed in Redis, used by every worker and refreshed before expiry under a lock.

On Server/DC this is the only OAuth path for the service (its provider has no client-credentials
grant): https://confluence.atlassian.com/bitbucketserver/bitbucket-oauth-2-0-provider-api-1108483661.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import redis
import structlog
from authlib.common.errors import AuthlibBaseError

from shared.bitbucket.auth import LOCK_TTL_MS, REFRESH_MARGIN, TOKEN_PREFIX, WAIT_FOR_OTHER
from shared.bitbucket.errors import AuthFailed, BitbucketUnavailable, LimiterUnavailable
from shared.bitbucket.oauth_client import OAuth2Client
from shared.config.settings import SignInSettings
from shared.sealing import SealBroken, Sealer

log = structlog.get_logger(__name__)

CONNECTED_KEY = f"{TOKEN_PREFIX}:connected"
CONNECTED_LOCK = f"{TOKEN_PREFIX}:lock:connected"


@dataclass(frozen=True)
class Connection:
    """What connect stored: the tokens, and who they act as, with what scopes, since when."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    scopes: str
    user: str
    connected_at: float

    @classmethod
    def from_token(
        cls, token: Mapping[str, Any], user: str, connected_at: float, now: float
    ) -> Connection:
        return cls(
            access_token=str(token["access_token"]),
            refresh_token=token.get("refresh_token"),
            expires_at=now + float(token.get("expires_in") or 3600),
            scopes=str(token.get("scopes") or token.get("scope") or ""),
            user=user,
            connected_at=connected_at,
        )


class ConnectionStore:
    """The sealed connection record in Redis."""

    def __init__(self, client: redis.Redis[bytes], sealer: Sealer) -> None:
        self.redis = client
        self.sealer = sealer

    def load(self) -> Connection | None:
        raw = self.redis.get(CONNECTED_KEY)
        if raw is None:
            return None
        try:
            return Connection(**json.loads(self.sealer.unseal(raw)))
        except SealBroken:
            return None

    def save(self, connection: Connection) -> None:
        self.redis.set(CONNECTED_KEY, self.sealer.seal(json.dumps(asdict(connection))))

    def revoke(self) -> bool:
        return bool(self.redis.delete(CONNECTED_KEY))


class ConnectedCredential:
    """Signs requests with the connected account's token, refreshing it (one process at a time)
    REFRESH_MARGIN seconds before it expires."""

    def __init__(
        self,
        store: ConnectionStore,
        consumer: SignInSettings,
        http_factory: Callable[..., OAuth2Client],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.http_factory = http_factory
        self.clock = clock
        self.identity = "connected"

    def authorization(self) -> str:
        try:
            return f"Bearer {self._fresh().access_token}"
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"Redis unreachable: {exc}") from exc

    def invalidate(self, authorization: str) -> None:
        """A refused token is refreshed at the next call (its expiry is set to now)."""
        connection = self.store.load()
        if connection and authorization == f"Bearer {connection.access_token}":
            expired = Connection(**{**asdict(connection), "expires_at": 0.0})
            self.store.save(expired)

    def _fresh(self) -> Connection:
        deadline = time.monotonic() + WAIT_FOR_OTHER
        while True:
            connection = self.store.load()
            if connection is None:
                raise AuthFailed("Bitbucket is not connected (or was revoked): bbrelay connect")
            if connection.expires_at - REFRESH_MARGIN > self.clock():
                return connection
            if self.store.redis.set(CONNECTED_LOCK, b"1", nx=True, px=LOCK_TTL_MS):
                try:
                    return self._refresh(connection)
                finally:
                    self.store.redis.delete(CONNECTED_LOCK)
            if time.monotonic() > deadline:
                raise BitbucketUnavailable("timed out waiting for another process's refresh")
            time.sleep(0.05)

    def _refresh(self, connection: Connection) -> Connection:
        if not connection.refresh_token:
            raise AuthFailed("the connected token expired and has no refresh token: reconnect")
        client_secret = self.consumer.client_secret.reveal() if self.consumer.client_secret else ""
        with self.http_factory(self.consumer.client_id, client_secret) as oauth:
            try:
                token = oauth.refresh_token(
                    self.consumer.token_url, refresh_token=connection.refresh_token
                )
            except AuthlibBaseError as exc:
                raise AuthFailed(
                    f"Bitbucket refused to refresh the connected token ({exc.error}): "
                    "reconnect with bbrelay connect"
                ) from exc
            except httpx.TransportError as exc:
                raise BitbucketUnavailable(f"token endpoint unreachable: {exc}") from exc
        refreshed = Connection.from_token(
            {"refresh_token": connection.refresh_token, **dict(token)},
            connection.user,
            connection.connected_at,
            self.clock(),
        )
        self.store.save(refreshed)
        log.info("oauth.connected_refreshed", user=connection.user)
        return refreshed
