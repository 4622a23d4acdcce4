"""Build the Bitbucket client from settings: timeouts, TLS, credentials, bucket, or dry-run."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import redis

from shared.bitbucket.auth import Credential, credentials_from_settings
from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.connected import ConnectedCredential, ConnectionStore
from shared.bitbucket.dryrun import DryRunSender
from shared.bitbucket.oauth_client import OAuth2Client
from shared.bitbucket.transport import Sender, origin
from shared.config.settings import TLS, BitbucketSettings, SignInSettings
from shared.ratelimit import ConsumerPool, TokenBucket
from shared.sealing import Sealer
from shared.tls import verify_for

USER_AGENT = "bitbucket-relay/0.1"


def http_options(settings: BitbucketSettings, tls: TLS | None = None) -> dict[str, object]:
    """Timeouts from `timeout.*`; TLS from `tls`, else Bitbucket's own `ssl.*` (API and token
    calls). The platform and the team sink pass their own block: Bitbucket's is only Bitbucket's.
    """
    timeout = settings.timeout
    verify = verify_for(settings.tls if tls is None else tls)
    return {
        "timeout": httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.connect
        ),
        "verify": verify,
        "follow_redirects": False,
        "headers": {"User-Agent": USER_AGENT},
    }


def allowed_origins(settings: BitbucketSettings) -> frozenset[str]:
    return frozenset(origin(url) for url in (settings.api_url, settings.token_url))


def build_client(
    settings: BitbucketSettings,
    client: redis.Redis[bytes],
    sealer: Sealer,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    max_inline_wait: float = 1.0,
    background: bool = False,
    sign_in: SignInSettings | None = None,
) -> BitbucketClient:
    """The client the workers use; with no credentials, a dry-run one that sends nothing.

    Explicit credentials win; else a connected account (Connect Bitbucket); else the consumers.
    A `background` client (team sync) leaves `rateLimit.reservedForJobs` of each bucket.
    """
    connected = (
        None
        if settings.token or settings.username or sign_in is None or not sign_in.enabled
        else ConnectionStore(client, sealer)
    )
    if connected is not None and connected.load() is None:
        connected = None
    if not settings.has_credentials and connected is None:
        return BitbucketClient(
            settings.product,
            settings.api_url,
            DryRunSender(settings.product),
            base_url=settings.url,
        )
    options = http_options(settings)

    def oauth_client(client_id: str, client_secret: str) -> OAuth2Client:
        return OAuth2Client(
            client_id,
            client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            transport=transport,
            **options,
        )

    credentials: list[Credential] = (
        [ConnectedCredential(connected, sign_in, oauth_client)]
        if connected is not None and sign_in is not None
        else credentials_from_settings(settings, client, oauth_client, sealer)
    )
    bucket = TokenBucket.from_settings(client, settings.rate_limit)
    pool = ConsumerPool(bucket, [credential.identity for credential in credentials])
    http = httpx.Client(transport=transport, **options)  # type: ignore[arg-type]
    sender = Sender(
        http,
        credentials,
        pool,
        allowed_origins=allowed_origins(settings),
        max_inline_wait=max_inline_wait,
        reserve=settings.rate_limit.reserved_for_jobs if background else 0.0,
        sleep=sleep or time.sleep,
    )
    return BitbucketClient(settings.product, settings.api_url, sender, base_url=settings.url)
