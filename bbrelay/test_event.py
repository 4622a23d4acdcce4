"""Sign a bundled Bitbucket payload with the configured secret and post it to the receiver."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

from receiver.signature import sign
from shared.event_keys import ALIASES, RENAMED
from shared.secret import Secret

DEFAULT_EVENTS = {"cloud": "repo:push", "server": "repo:refs_changed"}
PRODUCT_INDEX = {"cloud": 0, "server": 1}  # the order of each alias's keys


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


def resolve_event(product: str, name: str) -> str:
    """The `product` event key that `name` (a key, an alias like `push` or a renamed key) means."""
    if name in ALIASES:
        return ALIASES[name][PRODUCT_INDEX[product]]
    return RENAMED.get(name, name)


def payload_for(
    product: str, event_key: str, *, unique: bool, repository: str | None = None
) -> bytes:
    """The fixture bytes, or with a `relay_test` nonce added so each send is a new event.

    `repository` (`WORKSPACE/REPO`, DC: `PROJECT/REPO`) replaces the fixture's repository.
    """
    name = f"{product}-{event_key.replace(':', '_')}.json"
    path = resources.files("bbrelay").joinpath("payloads", name)
    if not path.is_file():
        keys = available_events(product)
        aliases = [
            a for a, by_product in ALIASES.items() if by_product[PRODUCT_INDEX[product]] in keys
        ]
        choices = ", ".join([*keys, *aliases])
        raise UnknownTestEvent(f"no {product} test payload for {event_key!r}; choose: {choices}")
    raw = path.read_bytes()
    if not unique and repository is None:
        return raw
    body = json.loads(raw)
    if repository is not None:
        _move_to(body, repository)
    if unique:
        body["relay_test"] = {"nonce": uuid.uuid4().hex}
    return json.dumps(body, separators=(",", ":")).encode()


def _move_to(node: Any, repository: str) -> None:
    """Rewrite every repository object in a Cloud or DC payload to `repository`, in place."""
    owner, _, slug = repository.partition("/")
    if isinstance(node, dict):
        if "full_name" in node:  # Cloud
            node |= {"full_name": repository, "name": slug}
            if isinstance(node.get("workspace"), dict):
                node["workspace"]["slug"] = owner
        elif "slug" in node and isinstance(node.get("project"), dict):  # Server/DC
            node |= {"slug": slug, "name": slug}
            node["project"]["key"] = owner
        for value in node.values():
            _move_to(value, repository)
    elif isinstance(node, list):
        for item in node:
            _move_to(item, repository)


def send_test_event(
    url: str,
    secret: Secret,
    product: str,
    event_key: str,
    *,
    unique: bool = True,
    repository: str | None = None,
) -> TestDelivery:
    """Post one signed delivery the way Bitbucket would and return the receiver's answer."""
    body = payload_for(product, event_key, unique=unique, repository=repository)
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
