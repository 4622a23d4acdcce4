"""The one normalised `Event` both products' webhooks become, and its JSON form for Celery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

Product = Literal["cloud", "server"]

_REQUIRED = ("product", "event_key", "delivery_id", "attempt", "received_at")


@dataclass(frozen=True)
class Event:
    """A Bitbucket Cloud or Server/DC webhook delivery, reduced to what routing and jobs need.

    `commit` is always a full 40-hex sha or None (None for a deleted ref, and for Cloud pull
    requests, whose payloads carry only 12-char hashes); `merge_commit`, `pr_source_commit` and
    `pr_destination_commit` are kept as the payload gives them, so they may be short on Cloud.
    """

    product: Product
    event_key: str
    delivery_id: str
    hook_uuid: str | None
    attempt: int
    workspace: str | None
    repository: str | None
    ref: str | None
    branch: str | None
    commit: str | None
    merge_commit: str | None
    pr_id: int | None
    pr_source_branch: str | None
    pr_source_commit: str | None
    pr_destination_branch: str | None
    pr_destination_commit: str | None
    actor: str | None
    received_at: float
    pr_source_repository: str | None = None  # full name; another repository for a fork's PR
    status_state: str | None = None  # a commit status event's state (SUCCESSFUL, FAILED …)
    status_build: int | None = None  # the Pipelines build number a status was posted for

    @property
    def is_pull_request(self) -> bool:
        """True for every pull request event (opened, updated, merged, commented …)."""
        return self.pr_id is not None

    @property
    def is_from_fork(self) -> bool:
        """A pull request whose source branch lives in another repository (a fork)."""
        return (
            self.pr_source_repository is not None
            and self.repository is not None
            and self.pr_source_repository.lower() != self.repository.lower()
        )

    def to_json(self) -> dict[str, Any]:
        """The event as a dict of JSON primitives (the Celery task argument)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from `to_json` output.

        Unknown keys are ignored and missing optional ones default to None, so a task enqueued
        by an older or newer receiver still loads during a rolling deploy.
        """
        missing = [name for name in _REQUIRED if data.get(name) is None]
        if missing:
            raise ValueError(f"event is missing {', '.join(missing)}")
        product = data["product"]
        if product not in ("cloud", "server"):
            raise ValueError(f"event product must be 'cloud' or 'server', not {product!r}")
        values: dict[str, Any] = {name: data.get(name) for name in _FIELD_NAMES}
        values["attempt"] = int(data["attempt"])
        values["received_at"] = float(data["received_at"])
        for name in ("pr_id", "status_build"):
            if values.get(name) is not None:
                values[name] = int(values[name])
        return cls(**values)


_FIELD_NAMES = tuple(field.name for field in fields(Event))
