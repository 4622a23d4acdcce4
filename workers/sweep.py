"""The recovery sweep: re-drive deliveries and jobs that passed their deadlines.

Only what sits past its deadline in the two indexes is read, so a sweep costs two range reads
when nothing is wrong. Each repair is counted and logged once; `shared/recovery.py` decides.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import structlog
from prometheus_client import Counter as PrometheusCounter

from shared.bitbucket.errors import RetryableError
from shared.followups import member_for, retry_member
from shared.jobs.model import Job
from shared.permissions import refusal
from shared.recovery import Decision, delivery_decision, job_decision, watched_task
from shared.stored_events import NotStored, stored_event
from shared.task_names import HANDLE_EVENT, POST_STATUS, QUEUE, START_JOB
from workers import job_flow
from workers.celery_app import app
from workers.job_flow import Schedule
from workers.services import Services

log = structlog.get_logger(__name__)

BATCH = 200
RECOVERIES = PrometheusCounter(
    "bbrelay_recoveries_total",
    "Deliveries and jobs the recovery sweep re-drove, by what it did",
    ["kind"],
)


def sweep(services: Services, schedule: Schedule, now: float | None = None) -> Counter[str]:
    """One pass over everything past its deadline; how many of each repair it made."""
    now = time.time() if now is None else now
    done: Counter[str] = Counter()
    for delivery_id in services.deliveries.due(now, BATCH):
        done[_sweep_delivery(services, delivery_id, now)] += 1
    for job_id in services.jobs.due(now, BATCH):
        done[_sweep_job(services, job_id, now, schedule)] += 1
    for kind, count in done.items():
        if kind not in ("forget", "wait"):
            RECOVERIES.labels(kind).inc(count)
    return done


def _sweep_delivery(services: Services, delivery_id: str, now: float) -> str:
    store = services.deliveries
    record = store.get(delivery_id)
    task_id = str(record.get("task_id", "")) if record else ""
    retry_due = services.follow_ups.due_at(retry_member(task_id)) if task_id else None
    decision = delivery_decision(record, now, retry_due, services.settings.relay.recovery)
    if decision.action == "forget":
        store.forget_deadline(delivery_id)
    elif decision.action == "wait":
        store.look_again(delivery_id, decision.at)
    elif decision.action == "give_up":
        reason = "lost by workers too many times; see the worker logs, then bbrelay replay"
        store.advance(delivery_id, "failed", error=reason)
        log.error("recovery.delivery_given_up", delivery_id=delivery_id)
    else:
        return _resend(services, delivery_id, decision)
    return decision.action


def _resend(services: Services, delivery_id: str, decision: Decision) -> str:
    store = services.deliveries
    try:
        event = stored_event(store, delivery_id)
    except NotStored as exc:
        store.advance(delivery_id, "failed", error=f"could not be sent again: {exc}")
        log.error("recovery.delivery_given_up", delivery_id=delivery_id, reason=str(exc))
        return "give_up"
    task_id = str(uuid.uuid4())
    store.resent(delivery_id, task_id, decision.at)
    app.send_task(HANDLE_EVENT, args=[event.to_json()], task_id=task_id, queue=QUEUE)
    log.warning("recovery.delivery_resent", delivery_id=delivery_id, task_id=task_id)
    return "resend"


def _sweep_job(services: Services, job_id: str, now: float, schedule: Schedule) -> str:
    store = services.jobs
    job = store.get(job_id)
    follow_up_due = (
        services.follow_ups.due_at(member_for(watched_task(job), job_id)) if job else None
    )
    permissions = services.settings.bitbucket.permissions
    decision = job_decision(
        job,
        now,
        follow_up_due,
        services.settings.relay.recovery,
        posts_statuses=services.settings.bitbucket.build_status.enabled
        and (job is None or refusal(permissions, job.request.repository, "build status") is None),
    )
    if decision.action == "forget":
        store.forget_deadline(job_id)
        return "forget"
    assert job is not None
    if decision.action == "start":
        schedule(START_JOB, [job_id], 0)
        log.warning("recovery.job_start", job_id=job_id)
    elif decision.action == "recover_start":
        try:
            _recover_start(services, job, schedule)
        except RetryableError as exc:
            log.warning("recovery.job_start_deferred", job_id=job_id, error=str(exc))
    elif decision.action == "follow":
        job_flow.follow_up(services, job_id, schedule)
        log.warning("recovery.job_follow_up", job_id=job_id, state=job.state)
    elif decision.action == "post_status":
        schedule(POST_STATUS, [job_id], 0)
        log.warning("recovery.job_status", job_id=job_id, state=job.state)
    store.look_again(job_id, decision.at)
    return decision.action


def _recover_start(services: Services, job: Job, schedule: Schedule) -> None:
    """A start left half done: take up the run it may have started, else start it again."""
    owner = job.start_owner or ""
    run = None
    if job.request.runner == "pipeline":
        run = services.bitbucket.find_pipeline_for_job(
            job.request.repository, job.request.commit, job.job_id, created_after=job.created_at
        )
    if run is not None:
        job_flow.record_started(
            services, job, owner, run.uuid, schedule, build_number=run.build_number
        )
        log.warning("recovery.job_run_found", job_id=job.job_id, external_id=run.uuid)
    elif services.jobs.release_start(job.job_id, owner):
        schedule(START_JOB, [job.job_id], 0)
        log.warning("recovery.job_restarted", job_id=job.job_id)
