"""What tasks need (settings, Redis, stores, Bitbucket client), built once per worker process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import redis

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.factory import build_client
from shared.deliveries import DeliveryStore
from shared.redis import connect
from shared.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis[bytes]
    deliveries: DeliveryStore
    bitbucket: BitbucketClient


def build_services(settings: Settings) -> Services:
    """Connect everything from settings; tests call this with their own settings."""
    client = connect(settings.relay.redis_url)
    return Services(
        settings=settings,
        redis=client,
        deliveries=DeliveryStore(client, dedupe_window=settings.relay.dedupe_window),
        bitbucket=build_client(settings.bitbucket, client),
    )


@cache
def services() -> Services:
    """This process's services, from the settings the Celery app was loaded with."""
    from workers.celery_app import settings

    return build_services(settings)
