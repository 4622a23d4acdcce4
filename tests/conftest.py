"""Fixtures every test may use: settings builders, fakeredis, a real Redis for integration."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from shared.config.settings import BitbucketSettings, RelaySettings, Settings, SpoolSettings
from shared.sealing import Sealer
from shared.secret import Secret

FIXTURES = Path(__file__).parent / "fixtures" / "bitbucket"
SIGNED_SECRET = "Gkvl$k$wyNpQAF42"
# Fixed, not generated: processes a test spawns import this module too and must share the key.
ENCRYPTION_KEY = "Yml0YnVja2V0LXJlbGF5LXRlc3RzLW9ubHkta2V5ISE="  # b64 of a 32-byte test-only key
SEALER = Sealer([Secret(ENCRYPTION_KEY)])
KEYED = {"BBRELAY_ENCRYPTION_KEY": ENCRYPTION_KEY}  # what production needs besides
SIGNED_DIGEST = "sha256=f205c729821c6954aff2afe72b965c34015b4baf96ea8ddc2cc44999c014a035"
UNWRITABLE_SPOOL = "/dev/null/spool"  # no directory can be made there, not even by root


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def make_settings(
    *,
    secrets: tuple[str, ...] = (SIGNED_SECRET,),
    redis_url: str = "redis://x",
    spool_dir: str = UNWRITABLE_SPOOL,
    **bitbucket: Any,
) -> Settings:
    """Settings for tests: the signed fixture's secret, a spool that cannot be written (tests of
    the spool pass their own directory), everything else default."""
    return Settings(
        bitbucket=dataclasses.replace(
            BitbucketSettings(webhook_secrets=tuple(Secret(s) for s in secrets)), **bitbucket
        ),
        relay=RelaySettings(
            redis_url=redis_url,
            api_tokens=(Secret("api-token"),),
            encryption_keys=(Secret(ENCRYPTION_KEY),),
            spool=SpoolSettings(dir=spool_dir),
        ),
    )


@pytest.fixture
def fake_redis() -> redis.Redis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database, emptied before the test (`make test` provides the server)."""
    url = os.environ.get("BBRELAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"integration tests need Redis at {url}: {exc} (run them with `make test`)")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
