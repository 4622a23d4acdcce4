"""Jobs under /api: read a job and trigger data-change runs (bearer token); the platform's
status reports (the job's own token)."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from receiver.auth import bearer_required
from receiver.enqueue import BrokerUnavailable, Enqueuer
from shared.config.settings import Settings
from shared.jobs import data_change
from shared.jobs.model import REPORTABLE_STATES, Job
from shared.jobs.store import JobStore
from shared.signing import JOB_TOKEN_HEADER, token_matches
from shared.task_names import POST_STATUS, START_JOB

bp = Blueprint("jobs", __name__, url_prefix="/api")
log = structlog.get_logger(__name__)


def _store() -> JobStore:
    store: JobStore = current_app.extensions["bbrelay.jobs"]
    return store


def _enqueuer() -> Enqueuer:
    enqueuer: Enqueuer = current_app.extensions["bbrelay.enqueuer"]
    return enqueuer


@bp.get("/jobs/<job_id>")
@bearer_required
def get_job(job_id: str) -> ResponseReturnValue:
    job = _store().get(job_id)
    if job is None:
        return jsonify({"error": f"no job {job_id}"}), 404
    return jsonify(job.to_public())


@bp.post("/jobs/<job_id>/status")
def report_status(job_id: str) -> ResponseReturnValue:
    """The platform reports progress: `{"state": ..., "description": ...}`, with the job's own
    token (`?token=` of its `status_url`, or `X-Relay-Job-Token`); API tokens do not count."""
    offered = request.args.get("token") or request.headers.get(JOB_TOKEN_HEADER)
    if not offered:
        return jsonify({"error": f"missing job token (?token= or {JOB_TOKEN_HEADER})"}), 401
    store = _store()
    job = store.get(job_id)
    if job is None:
        return jsonify({"error": f"no job {job_id}"}), 404
    settings: Settings = current_app.extensions["bbrelay.settings"]
    secret = job_secret(job, settings)
    if secret is None:
        return jsonify({"error": f"job {job_id} is not run by the platform (runner http)"}), 403
    if not token_matches(secret, job_id, offered):
        return jsonify({"error": "invalid job token"}), 401
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "the body must be a JSON object"}), 400
    state, description = body.get("state"), body.get("description", "")
    if state not in REPORTABLE_STATES:
        allowed = ", ".join(sorted(REPORTABLE_STATES))
        return jsonify({"error": f"state: must be one of {allowed}"}), 400
    if not isinstance(description, str):
        return jsonify({"error": "description: must be a string"}), 400
    description = description[:255]
    if not store.advance(job_id, state, description=description):
        current = store.get(job_id)
        if current is None or (current.state, current.description) != (state, description):
            answer = {"error": "the job is already further on", "state": current and current.state}
            return jsonify(answer), 409
        log.info("job.report_repeated", job_id=job_id, state=state)
    else:
        log.info("job.reported", job_id=job_id, state=state)
    return _enqueue(POST_STATUS, job_id, {"job": job_id, "state": state}, 200)


def job_secret(job: Job, settings: Settings) -> str | None:
    """The `http.secret` of the job's rule, when the job is one the platform runs."""
    if job.request.runner != "http":
        return None
    for rule in settings.bitbucket.jobs:
        if rule.name == job.request.rule and rule.http is not None:
            return rule.http.secret.reveal()
    return None


@bp.post("/triggers/data-change")
@bearer_required
def trigger_data_change() -> ResponseReturnValue:
    settings: Settings = current_app.extensions["bbrelay.settings"]
    try:
        trigger = data_change.parse(
            request.get_json(silent=True), request.headers.get("Idempotency-Key")
        )
        job_request = data_change.job_request(trigger, settings.bitbucket)
    except data_change.RepositoryNotServed as exc:
        return jsonify({"error": str(exc)}), 403
    except data_change.TriggerRefused as exc:
        return jsonify({"error": str(exc)}), 400
    created = _store().create(job_request)
    answer = {"job": job_request.job_id, "created": created}
    return _enqueue(START_JOB, job_request.job_id, answer, 202 if created else 200)


def _enqueue(task: str, job_id: str, answer: dict[str, Any], status: int) -> ResponseReturnValue:
    try:
        _enqueuer().send(task, [job_id])
    except BrokerUnavailable as exc:
        log.error("job.enqueue_failed", job_id=job_id, error=str(exc))
        return jsonify({"error": "the queue is unavailable; try again", **answer}), 503
    return jsonify(answer), status
