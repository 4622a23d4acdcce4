"""Which jobs an event starts: a pure function of the event and the `jobs` rules."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase

from shared.access import matches_any
from shared.config.settings import BitbucketSettings, JobRule
from shared.events import Event
from shared.jobs.model import JobRequest

# Our own build statuses come back as these events; they must never start a job (a loop).
STATUS_EVENT_KEYS = frozenset({"repo:commit_status_created", "repo:commit_status_updated"})


def job_id(rule: str, repository: str, commit: str) -> str:
    """Stable per rule, repository and commit; short and long forms of a hash give one id."""
    identity = f"{repository.lower()}\n{commit[:12].lower()}"
    return f"{rule}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def plan_jobs(event: Event, settings: BitbucketSettings) -> list[JobRequest]:
    """The job requests `event` starts under the configured rules, in rule order."""
    if event.event_key in STATUS_EVENT_KEYS or event.repository is None:
        return []
    branch = event.pr_source_branch if event.is_pull_request else event.branch
    commit = event.pr_source_commit if event.is_pull_request else event.commit
    if branch is None or commit is None:
        return []
    # Running a fork's code with the rule's secrets is how CI secrets leak: only when opted in.
    rules = [rule for rule in settings.jobs if rule.forks or not event.is_from_fork]
    return [
        _request(rule, event, branch, commit)
        for rule in rules
        if _rule_matches(rule, event, branch)
    ]


def _rule_matches(rule: JobRule, event: Event, branch: str) -> bool:
    assert event.repository is not None
    return (
        event.event_key in rule.on
        and any(fnmatchcase(branch, pattern) for pattern in rule.branches)
        and matches_any(event.repository, rule.repositories)
    )


def _request(rule: JobRule, event: Event, branch: str, commit: str) -> JobRequest:
    assert event.repository is not None
    return JobRequest(
        job_id=job_id(rule.name, event.repository, commit),
        rule=rule.name,
        runner=rule.runner,
        context=rule.context,
        product=event.product,
        repository=event.repository,
        commit=commit,
        ref=event.ref if not event.is_pull_request else f"refs/heads/{branch}",
        branch=branch,
        event_key=event.event_key,
        delivery_id=event.delivery_id,
        pr_id=event.pr_id,
        refname=branch if event.is_pull_request else None,
        source_repository=event.pr_source_repository if event.is_from_fork else None,
    )
