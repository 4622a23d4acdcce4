"""Apply `permissions` to a job's writes: a refused write is not sent, and the job says why."""

from __future__ import annotations

import structlog

from shared.bitbucket.errors import PermanentError
from shared.jobs.model import Job
from shared.permissions import Refusal, Write, refusal
from workers.services import Services

log = structlog.get_logger(__name__)


class WriteRefused(PermanentError):
    """The configured permissions do not allow this write; retrying would not help."""


def refused(services: Services, job: Job, write: Write) -> Refusal | None:
    """The permissions' refusal of `write` for the job's repository, else None; the first time,
    the refusal is logged and put at the head of the job's description."""
    found = refusal(services.settings.bitbucket.permissions, job.request.repository, write)
    if found is None:
        return None
    note = str(found)
    if note not in job.description:
        described = f"{note}; {job.description}" if job.description else note
        services.jobs.describe(job.job_id, described[:255])
        log.warning("permissions.write_refused", job_id=job.job_id, **found.log_fields)
    return found
