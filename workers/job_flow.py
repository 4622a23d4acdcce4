"""The life of a job: plan from an event, start once, follow, and show it on the commit.

Every step is idempotent, so a redelivered event, a replay or a retried task repeats nothing:
a job is created once per commit and rule, started by the one caller that claims it, and its
build status always shows the job's latest state (read just before posting, and re-checked after).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from shared.bitbucket.errors import PermanentError
from shared.bitbucket.models import Pipeline
from shared.config.settings import JobRule, PipelinesSettings
from shared.events import Event
from shared.jobs.model import Job, JobRequest, with_commit
from shared.jobs.planning import STATUS_EVENT_KEYS, plan_jobs
from shared.jobs.planning import job_id as job_id_for
from shared.jobs.statuses import build_status
from shared.jobs.store import job_key
from shared.task_names import FOLLOW_PIPELINE, JOB_TIMEOUT
from workers.runners import http as http_runner
from workers.runners import pipeline as pipeline_runner
from workers.services import Services
from workers.write_permissions import WriteRefused, refused

log = structlog.get_logger(__name__)

Schedule = Callable[[str, list[Any], float], None]
FULL_HASH_LENGTH = 40


def jobs_for_event(services: Services, event: Event, schedule: Schedule) -> list[str]:
    """Create, start and show every job the event's rules ask for; the job ids."""
    requests = plan_jobs(event, services.settings.bitbucket)
    for request in requests:
        if services.jobs.create(request):
            log.info("job.created", job_id=request.job_id, rule=request.rule)
        run_job(services, request.job_id, schedule)
    return [request.job_id for request in requests]


def run_job(services: Services, job_id: str, schedule: Schedule) -> None:
    """Start the job if nobody has, then bring its build status up to date."""
    start_job(services, job_id, schedule)
    sync_status(services, job_id)


def rule_named(services: Services, name: str) -> JobRule | None:
    return next((rule for rule in services.settings.bitbucket.jobs if rule.name == name), None)


def start_job(services: Services, job_id: str, schedule: Schedule) -> None:
    """Claim the start; call the runner; on failure give the claim back (or fail the job)."""
    store = services.jobs
    owner = uuid.uuid4().hex
    if not store.claim_start(job_id, owner=owner):
        return
    job = store.get(job_id)
    assert job is not None
    try:
        external_id, build_number = _start(services, job)
    except PermanentError as exc:
        store.advance(job_id, "FAILED", description=f"could not start: {exc}"[:255])
        log.error("job.start_refused", job_id=job_id, error=str(exc))
        return
    except BaseException:
        store.release_start(job_id, owner)
        raise
    record_started(services, job, owner, external_id, schedule, build_number=build_number)


def record_started(
    services: Services,
    job: Job,
    owner: str,
    external_id: str | None,
    schedule: Schedule,
    *,
    build_number: int | None = None,
) -> None:
    """STARTING -> INPROGRESS for the claim's owner, then schedule the job's follow-up."""
    job_id = job.job_id
    fields = {"external_id": external_id or "", "description": ""}
    if build_number is not None:
        fields["build_number"] = str(build_number)
    timeout = http_timeout(services, job)
    if timeout is not None:
        fields["timeout_at"] = f"{time.time() + timeout:.6f}"
    if not services.jobs.finish_start(job_id, owner, **fields):
        log.error("job.start_claim_lost", job_id=job_id, external_id=external_id)
        return
    log.info("job.started", job_id=job_id, runner=job.request.runner, external_id=external_id)
    follow_up(services, job_id, schedule)


def follow_up(services: Services, job_id: str, schedule: Schedule) -> None:
    """Schedule the next look at a running job: the pipeline's fallback poll (its status
    webhooks normally finish it first), or the http runner's timeout."""
    job = services.jobs.get(job_id)
    if job is None or job.is_final:
        return
    if job.request.runner == "pipeline":
        first_look = services.settings.bitbucket.pipelines.fallback_poll
        schedule(FOLLOW_PIPELINE, [job_id, None], first_look)
        return
    deadline = job.timeout_at or time.time()
    schedule(JOB_TIMEOUT, [job_id, deadline], deadline - time.time())


def http_timeout(services: Services, job: Job) -> float | None:
    if job.request.runner == "pipeline":
        return None
    rule = rule_named(services, job.request.rule)
    return rule.http.timeout if rule and rule.http else 3600.0


def _start(services: Services, job: Job) -> tuple[str | None, int | None]:
    """The started run's external id, and its build number for a Pipelines run."""
    request = ensure_full_commit(services, job)
    rule = rule_named(services, request.rule)
    if request.runner == "pipeline":
        if refusal := refused(services, job, "pipeline trigger"):
            raise WriteRefused(str(refusal))
        pipeline = pipeline_runner.start(
            services.bitbucket, request, rule, services.settings.bitbucket
        )
        return pipeline.uuid, pipeline.build_number
    if rule is None or rule.http is None:
        raise http_runner.PlatformRejected(f"rule {request.rule!r} has no http runner any more")
    http = services.platform_http(rule.http.tls)
    return http_runner.start(http, request, rule.http, services.settings), None


def ensure_full_commit(services: Services, job: Job) -> JobRequest:
    """Cloud pull request payloads carry 12-character hashes; statuses need the full one."""
    request = job.request
    if request.commit is None or len(request.commit) >= FULL_HASH_LENGTH:
        return request
    full = services.bitbucket.resolve_commit(request.commit_repository, request.commit)
    if len(full) >= FULL_HASH_LENGTH:
        request = with_commit(request, full)
        services.jobs.update_request(request)
    return request


def follow_pipeline(
    services: Services, job_id: str, wait: float | None, schedule: Schedule
) -> None:
    """Look at the job's pipeline once; record a change; look again later unless it ended.

    This is the fallback for status webhooks that do not come (see `next_look`), and a run
    followed for `pipelines.maxFollow` is given up (the job is STOPPED and says why).
    """
    job = services.jobs.get(job_id)
    if job is None or job.is_final or not job.external_id:
        return
    try:
        pipeline = services.bitbucket.get_pipeline(job.request.repository, job.external_id)
    except PermanentError as exc:
        services.jobs.advance(job_id, "FAILED", description=f"lost the pipeline: {exc}"[:255])
        sync_status(services, job_id)
        raise
    state = pipeline_runner.job_state(pipeline)
    if state != job.state:
        description = f"pipeline #{pipeline.build_number} {pipeline.result or pipeline.state}"
        services.jobs.advance(job_id, state, description=description.lower())
        log.info("job.progressed", job_id=job_id, state=state)
    if state == "INPROGRESS":
        settings = services.settings.bitbucket.pipelines
        followed = time.time() - (job.starting_at or job.created_at)
        if followed >= settings.max_follow:
            _give_up(services, job_id, pipeline, followed)
        else:
            interval = next_look(wait, followed, settings, statuses_arrive=job.statuses_arrive)
            schedule(FOLLOW_PIPELINE, [job_id, interval], interval)
    sync_status(services, job_id)


def next_look(
    wait: float | None, followed: float, settings: PipelinesSettings, *, statuses_arrive: bool
) -> float:
    """When to look at a still running run again.

    Once Pipelines' own status webhook for the run has arrived, webhooks flow for it and its
    end will be heard: no look until `maxFollow`, when one last read finds it ended or gives
    it up. A run no webhook was heard for keeps the polling schedule (`next_poll`).
    """
    if statuses_arrive:
        return max(0.0, settings.max_follow - followed)
    return next_poll(wait, settings)


def next_poll(wait: float | None, settings: PipelinesSettings) -> float:
    """After the first (fallback) look, `pollInterval`; then doubling up to the cap."""
    if wait is None:
        return settings.poll_interval
    return min(settings.max_poll_interval, 2 * max(wait, settings.poll_interval))


# Pipelines' own statuses in the job's words; INPROGRESS changes nothing (the job already is).
PIPELINES_FINAL_STATES = {"SUCCESSFUL": "SUCCESSFUL", "FAILED": "FAILED", "STOPPED": "STOPPED"}


def finish_from_status(services: Services, event: Event) -> list[str]:
    """Finish the pipeline jobs whose run a Pipelines commit status reports ended; their ids.

    Bitbucket Pipelines posts a build status on the commit when a run starts and ends, which
    fires `repo:commit_status_*`; matching the commit and the run's build number finishes the
    job without polling. https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
    """
    if event.event_key not in STATUS_EVENT_KEYS or event.status_build is None:
        return []
    if event.repository is None or event.commit is None:
        return []
    state = PIPELINES_FINAL_STATES.get(event.status_state or "")
    finished = []
    for rule in services.settings.bitbucket.jobs:
        if rule.runner != "pipeline":
            continue
        job = services.jobs.get(job_id_for(rule.name, event.repository, event.commit))
        if job is None or job.is_final or job.build_number not in (None, event.status_build):
            continue
        if state is None:  # the run's INPROGRESS: its webhooks flow, the fallback can wait
            services.jobs.note_run_status(job.job_id, event.status_build)
            continue
        if job.build_number != event.status_build:
            continue
        description = f"pipeline #{event.status_build} {state.lower()}"
        if services.jobs.advance(job.job_id, state, description=description):
            log.info("job.finished_by_status", job_id=job.job_id, state=state)
        sync_status(services, job.job_id)
        finished.append(job.job_id)
    return finished


def _give_up(services: Services, job_id: str, pipeline: Pipeline, followed: float) -> None:
    reason = (
        f"pipeline #{pipeline.build_number} still {(pipeline.result or pipeline.state).lower()}"
        f" after {followed / 3600:.0f}h; no longer followed (pipelines.maxFollow)"
    )
    if services.jobs.advance(job_id, "STOPPED", description=reason[:255]):
        log.warning("job.given_up", job_id=job_id, build_number=pipeline.build_number)


def check_timeout(services: Services, job_id: str, deadline: float, schedule: Schedule) -> None:
    """Stop a job the platform never finished; look again later if its time is not up."""
    job = services.jobs.get(job_id)
    if job is None or job.is_final:
        return
    left = deadline - time.time()
    if left > 0:
        schedule(JOB_TIMEOUT, [job_id, deadline], left)
        return
    reason = "the platform reported no completion within the rule's timeout"
    if services.jobs.advance(job_id, "STOPPED", description=reason):
        log.warning("job.timed_out", job_id=job_id)
    sync_status(services, job_id)


def sync_status(services: Services, job_id: str, *, rounds: int = 4) -> None:
    """Post the job's latest state to its commit until what was posted is what it is.

    One poster per job at a time (a Redis lock taken with SET NX, given back when the post
    ends or fails): a caller that finds it held leaves the post to its holder, which looks
    at the job again after giving it back, so each state is posted once and never after a
    later one."""
    if not services.settings.bitbucket.build_status.enabled:
        return
    for _ in range(rounds):
        if not _unposted(services.jobs.get(job_id)):
            return
        lock = services.redis.lock(post_lock_key(job_id), timeout=POST_LOCK_TIMEOUT, blocking=False)
        if not lock.acquire():
            log.info("job.status_post_held", job_id=job_id)
            return
        try:
            if not _post_latest(services, job_id):
                return
        finally:
            lock.release()


POST_LOCK_TIMEOUT = 120.0  # a poster that died gives the post back after this


def post_lock_key(job_id: str) -> str:
    return f"{job_key(job_id)}:posting"


def _unposted(job: Job | None) -> bool:
    return not (
        job is None or job.state in ("PENDING", "STARTING") or job.status_posted == job.state
    )


def _post_latest(services: Services, job_id: str) -> bool:
    """Post the job's state unless it is posted already; False when there is nothing to do."""
    job = services.jobs.get(job_id)
    if job is None or not _unposted(job):
        return False
    request = ensure_full_commit(services, job)
    if request.commit is None or refused(services, job, "build status"):
        return False
    status = build_status(job, services.settings, services.capabilities())
    services.bitbucket.post_build_status(request.commit_repository, request.commit, status)
    services.jobs.mark_posted(job_id, job.state)
    log.info("job.status_posted", job_id=job_id, state=status.state, key=status.key)
    return True
