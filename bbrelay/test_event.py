"""Sign a bundled Bitbucket payload with the configured secret and post it to the receiver."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

from receiver.signature import sign
from shared.secret import Secret

DEFAULT_EVENTS = {"cloud": "repo:push", "server": "repo:refs_changed"}


class UnknownTestEvent(ValueError):
    """No bundled payload for this product and event key."""


@dataclass(frozen=True)
class TestDelivery:
    delivery_id: str
    status: int
    answer: dict[str, Any]


def available_events(product: str) -> list[str]:
    """Event keys with a bundled payload for `product`."""
    names = resources.files("bbrelay").joinpath("payloads").iterdir()
    return sorted(
        path.name.removeprefix(f"{product}-").removesuffix(".json").replace("_", ":", 1)
        for path in names
        if path.name.startswith(f"{product}-")
    )


def payload_for(product: str, event_key: str, *, unique: bool) -> bytes:
    """The fixture bytes, or with a `relay_test` nonce added so each send is a new event."""
    name = f"{product}-{event_key.replace(':', '_')}.json"
    path = resources.files("bbrelay").joinpath("payloads", name)
    if not path.is_file():
        choices = ", ".join(available_events(product))
        raise UnknownTestEvent(f"no {product} test payload for {event_key!r}; choose: {choices}")
    raw = path.read_bytes()
    if not unique:
        return raw
    body = json.loads(raw)
    body["relay_test"] = {"nonce": uuid.uuid4().hex}
    return json.dumps(body, separators=(",", ":")).encode()


def send_test_event(
    url: str, secret: Secret, product: str, event_key: str, *, unique: bool = True
) -> TestDelivery:
    """Post one signed delivery the way Bitbucket would and return the receiver's answer."""
    body = payload_for(product, event_key, unique=unique)
    delivery_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Event-Key": event_key,
        "X-Hub-Signature": sign(secret, body),
        "User-Agent": "bbrelay-send-test-event",
    }
    if product == "cloud":
        headers |= {"X-Request-UUID": delivery_id, "X-Attempt-Number": "1"}
    else:
        headers["X-Request-Id"] = delivery_id
    response = httpx.post(url, content=body, headers=headers, timeout=10.0)
    try:
        answer = response.json()
    except ValueError:
        answer = {"raw": response.text[:200]}
    return TestDelivery(delivery_id, response.status_code, answer)
