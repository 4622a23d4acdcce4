"""Parse one Bitbucket webhook delivery (Cloud or Server/DC) into the normalised `Event`.

Payload references (the quirks handled below follow these):
Cloud: https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
Server/DC: https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html

Exceptions::

    PayloadError            .field names the header or JSON path, .reason says what is wrong
    ├── InvalidPayload      malformed JSON, or a payload that does not fit its event's schema
    ├── EventKeyMismatch    X-Event-Key and the body's eventKey disagree
    └── UnknownEventKey     a key in neither catalog (the receiver answers 202 ignored)

Only the fields the relay reads are declared and validated (unknown keys are excluded, not
walked), so a large push costs no more than a small one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from shared.event_keys import CLOUD_EVENT_KEYS, SERVER_EVENT_KEYS
from shared.events import Event
from shared.repository_names import FULL_NAME_RULE, is_valid_full_name, is_valid_segment

PING = "diagnostics:ping"
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_NULL_SHA = "0" * 40
_KEY_ECHO_LIMIT = 100


class HeaderItems(Protocol):
    """Request headers: a dict in any letter case, or werkzeug's `Headers` (not a Mapping)."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class PayloadError(Exception):
    """A delivery the relay cannot turn into an Event; str() is "<field>: <reason>"."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidPayload(PayloadError):
    """Malformed JSON, or a payload missing (or mistyping) a field its event needs."""


class EventKeyMismatch(PayloadError):
    """The X-Event-Key header and the body's eventKey name different events."""


class UnknownEventKey(PayloadError):
    """An event key that neither Bitbucket Cloud nor Server/DC documents."""


# --- Schemas: only what is read; every Schema ignores undeclared keys. ---


class _Schema(Schema):
    """Field names are Bitbucket's own (camelCase on Server/DC), so a loaded dict reads like it."""

    class Meta:
        unknown = EXCLUDE


def _optional(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(schema, allow_none=True, load_default=None)


def _required(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(schema, required=True)


_NON_EMPTY = validate.Length(min=1, error="may not be empty")


def _full_name(value: str) -> bool:
    if not is_valid_full_name(value):
        raise ValidationError(FULL_NAME_RULE)
    return True


def _segment(value: str) -> bool:
    if not is_valid_segment(value):
        raise ValidationError("expected letters, digits, '-', '_', '.' or '~', not only dots")
    return True


class _Hash(_Schema):
    hash = fields.Str(required=True)


class _CloudActor(_Schema):
    nickname = fields.Str(allow_none=True, load_default=None)
    display_name = fields.Str(allow_none=True, load_default=None)
    account_id = fields.Str(allow_none=True, load_default=None)


class _CloudRepository(_Schema):
    full_name = fields.Str(required=True, validate=_full_name)


class _CloudBase(_Schema):
    repository = _required(_CloudRepository)
    actor = _optional(_CloudActor)


class _CloudProject(_CloudBase):
    """project:* events concern a project, not one repository."""

    repository = _optional(_CloudRepository)


class _CloudOldRef(_Schema):
    type = fields.Str(required=True)
    name = fields.Str(required=True, validate=_NON_EMPTY)
    target = _optional(_Hash)


class _CloudNewRef(_CloudOldRef):
    target = _required(_Hash)


class _CloudChange(_Schema):
    new = _optional(_CloudNewRef)
    old = _optional(_CloudOldRef)

    @validates_schema
    def _has_a_side(self, data: dict[str, Any], **_: Any) -> None:
        if data["new"] is None and data["old"] is None:
            raise ValidationError("change has neither 'new' nor 'old'")


class _CloudPush(_Schema):
    changes = fields.List(fields.Nested(_CloudChange), required=True)


class _CloudPushPayload(_CloudBase):
    push = _required(_CloudPush)


class _CloudBranch(_Schema):
    name = fields.Str(required=True, validate=_NON_EMPTY)


class _CloudEndpoint(_Schema):
    branch = _required(_CloudBranch)
    commit = _optional(_Hash)
    repository = _optional(_CloudRepository)


class _CloudPullRequest(_Schema):
    id = fields.Int(required=True, strict=True)
    source = _required(_CloudEndpoint)
    destination = _required(_CloudEndpoint)
    merge_commit = _optional(_Hash)


class _CloudPullRequestPayload(_CloudBase):
    pullrequest = _required(_CloudPullRequest)


class _CloudCommitStatus(_Schema):
    commit = _required(_Hash)
    refname = fields.Str(allow_none=True, load_default=None)
    state = fields.Str(allow_none=True, load_default=None)
    name = fields.Str(allow_none=True, load_default=None)
    url = fields.Str(allow_none=True, load_default=None)


class _CloudCommitStatusPayload(_CloudBase):
    commit_status = _required(_CloudCommitStatus)


class _ServerProject(_Schema):
    key = fields.Str(required=True, validate=_segment)


class _ServerRepository(_Schema):
    slug = fields.Str(required=True, validate=_segment)
    project = _required(_ServerProject)


class _ServerActor(_Schema):
    name = fields.Str(allow_none=True, load_default=None)


class _ServerBase(_Schema):
    repository = _optional(_ServerRepository)
    actor = _optional(_ServerActor)


class _ServerRepoModified(_ServerBase):
    """repo:modified carries the repository as `old` and `new`, not `repository`."""

    new = _optional(_ServerRepository)


class _ServerRef(_Schema):
    id = fields.Str(required=True, validate=_NON_EMPTY)
    displayId = fields.Str(required=True)
    type = fields.Str(allow_none=True, load_default=None)


class _ServerChange(_Schema):
    ref = _required(_ServerRef)
    toHash = fields.Str(required=True)
    type = fields.Str(allow_none=True, load_default=None)


class _ServerRefsChanged(_ServerBase):
    repository = _required(_ServerRepository)
    changes = fields.List(fields.Nested(_ServerChange), required=True)


class _ServerMirrorSynchronized(_ServerRefsChanged):
    """A mirror that hit its ref limit sends no `changes`."""

    changes = fields.List(fields.Nested(_ServerChange), load_default=list)


class _ServerPullRequestRef(_Schema):
    id = fields.Str(required=True, validate=_NON_EMPTY)
    displayId = fields.Str(required=True)
    latestCommit = fields.Str(required=True)
    repository = _required(_ServerRepository)


class _ServerMergeCommit(_Schema):
    id = fields.Str(required=True)


class _ServerPullRequestProperties(_Schema):
    mergeCommit = _optional(_ServerMergeCommit)


class _ServerPullRequest(_Schema):
    id = fields.Int(required=True, strict=True)
    fromRef = _required(_ServerPullRequestRef)
    toRef = _required(_ServerPullRequestRef)
    properties = _optional(_ServerPullRequestProperties)


class _ServerPullRequestPayload(_ServerBase):
    pullRequest = _required(_ServerPullRequest)


_CLOUD_BASE = _CloudBase()
_CLOUD_PROJECT = _CloudProject()
_CLOUD_PUSH = _CloudPushPayload()
_CLOUD_PULL_REQUEST = _CloudPullRequestPayload()
_CLOUD_COMMIT_STATUS = _CloudCommitStatusPayload()
_SERVER_BASE = _ServerBase()
_SERVER_REPO_MODIFIED = _ServerRepoModified()
_SERVER_REFS_CHANGED = _ServerRefsChanged()
_SERVER_MIRROR = _ServerMirrorSynchronized()
_SERVER_PULL_REQUEST = _ServerPullRequestPayload()

_SERVER_ONLY = SERVER_EVENT_KEYS - CLOUD_EVENT_KEYS
_CLOUD_ONLY = CLOUD_EVENT_KEYS - SERVER_EVENT_KEYS
_KNOWN = CLOUD_EVENT_KEYS | SERVER_EVENT_KEYS

# --- Public API ---


def read_event_key(headers: HeaderItems, body_json: Mapping[str, Any] | None) -> str:
    """The event key from X-Event-Key (Cloud and DC) or the body's `eventKey` (DC only).

    Raises EventKeyMismatch when both are present and differ (the header is not signed, the
    body is), and InvalidPayload when neither is present.
    """
    return _event_key(_lowered(headers), body_json)


def detect_product(headers: HeaderItems, event_key: str) -> Literal["cloud", "server"]:
    """Which Bitbucket sent this: the key decides; for a key both use, the request id header.

    Cloud sends X-Request-UUID; Server/DC sends X-Request-Id.
    """
    return _product(_lowered(headers), event_key)


def parse_event(
    headers: HeaderItems, body: bytes, *, received_at: float, delivery_id: str
) -> Event:
    """Validate one delivery and normalise it into an Event (raises a PayloadError)."""
    lowered = _lowered(headers)
    data = _load_json(body)
    key = _event_key(lowered, data)
    if key not in _KNOWN:
        raise UnknownEventKey("X-Event-Key", f"unknown event key {key[:_KEY_ECHO_LIMIT]!r}")
    product = _product(lowered, key)
    found = _from_cloud(key, data) if product == "cloud" else _from_server(key, data)
    return Event(
        product=product,
        event_key=key,
        delivery_id=delivery_id,
        hook_uuid=lowered.get("x-hook-uuid") or None,
        attempt=_attempt(lowered.get("x-attempt-number")),
        workspace=found.get("workspace"),
        repository=found.get("repository"),
        ref=found.get("ref"),
        branch=found.get("branch"),
        commit=found.get("commit"),
        merge_commit=found.get("merge_commit"),
        pr_id=found.get("pr_id"),
        pr_source_branch=found.get("pr_source_branch"),
        pr_source_commit=found.get("pr_source_commit"),
        pr_source_repository=found.get("pr_source_repository"),
        pr_destination_branch=found.get("pr_destination_branch"),
        pr_destination_commit=found.get("pr_destination_commit"),
        actor=found.get("actor"),
        received_at=received_at,
        status_state=found.get("status_state"),
        status_build=found.get("status_build"),
    )


# --- Headers, JSON, key ---


def _lowered(headers: HeaderItems) -> dict[str, str]:
    """Header names folded to lower case (works for dicts and werkzeug Headers alike)."""
    return {name.lower(): value for name, value in headers.items()}


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InvalidPayload("body", f"malformed JSON: {message}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InvalidPayload("body", f"malformed JSON: expected an object, got {kind}")
    return data


def _event_key(lowered: Mapping[str, str], body_json: Mapping[str, Any] | None) -> str:
    header = lowered.get("x-event-key", "").strip() or None
    body_key = body_json.get("eventKey") if body_json is not None else None
    if body_key is not None and not isinstance(body_key, str):
        raise InvalidPayload("eventKey", "expected a string")
    body_key = body_key.strip() if body_key else None
    if header and body_key and header != body_key:
        raise EventKeyMismatch(
            "X-Event-Key",
            f"header says {header[:_KEY_ECHO_LIMIT]!r}, body eventKey says "
            f"{body_key[:_KEY_ECHO_LIMIT]!r}",
        )
    key = header or body_key
    if not key:
        raise InvalidPayload("X-Event-Key", "missing")
    return key


def _product(lowered: Mapping[str, str], key: str) -> Literal["cloud", "server"]:
    if key in _SERVER_ONLY:
        return "server"
    if key in _CLOUD_ONLY:
        return "cloud"
    if "x-request-id" in lowered and "x-request-uuid" not in lowered:
        return "server"
    return "cloud"


def _attempt(value: str | None) -> int:
    """X-Attempt-Number; absent or garbled means a first attempt (it is informational)."""
    try:
        attempt = int(value) if value else 1
    except ValueError:
        return 1
    return max(attempt, 1)


def _load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        field, reason = _first_error(exc.messages, ())
        raise InvalidPayload(field, reason) from None
    return loaded


_REASONS = {
    "Missing data for required field.": "missing required field",
    "Field may not be null.": "may not be null",
    "Invalid input type.": "expected an object",
    "Not a valid string.": "expected a string",
    "Not a valid integer.": "expected an integer",
    "Not a valid list.": "expected a list",
}


def _first_error(messages: Any, path: tuple[str, ...]) -> tuple[str, str]:
    """The JSON path and reason of the first error marshmallow reports."""
    if isinstance(messages, dict) and messages:
        key, inner = next(iter(messages.items()))
        return _first_error(inner, path if key == "_schema" else (*path, str(key)))
    if isinstance(messages, list) and messages:
        return _first_error(messages[0], path)
    where = ".".join(path) or "body"
    if isinstance(messages, str):
        return where, _REASONS.get(messages, messages.rstrip("."))
    return where, "invalid"


def _full_sha(value: str | None) -> str | None:
    """A full 40-hex commit id, or None (short hashes, and the all-zero hash of a deletion)."""
    if not value:
        return None
    sha = value.lower()
    return sha if _FULL_SHA.fullmatch(sha) and sha != _NULL_SHA else None


# --- Bitbucket Cloud ---


def _from_cloud(key: str, data: dict[str, Any]) -> dict[str, Any]:
    if key == "repo:push":
        loaded = _load(_CLOUD_PUSH, data)
        found = _cloud_push(loaded["push"]["changes"])
    elif key.startswith("pullrequest:"):
        loaded = _load(_CLOUD_PULL_REQUEST, data)
        found = _cloud_pull_request(loaded["pullrequest"])
    elif key.startswith("repo:commit_status_"):
        loaded = _load(_CLOUD_COMMIT_STATUS, data)
        found = _cloud_commit_status(loaded["commit_status"])
    elif key.startswith(("project:", "pipeline:")):
        loaded = _load(_CLOUD_PROJECT, data)
        found = {}
    else:
        loaded = _load(_CLOUD_BASE, data)
        found = {}
    repository = loaded["repository"]
    if repository is not None:
        # full_name, not repository.workspace.slug: always present (older payloads have no
        # `workspace`), and it keeps `workspace` the prefix of `repository` for allow lists.
        found["repository"] = repository["full_name"]
        found["workspace"] = repository["full_name"].split("/", 1)[0]
    found["actor"] = _cloud_actor(loaded["actor"])
    return found


def _cloud_actor(actor: dict[str, Any] | None) -> str | None:
    if actor is None:
        return None
    name: str | None = actor["nickname"] or actor["display_name"] or actor["account_id"]
    return name


def _cloud_push(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The first change that creates or moves a ref; else the first (a deletion)."""
    change = next((c for c in changes if c["new"] is not None), changes[0] if changes else None)
    if change is None:
        return {}
    side = change["new"] or change["old"]
    kind = {"branch": "refs/heads/", "tag": "refs/tags/"}.get(side["type"])
    found: dict[str, Any] = {"ref": f"{kind}{side['name']}" if kind else None}
    if side["type"] == "branch":
        found["branch"] = side["name"]
    if change["new"] is not None:
        found["commit"] = _full_sha(side["target"]["hash"])
    return found


def _cloud_pull_request(pull_request: dict[str, Any]) -> dict[str, Any]:
    source, destination = pull_request["source"], pull_request["destination"]
    source_branch = source["branch"]["name"]
    source_commit = source["commit"]["hash"] if source["commit"] else None
    merge_commit = pull_request["merge_commit"]
    return {
        "ref": f"refs/heads/{source_branch}",
        "branch": source_branch,
        "commit": _full_sha(source_commit),
        "merge_commit": merge_commit["hash"] if merge_commit else None,
        "pr_id": pull_request["id"],
        "pr_source_branch": source_branch,
        "pr_source_commit": source_commit,
        "pr_source_repository": source["repository"]["full_name"] if source["repository"] else None,
        "pr_destination_branch": destination["branch"]["name"],
        "pr_destination_commit": destination["commit"]["hash"] if destination["commit"] else None,
    }


def _cloud_commit_status(status: dict[str, Any]) -> dict[str, Any]:
    """`refname` is a branch name in practice; a full `refs/...` name is taken as given."""
    found: dict[str, Any] = {
        "commit": _full_sha(status["commit"]["hash"]),
        "status_state": status["state"],
        "status_build": pipelines_build(status["name"], status["url"]),
    }
    refname = status["refname"]
    if refname and refname.startswith("refs/"):
        found["ref"] = refname
        if refname.startswith("refs/heads/"):
            found["branch"] = refname.removeprefix("refs/heads/")
    elif refname:
        found["ref"] = f"refs/heads/{refname}"
        found["branch"] = refname
    return found


def pipelines_build(name: str | None, url: str | None) -> int | None:
    """The build number of a status Bitbucket Pipelines posted itself ("Pipeline #4 for main",
    url ending `/results/4`); None for any other status."""
    if not name or not url or not name.startswith("Pipeline #"):
        return None
    found = _PIPELINES_RESULT.search(url)
    return int(found.group(1)) if found else None


_PIPELINES_RESULT = re.compile(r"/results/(\d+)/?$")


# --- Bitbucket Server / Data Center ---


def _from_server(key: str, data: dict[str, Any]) -> dict[str, Any]:
    if key == PING:
        return {}
    if key == "repo:refs_changed":
        loaded = _load(_SERVER_REFS_CHANGED, data)
        found = _server_refs_changed(loaded["changes"])
    elif key == "mirror:repo_synchronized":
        loaded = _load(_SERVER_MIRROR, data)
        found = _server_refs_changed(loaded["changes"])
    elif key.startswith("pr:"):
        loaded = _load(_SERVER_PULL_REQUEST, data)
        found = _server_pull_request(loaded["pullRequest"])
        loaded["repository"] = loaded["pullRequest"]["toRef"]["repository"]
    elif key == "repo:modified":
        loaded = _load(_SERVER_REPO_MODIFIED, data)
        loaded["repository"] = loaded["repository"] or loaded["new"]
        found = {}
    else:
        loaded = _load(_SERVER_BASE, data)
        found = {}
    repository = loaded["repository"]
    if repository is not None:
        project = repository["project"]["key"]
        found["workspace"] = project
        found["repository"] = f"{project}/{repository['slug']}"
    found["actor"] = loaded["actor"]["name"] if loaded["actor"] else None
    return found


def _server_full_name(repository: dict[str, Any]) -> str:
    """PROJECT/slug; a personal fork's project key is `~user`."""
    return f"{repository['project']['key']}/{repository['slug']}"


def _server_refs_changed(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The first change that is not a deletion; else the first (as for Cloud pushes)."""
    live = (c for c in changes if c["type"] != "DELETE" and _full_sha(c["toHash"]))
    change = next(live, changes[0] if changes else None)
    if change is None:
        return {}
    ref = change["ref"]
    is_branch = ref["type"] == "BRANCH" or (
        ref["type"] is None and ref["id"].startswith("refs/heads/")
    )
    deleted = change["type"] == "DELETE"
    return {
        "ref": ref["id"],
        "branch": ref["displayId"] if is_branch else None,
        "commit": None if deleted else _full_sha(change["toHash"]),
    }


def _server_pull_request(pull_request: dict[str, Any]) -> dict[str, Any]:
    source, destination = pull_request["fromRef"], pull_request["toRef"]
    properties = pull_request["properties"]
    merge_commit = properties["mergeCommit"] if properties else None
    return {
        "ref": source["id"],
        "branch": source["displayId"],
        "commit": _full_sha(source["latestCommit"]),
        "merge_commit": merge_commit["id"] if merge_commit else None,
        "pr_id": pull_request["id"],
        "pr_source_branch": source["displayId"],
        "pr_source_commit": source["latestCommit"],
        "pr_source_repository": _server_full_name(source["repository"]),
        "pr_destination_branch": destination["displayId"],
        "pr_destination_commit": destination["latestCommit"],
    }
