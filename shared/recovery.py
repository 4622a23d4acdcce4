"""What the recovery sweep does with a delivery or a job past its deadline: pure decisions.

The relay's own records are the source of truth. Each unfinished delivery and job sits in an
index by the time the sweep should look at it; the sweep looks only at those past it, decides
here, and `workers/sweep.py` carries the decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.config.settings import RecoverySettings
from shared.jobs.model import Job
from shared.task_names import FOLLOW_PIPELINE, JOB_TIMEOUT, POST_STATUS, START_JOB

# A delivery whose handler keeps dying (a poison message) becomes a dead letter after this.
MAX_DELIVERY_RECOVERIES = 5
FINAL_DELIVERY_STATES = frozenset({"processed", "failed"})

DeliveryAction = Literal["forget", "wait", "resend", "give_up"]
JobAction = Literal["forget", "wait", "start", "recover_start", "follow", "post_status"]


@dataclass(frozen=True)
class Decision:
    """What to do now, and when to look again (`at`, epoch seconds; unused for forget)."""

    action: str
    at: float = 0.0


def delivery_decision(
    record: dict[str, Any] | None,
    now: float,
    retry_due: float | None,
    settings: RecoverySettings,
) -> Decision:
    """A delivery past its deadline: done, waiting for its retry, sent again, or given up."""
    if record is None or record.get("status") in FINAL_DELIVERY_STATES:
        return Decision("forget")
    if retry_due is not None:
        return Decision("wait", max(now, retry_due) + settings.delivery_deadline)
    recoveries = int(record.get("recoveries") or 0)
    if recoveries >= MAX_DELIVERY_RECOVERIES:
        return Decision("give_up")
    return Decision("resend", now + settings.delivery_deadline * 2 ** (recoveries + 1))


def watched_task(job: Job) -> str:
    """The task whose pending follow-up shows that somebody is looking after the job."""
    if job.is_final:
        return POST_STATUS
    if job.state == "INPROGRESS":
        return FOLLOW_PIPELINE if job.request.runner == "pipeline" else JOB_TIMEOUT
    return START_JOB


def job_decision(
    job: Job | None,
    now: float,
    follow_up_due: float | None,
    settings: RecoverySettings,
    *,
    posts_statuses: bool,
) -> Decision:
    """A job past its deadline: started, its start recovered, its follow-up or status restored.

    `follow_up_due` is when the job's pending follow-up of `watched_task(job)` is due (or its
    lease ends); None when there is none.
    """
    if job is None or job.dead:
        return Decision("forget")
    lease = settings.follow_up_lease
    if follow_up_due is not None:
        return Decision("wait", max(now, follow_up_due) + lease)
    if job.is_final:
        if posts_statuses and job.status_posted != job.state:
            return Decision("post_status", now + lease)
        return Decision("forget")
    if job.state == "PENDING":
        return Decision("start", now + settings.start_deadline)
    if job.state == "STARTING":
        ends = job.starting_at + settings.start_deadline
        if now < ends:
            return Decision("wait", ends)
        return Decision("recover_start", now + settings.start_deadline)
    return Decision("follow", now + lease)
