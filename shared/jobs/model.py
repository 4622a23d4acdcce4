"""A job: one rule run for one commit, with the state its build status shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

FINAL_STATES: frozenset[str] = frozenset({"SUCCESSFUL", "FAILED", "STOPPED"})

# How far a job is along; a state never moves to a lower rank (so statuses never go backwards).
STATE_RANK: dict[str, int] = {
    "PENDING": 0,
    "STARTING": 1,
    "INPROGRESS": 2,
    "SUCCESSFUL": 3,
    "FAILED": 3,
    "STOPPED": 3,
}
# What the platform may report through POST /api/jobs/<id>/status.
REPORTABLE_STATES: frozenset[str] = frozenset({"INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"})


@dataclass(frozen=True)
class JobRequest:
    """What planning decides: which rule runs on which commit, with which variables."""

    job_id: str
    rule: str
    runner: Literal["pipeline", "http"]
    context: str
    product: str
    repository: str
    commit: str | None
    ref: str | None
    branch: str | None
    event_key: str
    delivery_id: str
    pr_id: int | None = None
    refname: str | None = None
    variables: dict[str, str] = field(default_factory=dict, repr=False)
    source_repository: str | None = None  # a fork's PR: where its source branch and commit live

    @property
    def commit_repository(self) -> str:
        """Where the job's commit lives (and its build status goes): the fork, for a fork's PR."""
        return self.source_repository or self.repository


@dataclass(frozen=True)
class Job:
    """A job as stored: the request plus its progress."""

    request: JobRequest
    state: str = "PENDING"
    description: str = ""
    external_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    attempts: int = 0
    status_posted: str | None = None
    start_owner: str | None = None
    starting_at: float = 0.0
    dead: str | None = None  # why a task of this job gave up (a dead letter)
    timeout_at: float = 0.0  # when an http-runner job is STOPPED without a report
    build_number: int | None = None  # the Pipelines run's number, matched by status webhooks
    run_status_seen: int | None = None  # the run whose own INPROGRESS status webhook arrived

    @property
    def statuses_arrive(self) -> bool:
        """Pipelines' status webhooks are heard for this job's run (its INPROGRESS came)."""
        return self.build_number is not None and self.run_status_seen == self.build_number

    @property
    def job_id(self) -> str:
        return self.request.job_id

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def to_public(self) -> dict[str, Any]:
        """What the API and CLI show; variable values stay hidden (they may be secrets)."""
        request = asdict(self.request)
        request["variables"] = sorted(self.request.variables)
        return {
            **request,
            "state": self.state,
            "description": self.description,
            "external_id": self.external_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attempts": self.attempts,
            "status_posted": self.status_posted,
            "dead": self.dead,
        }


def request_from_dict(data: dict[str, Any]) -> JobRequest:
    """A stored request; keys this version does not know are left out."""
    known = {f.name for f in fields(JobRequest)}
    return JobRequest(**{k: v for k, v in data.items() if k in known})


def with_commit(request: JobRequest, commit: str) -> JobRequest:
    return replace(request, commit=commit)
