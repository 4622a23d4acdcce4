"""`bbrelay hooks install` and `rotate-secret` against the fake Bitbucket and the real receiver."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from receiver.signature import sign
from shared.secret import Secret
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.relay import WEBHOOK_SECRET, bitbucket_values, push_of, relay

pytestmark = pytest.mark.integration

PUBLIC = "https://relay.example.com"
FOREIGN = "https://ci.example.com/bitbucket-hook"


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        bitbucket.repositories |= {"acme/data-1", "acme/data-2", "acme/other"}
        foreign = {"url": FOREIGN, "events": ["repo:push"], "active": True, "uuid": "{foreign}"}
        bitbucket.hooks["repo=data-1/ws=acme"] = {"{foreign}": foreign}
        yield bitbucket


def _values(fake: FakeBitbucket) -> dict[str, object]:
    return bitbucket_values(fake, repositories={"allowList": ["acme/data-*"]})


def _writes(fake: FakeBitbucket) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests_to("*/hooks*") if r.method != "GET"]


def test_install_twice_writes_once_and_leaves_other_services_hooks_alone(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    env = {"BBRELAY_PUBLIC_URL": PUBLIC}
    with relay(redis_url, tmp_path, _values(fake), env=env) as bbrelay:
        planned = bbrelay.bbrelay("hooks", "install", "--dry-run")
        assert planned.returncode == 0, planned.stderr
        assert planned.stdout.splitlines() == [
            "acme/data-1: would create",
            "acme/data-2: would create",
        ]
        assert _writes(fake) == []
        first = bbrelay.bbrelay("hooks", "install")
        assert first.stdout.splitlines() == ["acme/data-1: create", "acme/data-2: create"]
        writes = _writes(fake)
        second = bbrelay.bbrelay("hooks", "install")
        listed = bbrelay.bbrelay("hooks", "list")
    assert writes == [
        "POST /2.0/repositories/acme/data-1/hooks",
        "POST /2.0/repositories/acme/data-2/hooks",
    ]
    assert _writes(fake) == writes
    assert second.stdout.splitlines()[-1] == "every hook is already as configured; nothing changed"
    assert "acme/other" not in listed.stdout and "missing" not in listed.stdout
    hooks = fake.hooks["repo=data-1/ws=acme"]
    assert hooks["{foreign}"] == {
        "url": FOREIGN,
        "events": ["repo:push"],
        "active": True,
        "uuid": "{foreign}",
    }
    [ours] = [h for h in hooks.values() if h["url"] != FOREIGN]
    assert ours["url"] == f"{PUBLIC}/api/webhooks/bitbucket"
    assert ours["secret"] == WEBHOOK_SECRET


def test_deliveries_signed_with_either_secret_are_accepted_during_rotation(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    env = {"BBRELAY_PUBLIC_URL": PUBLIC}
    statuses: list[int] = []
    with relay(redis_url, tmp_path, _values(fake), env=env) as bbrelay:
        bbrelay.bbrelay("hooks", "install")
        stop = threading.Event()

        def deliver_with_old_secret() -> None:
            n = 0
            while not stop.is_set():
                body = push_of(hashlib.sha256(f"old-{n}".encode()).hexdigest()[:40])
                statuses.append(_post(bbrelay.url, body, WEBHOOK_SECRET, f"old-{n}"))
                n += 1

        sender = threading.Thread(target=deliver_with_old_secret)
        sender.start()
        rotated = bbrelay.bbrelay("hooks", "rotate-secret")
        new_secret = re.search(r"new webhook secret: (\S+)", rotated.stdout)
        assert new_secret is not None, rotated.stdout + rotated.stderr
        for n in range(20):
            body = push_of(hashlib.sha256(f"new-{n}".encode()).hexdigest()[:40])
            statuses.append(_post(bbrelay.url, body, new_secret.group(1), f"new-{n}"))
        stop.set()
        sender.join()
        wrong = _post(bbrelay.url, push_of("f" * 40), "not-a-secret", "wrong")
    assert rotated.stdout.count("now signs with the new secret") == 2
    assert len(statuses) > 25 and set(statuses) == {202}
    assert wrong == 401
    for hook in fake.hooks["repo=data-2/ws=acme"].values():
        assert hook["secret"] == new_secret.group(1)


def _post(url: str, body: bytes, secret: str, delivery_id: str) -> int:
    headers = {
        "X-Event-Key": "repo:push",
        "X-Request-UUID": delivery_id,
        "X-Hub-Signature": sign(Secret(secret), body),
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{url}/api/webhooks/bitbucket", content=body, headers=headers, timeout=10)
    return answer.status_code
