"""Typed results of Bitbucket calls, parsed from Cloud or Server/DC JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

BuildState = Literal["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED", "CANCELLED", "UNKNOWN"]


@dataclass(frozen=True)
class User:
    """An account: Cloud uuid/account_id/nickname, DC numeric id/slug."""

    id: str
    name: str
    display_name: str
    active: bool = True

    @classmethod
    def from_cloud(cls, data: dict[str, Any]) -> User:
        return cls(
            id=str(data.get("uuid") or data.get("account_id") or ""),
            name=str(data.get("nickname") or data.get("username") or data.get("account_id") or ""),
            display_name=str(data.get("display_name") or ""),
        )

    @classmethod
    def from_server(cls, data: dict[str, Any]) -> User:
        return cls(
            id=str(data.get("id", data.get("name", ""))),
            name=str(data.get("slug") or data.get("name") or ""),
            display_name=str(data.get("displayName") or data.get("name") or ""),
            active=bool(data.get("active", True)),
        )


@dataclass(frozen=True)
class BuildStatus:
    """A commit build status as we post it (Cloud statuses/build, DC builds)."""

    state: BuildState
    key: str
    name: str
    url: str
    description: str = ""
    refname: str | None = None

    def cloud_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "state": self.state,
            "key": self.key,
            "name": self.name,
            "url": self.url,
            "description": self.description,
        }
        if self.refname:
            body["refname"] = self.refname
        return body

    def server_body(self) -> dict[str, Any]:
        body = self.cloud_body()
        body.pop("refname", None)
        if self.refname:
            ref = self.refname
            body["ref"] = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return body


@dataclass(frozen=True)
class PipelineVariable:
    """A variable a run was started with; Bitbucket blanks the value of a secured one."""

    key: str
    value: str
    secured: bool = False


@dataclass(frozen=True)
class Pipeline:
    """A Bitbucket Pipelines run and where it stands.

    `variables` is None when the answer did not carry the field at all, which is not the same
    as a run started without variables (an empty tuple).
    https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pipelines/#api-repositories-workspace-repo-slug-pipelines-pipeline-uuid-get
    """

    uuid: str
    build_number: int
    state: str
    result: str | None = None
    created_on: datetime | None = None
    variables: tuple[PipelineVariable, ...] | None = None

    @property
    def finished(self) -> bool:
        return self.state == "COMPLETED"

    @property
    def paused(self) -> bool:
        """Waiting for a person: a manual step (stage PAUSED) or a halted run."""
        return not self.finished and (
            "PAUSED" in (self.state, self.result) or self.result == "HALTED"
        )

    def variable(self, key: str) -> str | None:
        """The value of variable `key`, or None when the run has no such (readable) variable."""
        for variable in self.variables or ():
            if variable.key == key and not variable.secured:
                return variable.value
        return None

    @classmethod
    def from_cloud(cls, data: dict[str, Any]) -> Pipeline:
        state = data.get("state") or {}
        result = state.get("result") or state.get("stage") or {}
        variables = data.get("variables")
        return cls(
            uuid=str(data.get("uuid", "")),
            build_number=int(data.get("build_number") or 0),
            state=str(state.get("name", "UNKNOWN")),
            result=str(result["name"]) if result.get("name") else None,
            created_on=_timestamp(data.get("created_on")),
            variables=None
            if variables is None
            else tuple(
                PipelineVariable(
                    key=str(item.get("key", "")),
                    value=str(item.get("value") or ""),
                    secured=bool(item.get("secured", False)),
                )
                for item in variables
                if isinstance(item, dict)
            ),
        )


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as Bitbucket writes it ("2026-11-30T08:05:37.123456+00:00", "...Z")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Group:
    slug: str
    name: str
    members: tuple[User, ...] | None = None


@dataclass(frozen=True)
class Webhook:
    """A repository, workspace or project webhook of either product."""

    id: str
    url: str
    events: tuple[str, ...]
    active: bool
    secret_set: bool
    description: str = ""
    ssl_verification_required: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_cloud(cls, data: dict[str, Any]) -> Webhook:
        return cls(
            id=str(data.get("uuid", "")),
            url=str(data.get("url", "")),
            events=tuple(sorted(data.get("events") or ())),
            active=bool(data.get("active", False)),
            secret_set=bool(data.get("secret_set", False)),
            description=str(data.get("description") or ""),
            ssl_verification_required=data.get("skip_cert_verification") is not True,
            raw=data,
        )

    @classmethod
    def from_server(cls, data: dict[str, Any]) -> Webhook:
        configuration = data.get("configuration") or {}
        return cls(
            id=str(data.get("id", "")),
            url=str(data.get("url", "")),
            events=tuple(sorted(data.get("events") or ())),
            active=bool(data.get("active", False)),
            secret_set=bool(configuration.get("secret")) or bool(data.get("secret_set")),
            description=str(data.get("name") or ""),
            ssl_verification_required=data.get("sslVerificationRequired") is not False,
            raw=data,
        )


@dataclass(frozen=True)
class WebhookSpec:
    """A webhook as we want it: where, what, signed with which secret."""

    url: str
    events: tuple[str, ...]
    description: str
    secret: str
    active: bool = True
    ssl_verification_required: bool = True

    def cloud_body(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "url": self.url,
            "active": self.active,
            "events": list(self.events),
            "secret": self.secret,
            "skip_cert_verification": not self.ssl_verification_required,
        }

    def server_body(self) -> dict[str, Any]:
        return {
            "name": self.description,
            "url": self.url,
            "active": self.active,
            "events": list(self.events),
            "configuration": {"secret": self.secret},
            "sslVerificationRequired": self.ssl_verification_required,
        }


@dataclass(frozen=True)
class UpdatedRepository:
    """A repository and when Bitbucket last saw it change (Cloud's `updated_on`)."""

    full_name: str
    updated_on: datetime | None
    fields: dict[str, Any] = field(default_factory=dict, compare=False)  # the page's item

    @classmethod
    def from_cloud(cls, data: dict[str, Any]) -> UpdatedRepository:
        return cls(str(data.get("full_name", "")), _timestamp(data.get("updated_on")), data)


# DC's branch details (`details=true`) carry the head commit under this metadata key.
SERVER_LATEST_COMMIT = "com.atlassian.bitbucket.server.bitbucket-branch:latest-commit-metadata"


@dataclass(frozen=True)
class Branch:
    """A branch and its head commit (Cloud's `target.hash` and `target.date`; DC's
    `latestCommit` and its commit metadata). `committed_on` is the committer date when
    Bitbucket gave it: the date DC's MODIFICATION order sorts by."""

    name: str
    commit: str
    date: datetime | None
    committed_on: datetime | None = None

    @classmethod
    def from_cloud(cls, data: dict[str, Any]) -> Branch:
        target = data.get("target") or {}
        return cls(
            str(data.get("name", "")), str(target.get("hash", "")), _timestamp(target.get("date"))
        )

    @classmethod
    def from_server(cls, data: dict[str, Any]) -> Branch:
        """A DC branch as `GET .../branches?details=true` lists it; times are epoch ms.
        ("Get branches")
        https://developer.atlassian.com/server/bitbucket/rest/v906/api-group-repository/
        """
        latest = (data.get("metadata") or {}).get(SERVER_LATEST_COMMIT) or {}
        committed = _epoch_ms(latest.get("committerTimestamp"))
        return cls(
            str(data.get("displayId", "")),
            str(data.get("latestCommit") or latest.get("id") or ""),
            committed or _epoch_ms(latest.get("authorTimestamp")),
            committed,
        )


def _epoch_ms(value: Any) -> datetime | None:
    """DC's epoch milliseconds as an aware time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000.0, UTC)
