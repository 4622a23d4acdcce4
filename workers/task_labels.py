"""What Flower shows for a follow-up task: the job, its runner and commit, or the workspace."""

from __future__ import annotations

from typing import Any

from shared.jobs.store import JobStore
from shared.task_names import FOLLOW_PIPELINE, JOB_TIMEOUT, POST_STATUS, START_JOB

JOB_TASKS = frozenset({START_JOB, FOLLOW_PIPELINE, POST_STATUS, JOB_TIMEOUT})


def label(jobs: JobStore, name: str, args: list[Any]) -> str:
    """A short description with no secret: never a variable, a token or a body."""
    first = args[0] if args else None
    if not isinstance(first, str):
        return f"({len(args)} args)"
    if name not in JOB_TASKS:
        return first
    job = jobs.get(first)
    if job is None:
        return first
    request = job.request
    return f"{first} {request.runner} {request.repository}@{(request.commit or '-')[:8]}"
