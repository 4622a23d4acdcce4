"""A webhook's payload as inventory documents, with no API call: pure, no I/O.

Cloud `pullrequest:*` and DC `pr:*` carry the whole pull request with its participants;
`repo:push`/`repo:refs_changed` say the repository was active; Pipelines' own
`repo:commit_status_*` tell a run's state; `repo:created`/`repo:deleted` where delivered.
https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.inventory import entities
from shared.inventory.entities import Document

PUSH_KEYS = frozenset({"repo:push", "repo:refs_changed"})
RUN_KEYS = frozenset({"repo:commit_status_created", "repo:commit_status_updated"})
PULL_REQUEST_PREFIXES = ("pullrequest:", "pr:")


@dataclass(frozen=True)
class Seen:
    """What one webhook tells: its workspace, documents to upsert, (type, id)s deleted."""

    workspace: str
    upserts: tuple[Document, ...] = ()
    deletes: tuple[tuple[str, str], ...] = field(default=())


def workspace_of(product: str, repository: dict[str, Any]) -> str:
    if product == "cloud":
        return str(repository.get("full_name", "")).partition("/")[0].lower()
    return str((repository.get("project") or {}).get("key", "")).lower()


def seen_in(product: str, event_key: str, payload: dict[str, Any], at: str) -> Seen | None:
    """The inventory news of one delivery received at `at` (ISO time); None when it has none."""
    repo_data = payload.get("repository")
    if repo_data is None and product == "server":
        pull = payload.get("pullRequest") or {}
        repo_data = (pull.get("toRef") or {}).get("repository")
    if not isinstance(repo_data, dict):
        return None
    workspace = workspace_of(product, repo_data)
    repository = entities.repository(product, repo_data)
    if not workspace or not repository["id"]:
        return None
    repo_id = repository["id"]
    if event_key == "repo:deleted":
        return Seen(workspace, deletes=(("repository", repo_id),))
    if event_key == "pr:deleted":
        number = int((payload.get("pullRequest") or {}).get("id", 0))
        gone = entities.pull_request_id(repo_id, number)
        return Seen(workspace, deletes=(("pull_request", gone),))
    if event_key.startswith(PULL_REQUEST_PREFIXES):
        return Seen(workspace, (_pull_request(product, event_key, payload, repo_id),))
    if event_key in PUSH_KEYS:
        return Seen(workspace, ({**repository, "last_activity": at},))
    if event_key == "repo:created":
        return Seen(workspace, (repository,))
    if event_key in RUN_KEYS:
        status = payload.get("commit_status") or {}
        if "/pipelines/" not in str(status.get("url", "")):
            return None  # another CI's status: not a Pipelines run
        return Seen(workspace, (entities.pipeline_run(repo_id, status),))
    return None


def _pull_request(product: str, event_key: str, payload: dict[str, Any], repo_id: str) -> Document:
    """The pull request as the payload has it; Cloud's `approval` adds or removes its user."""
    if product == "server":
        return entities.pull_request(product, payload.get("pullRequest") or {}, repo_id)
    document = entities.pull_request(product, payload.get("pullrequest") or {}, repo_id)
    approval = payload.get("approval")
    if isinstance(approval, dict):
        uid = entities.user(product, approval.get("user") or {})["id"]
        approvers = set(document["approvers"])
        if event_key == "pullrequest:approved":
            approvers.add(uid)
        elif event_key == "pullrequest:unapproved":
            approvers.discard(uid)
        document["approvers"] = sorted(approvers)
        document["participants"] = sorted(set(document["participants"]) | {uid})
    return document
