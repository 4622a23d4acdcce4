"""A missed head as an ordinary push delivery (Cloud `repo:push`, DC `repo:refs_changed`),
recorded, deduped and queued as a webhook."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from shared.config.settings import Product
from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.payloads import parse_event
from shared.reconcile.heads import Head

SOURCE = "reconcile"
NO_COMMIT = "0" * 40  # DC's `fromHash` of a branch that did not exist
Send = Callable[[dict[str, Any], str], None]  # (event JSON, task id): queue HANDLE_EVENT


def delivery_id_for(head: Head) -> str:
    """The same head always gets the same id, so a pass repeated never doubles an event."""
    digest = hashlib.sha256(f"{head.repository}\n{head.branch}\n{head.commit}".encode()).hexdigest()
    return f"reconcile-{digest[:40]}"


def push_body(head: Head) -> bytes:
    """A Cloud `repo:push` payload in Bitbucket's shape, with only the fields the relay reads.
    https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#Push
    """
    change = {
        "new": {
            "type": "branch",
            "name": head.branch,
            "target": {"type": "commit", "hash": head.commit},
        },
        "old": None,
        "forced": head.kind == "force_push",
    }
    payload = {
        "push": {"changes": [change]},
        "repository": {"type": "repository", "full_name": head.repository},
    }
    return json.dumps(payload, sort_keys=True).encode()


def refs_changed_body(head: Head) -> bytes:
    """A DC `repo:refs_changed` payload in Bitbucket's shape, with the fields the relay reads
    (no `date`: the same head always gives the same body, so the body dedupe applies too).
    https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html#Eventpayload-Push
    """
    project, _, slug = head.repository.partition("/")
    change = {
        "ref": {"id": f"refs/heads/{head.branch}", "displayId": head.branch, "type": "BRANCH"},
        "refId": f"refs/heads/{head.branch}",
        "fromHash": head.previous or NO_COMMIT,
        "toHash": head.commit,
        "type": "ADD" if head.previous is None else "UPDATE",
    }
    payload = {
        "eventKey": "repo:refs_changed",
        "repository": {"slug": slug, "project": {"key": project}},
        "changes": [change],
    }
    return json.dumps(payload, sort_keys=True).encode()


def event_for(head: Head, received_at: float, product: Product = "cloud") -> tuple[Event, bytes]:
    delivery_id = delivery_id_for(head)
    if product == "cloud":
        body = push_body(head)
        headers = {"X-Event-Key": "repo:push", "X-Request-UUID": delivery_id}
    else:
        body = refs_changed_body(head)
        headers = {"X-Event-Key": "repo:refs_changed", "X-Request-Id": delivery_id}
    return parse_event(headers, body, received_at=received_at, delivery_id=delivery_id), body


def feed(
    store: DeliveryStore, head: Head, received_at: float, send: Send, product: Product = "cloud"
) -> bool:
    """Claim and queue the head's event; False when it was already fed (same id or body).

    When queueing fails after the claim, the record stays `queued` with its deadline and the
    recovery sweep sends it from its stored body, as for a webhook.
    """
    event, body = event_for(head, received_at, product)
    task_id = str(uuid.uuid4())
    fields = {
        "event_key": event.event_key,
        "product": event.product,
        "repository": head.repository,
        "received_at": f"{received_at:.6f}",
        "task_id": task_id,
        "source": SOURCE,
        "reconcile_kind": head.kind,
    }
    claim = store.claim(event.delivery_id, hashlib.sha256(body).hexdigest(), body, fields)
    if not claim.is_new:
        return False
    send(event.to_json(), task_id)
    return True
