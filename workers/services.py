"""What tasks need (settings, Redis, stores, Bitbucket client), built once per worker process."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import httpx
import redis

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.factory import build_client, http_options
from shared.config.settings import TLS, Settings
from shared.deliveries import DeliveryStore
from shared.followups import FollowUps
from shared.jobs.store import JobStore
from shared.redis import connect
from shared.sealing import Sealer
from shared.teams.store import TeamStore
from shared.teams.sync import TEAM_SYNC_TOKEN_WAIT

CAPABILITIES_TTL = 3600.0


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis[bytes]
    deliveries: DeliveryStore
    jobs: JobStore
    follow_ups: FollowUps
    teams: TeamStore
    bitbucket: BitbucketClient
    patient_bitbucket: BitbucketClient  # waits for tokens: team sync's long reads
    transport: httpx.BaseTransport | None = None  # tests' own; None: the network
    _capabilities: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _platform_clients: dict[TLS, httpx.Client] = field(default_factory=dict)

    def platform_http(self, tls: TLS) -> httpx.Client:
        """A client for the platform's job POSTs or the team sink, checking certificates by
        that target's own TLS block (never Bitbucket's `ssl`); one per block per process."""
        client = self._platform_clients.get(tls)
        if client is None:
            options = http_options(self.settings.bitbucket, tls)
            client = httpx.Client(transport=self.transport, **options)  # type: ignore[arg-type]
            self._platform_clients[tls] = client
        return client

    def capabilities(self) -> frozenset[str]:
        """The build states the Bitbucket server supports, asked once an hour per process."""
        cached = self._capabilities.get("states")
        if cached and time.monotonic() - cached[0] < CAPABILITIES_TTL:
            return cached[1]
        states = self.bitbucket.build_capabilities()
        self._capabilities["states"] = (time.monotonic(), states)
        return states


def build_services(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> Services:
    """Connect everything from settings; tests call this with their own settings."""
    client = connect(settings.relay.redis_url)
    recovery = settings.relay.recovery
    sealer = Sealer(settings.relay.encryption_keys)
    return Services(
        settings=settings,
        redis=client,
        deliveries=DeliveryStore(
            client,
            dedupe_window=settings.relay.dedupe_window,
            deadline=recovery.delivery_deadline,
        ),
        jobs=JobStore(client, sealer, start_deadline=recovery.start_deadline),
        follow_ups=FollowUps(client),
        teams=TeamStore(client),
        bitbucket=build_client(
            settings.bitbucket, client, sealer, transport=transport, sign_in=settings.sign_in
        ),
        patient_bitbucket=build_client(
            settings.bitbucket,
            client,
            sealer,
            transport=transport,
            max_inline_wait=TEAM_SYNC_TOKEN_WAIT,
            background=True,
            sign_in=settings.sign_in,
        ),
        transport=transport,
    )


_BUILT: dict[int, Services] = {}


def services() -> Services:
    """This process's services, from the settings the Celery app was loaded with.

    Kept per process id: the worker's main process uses them too (workers/recovery.py), and a
    pool child forked from it later must not share its HTTP connections.
    """
    pid = os.getpid()
    current = _BUILT.get(pid)
    if current is None:
        from workers.celery_app import settings

        _BUILT.clear()
        current = _BUILT[pid] = build_services(settings)
    return current
