"""`bbrelay send-test-event`'s payloads: the README's aliases, and another repository."""

from __future__ import annotations

import pytest

from bbrelay.test_event import UnknownTestEvent, payload_for, resolve_event
from shared.payloads import parse_event


@pytest.mark.parametrize(
    ("product", "name", "key"),
    [
        ("cloud", "push", "repo:push"),
        ("server", "push", "repo:refs_changed"),
        ("cloud", "pr_opened", "pullrequest:created"),
        ("server", "pr_merged", "pr:merged"),
        ("cloud", "pullrequest:merged", "pullrequest:fulfilled"),
        ("server", "pr:opened", "pr:opened"),
    ],
)
def test_aliases_resolve_to_the_products_event_key(product: str, name: str, key: str) -> None:
    assert resolve_event(product, name) == key


def test_an_unknown_event_lists_the_products_keys_and_aliases() -> None:
    with pytest.raises(UnknownTestEvent) as refused:
        payload_for("server", "repo:nope", unique=True)
    assert "repo:refs_changed" in str(refused.value) and "pr_opened" in str(refused.value)
    assert "repo:push" not in str(refused.value)


@pytest.mark.parametrize(
    ("product", "event_key", "repository"),
    [
        ("cloud", "repo:push", "acme/data-pipeline"),
        ("cloud", "pullrequest:created", "acme/data-pipeline"),
        ("server", "repo:refs_changed", "ACME/data-pipeline"),
        ("server", "pr:opened", "ACME/data-pipeline"),
    ],
)
def test_repo_moves_the_payload_to_that_repository(
    product: str, event_key: str, repository: str
) -> None:
    body = payload_for(product, event_key, unique=True, repository=repository)
    event = parse_event({"X-Event-Key": event_key}, body, received_at=0.0, delivery_id="d")
    assert event.repository == repository
    assert event.workspace == repository.split("/")[0]
