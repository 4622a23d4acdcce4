"""Bitbucket Cloud and Server/DC objects as inventory documents of one shape: pure, no I/O.

Every document has `type` and `id` (Cloud UUIDs, DC numeric ids as text; a group's slug or
name; a pull request's repository id and number). Relations are ids: a repository's
`project`, a pull request's `repository`, `author` (opened), `reviewers` (reviewed),
`approvers` (approved) and `participants`, a group's `members`, a run's `repository`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Document = dict[str, Any]
TYPES = ("project", "repository", "user", "group", "pull_request", "pipeline_run")


def _iso(value: Any) -> str | None:
    """ISO 8601 in UTC from Cloud's ISO text or DC's epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000.0, UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    return moment.isoformat()


def user(product: str, data: dict[str, Any]) -> Document:
    """A Cloud account (uuid) or a DC user (numeric id)."""
    if product == "cloud":
        return {
            "type": "user",
            "id": str(data.get("uuid") or data.get("account_id") or ""),
            "name": str(data.get("nickname") or data.get("username") or ""),
            "display_name": str(data.get("display_name") or ""),
        }
    return {
        "type": "user",
        "id": str(data.get("id", "")),
        "name": str(data.get("slug") or data.get("name") or ""),
        "display_name": str(data.get("displayName") or data.get("name") or ""),
    }


def project(product: str, data: dict[str, Any], workspace: str) -> Document:
    return {
        "type": "project",
        "id": str(data.get("uuid") if product == "cloud" else data.get("id", "")),
        "key": str(data.get("key", "")),
        "name": str(data.get("name", "")),
        "workspace": workspace,
    }


def repository(product: str, data: dict[str, Any]) -> Document:
    """A repository; `updated_on` is Cloud's (pushes move it), `last_activity` the relay's."""
    if product == "cloud":
        full_name = str(data.get("full_name", ""))
        owner_project = data.get("project") or {}
        return {
            "type": "repository",
            "id": str(data.get("uuid", "")),
            "full_name": full_name,
            "name": str(data.get("name") or full_name.partition("/")[2]),
            "project": owner_project.get("uuid"),
            "is_private": bool(data.get("is_private", True)),
            "updated_on": _iso(data.get("updated_on")),
        }
    owner = data.get("project") or {}
    return {
        "type": "repository",
        "id": str(data.get("id", "")),
        "full_name": f"{owner.get('key', '')}/{data.get('slug', '')}",
        "name": str(data.get("name") or data.get("slug") or ""),
        "project": str(owner["id"]) if "id" in owner else None,
        "is_private": not bool(data.get("public", False)),
        "updated_on": None,
    }


def group(group_id: str, name: str, members: list[str]) -> Document:
    return {"type": "group", "id": group_id, "name": name, "members": sorted(set(members))}


def pull_request_id(repository_id: str, number: int) -> str:
    return f"{repository_id}#{number}"


def pull_request(product: str, data: dict[str, Any], repository_id: str) -> Document:
    """A pull request with who opened, reviewed, approved and took part in it (user ids)."""
    if product == "cloud":
        return _cloud_pull_request(data, repository_id)
    return _server_pull_request(data, repository_id)


def _cloud_pull_request(data: dict[str, Any], repository_id: str) -> Document:
    """Participants are `{user, role, approved}` in the API and in live webhooks; Atlassian's
    documented webhook example lists bare accounts, read as participants who did not approve.
    https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pullrequests/#api-repositories-workspace-repo-slug-pullrequests-get
    """
    author = user("cloud", data.get("author") or {})["id"]
    reviewers = {user("cloud", r)["id"] for r in data.get("reviewers") or ()}
    participants: set[str] = set()
    approvers: set[str] = set()
    for entry in data.get("participants") or ():
        account = entry.get("user") if "user" in entry else entry
        uid = user("cloud", account or {})["id"]
        participants.add(uid)
        if entry.get("role") == "REVIEWER":
            reviewers.add(uid)
        if entry.get("approved"):
            approvers.add(uid)
    source = data.get("source") or {}
    destination = data.get("destination") or {}
    state = str(data.get("state", ""))
    return _pull_request_document(
        repository_id,
        int(data.get("id", 0)),
        title=str(data.get("title", "")),
        state=state,
        author=author,
        reviewers=reviewers,
        approvers=approvers,
        participants=participants | reviewers | {author},
        source=_cloud_end(source),
        destination=_cloud_end(destination),
        created_on=_iso(data.get("created_on")),
        updated_on=_iso(data.get("updated_on")),
        merged_on=_iso(data.get("updated_on")) if state == "MERGED" else None,
        comment_count=_count(data.get("comment_count")),
        task_count=_count(data.get("task_count")),
    )


def _count(*values: Any) -> int | None:
    """A sum of counts, or None (unknown: a stored count is kept) when the payload has none."""
    given = [int(value) for value in values if value is not None]
    return sum(given) if given else None


def _cloud_end(end: dict[str, Any]) -> Document:
    return {
        "repository": (end.get("repository") or {}).get("full_name"),
        "branch": (end.get("branch") or {}).get("name"),
        "commit": (end.get("commit") or {}).get("hash"),
    }


def _server_pull_request(data: dict[str, Any], repository_id: str) -> Document:
    """DC pull requests carry author, reviewers and participants with `approved` in every page.
    https://developer.atlassian.com/server/bitbucket/rest/v819/api-group-pull-requests/
    """
    author = user("server", (data.get("author") or {}).get("user") or {})["id"]
    reviewers = {user("server", r.get("user") or {})["id"] for r in data.get("reviewers") or ()}
    people = [*(data.get("reviewers") or ()), *(data.get("participants") or ())]
    approvers = {user("server", p.get("user") or {})["id"] for p in people if p.get("approved")}
    participants = {user("server", p.get("user") or {})["id"] for p in people}
    state = str(data.get("state", ""))
    properties = data.get("properties") or {}
    return _pull_request_document(
        repository_id,
        int(data.get("id", 0)),
        title=str(data.get("title", "")),
        state=state,
        author=author,
        reviewers=reviewers,
        approvers=approvers,
        participants=participants | {author},
        source=_server_end(data.get("fromRef") or {}),
        destination=_server_end(data.get("toRef") or {}),
        created_on=_iso(data.get("createdDate")),
        updated_on=_iso(data.get("updatedDate")),
        merged_on=_iso(data.get("closedDate") or data.get("updatedDate"))
        if state == "MERGED"
        else None,
        comment_count=_count(properties.get("commentCount")),
        task_count=_count(properties.get("openTaskCount"), properties.get("resolvedTaskCount")),
    )


def _server_end(ref: dict[str, Any]) -> Document:
    repo = ref.get("repository") or {}
    return {
        "repository": f"{(repo.get('project') or {}).get('key', '')}/{repo.get('slug', '')}",
        "branch": ref.get("displayId"),
        "commit": ref.get("latestCommit"),
    }


def _pull_request_document(
    repository_id: str,
    number: int,
    *,
    reviewers: set[str],
    approvers: set[str],
    participants: set[str],
    **fields: Any,
) -> Document:
    return {
        "type": "pull_request",
        "id": pull_request_id(repository_id, number),
        "repository": repository_id,
        "number": number,
        **fields,
        "reviewers": sorted(reviewers),
        "approvers": sorted(approvers),
        "participants": sorted(participants - {""}),
    }


def pipeline_run(repository_id: str, status: dict[str, Any]) -> Document:
    """A Pipelines run as its commit build status tells it (`repo:commit_status_*`).
    https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#Build-status-created
    """
    commit = str((status.get("commit") or {}).get("hash", ""))
    state = str(status.get("state", ""))
    created, updated = _iso(status.get("created_on")), _iso(status.get("updated_on"))
    duration = None
    if created and updated and state != "INPROGRESS":
        elapsed = datetime.fromisoformat(updated) - datetime.fromisoformat(created)
        duration = int(elapsed.total_seconds())
    return {
        "type": "pipeline_run",
        "id": f"{repository_id}#{status.get('key', '')}#{commit}",
        "repository": repository_id,
        "commit": commit,
        "name": str(status.get("name", "")),
        "state": state,
        "result": None if state == "INPROGRESS" else state,
        "url": status.get("url"),
        "created_on": created,
        "updated_on": updated,
        "duration": duration,
    }
