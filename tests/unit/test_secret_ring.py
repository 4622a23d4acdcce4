"""The ring of rotated webhook secrets: sealed, expiring, retired at once; keys rotated."""

from __future__ import annotations

import fakeredis
import pytest

from shared.sealing import SealBroken, Sealer, new_encryption_key
from shared.secret import Secret
from shared.webhook_secrets import RING_KEY, SecretRing, fingerprint
from tests.conftest import ENCRYPTION_KEY, SEALER

OLD = "an-old-rotated-secret-0123456789"
NEW = "a-new-rotated-secret-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_secret_expires_after_its_lifetime_and_reading_never_writes() -> None:
    client, clock = fakeredis.FakeRedis(), Clock()
    ring = SecretRing(client, SEALER, lifetime=100.0, clock=clock)
    ring.add(OLD)
    clock.now += 100.0
    assert [entry.secret for entry in ring.entries()] == [Secret(OLD)]

    clock.now += 1.0
    assert ring.entries() == []
    assert ring.newest() is None
    assert client.zcard(RING_KEY) == 1  # filtered on read, still stored

    ring.add(NEW)
    assert [entry.secret for entry in ring.entries()] == [Secret(NEW)]
    assert client.zcard(RING_KEY) == 1  # the expired one went when a secret was added


def test_retire_removes_the_named_secrets_at_once() -> None:
    client, clock = fakeredis.FakeRedis(), Clock()
    ring = SecretRing(client, SEALER, clock=clock)
    ring.add(OLD)
    clock.now += 1.0
    ring.add(NEW)

    gone = ring.retire({fingerprint(OLD)})

    assert [entry.secret for entry in gone] == [Secret(OLD)]
    assert [entry.secret for entry in ring.entries()] == [Secret(NEW)]
    assert ring.retire({"000000000000"}) == []


def test_a_new_key_put_first_still_opens_what_the_old_key_sealed() -> None:
    old_key, new_key = Secret(ENCRYPTION_KEY), Secret(new_encryption_key())
    client = fakeredis.FakeRedis()
    SecretRing(client, Sealer([old_key])).add(OLD)

    rotated = SecretRing(client, Sealer([new_key, old_key]))
    rotated.add(NEW)

    assert [entry.secret for entry in rotated.entries()] == [Secret(OLD), Secret(NEW)]
    new_only = SecretRing(client, Sealer([new_key]))
    assert [entry.secret for entry in new_only.entries()] == [Secret(NEW)]  # OLD is unreadable
    with pytest.raises(SealBroken):
        Sealer([old_key]).unseal(Sealer([new_key, old_key]).seal("sealed with the first key"))
