"""Send follow-up tasks through the follow-up index, never as countdown messages in the broker."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from shared.followups import FollowUp, member_for, retry_member
from workers.celery_app import app
from workers.services import services
from workers.task_labels import label


def member_of(name: str, args: list[Any] | tuple[Any, ...], task_id: str) -> str:
    """A task about one thing (a job id, a workspace) has one pending follow-up per name;
    any other task's delayed run is its own retry."""
    if args and isinstance(args[0], str):
        return member_for(name, args[0])
    return retry_member(task_id)


def schedule(name: str, args: list[Any], countdown: float) -> None:
    """Run task `name` with `args` after `countdown` seconds, surviving worker deaths."""
    task_id = str(uuid.uuid4())
    follow_up = FollowUp(member_of(name, args, task_id), name, args, task_id=task_id)
    schedule_follow_up(follow_up, countdown)


def schedule_follow_up(follow_up: FollowUp, countdown: float) -> None:
    """Store it due in `countdown`; when due now, lease it and publish it at once."""
    current = services()
    now = time.time()
    if countdown > 0:
        current.follow_ups.schedule(follow_up, now + countdown)
        return
    current.follow_ups.schedule(follow_up, now + current.settings.relay.recovery.follow_up_lease)
    publish(follow_up)


def publish(follow_up: FollowUp) -> None:
    """Put the task on its routed queue now (Celery's router: `task_routes`), under its own
    task id."""
    app.send_task(
        follow_up.name,
        args=follow_up.args,
        kwargs=follow_up.kwargs,
        task_id=follow_up.task_id,
        retries=follow_up.retries,
        argsrepr=label(services().jobs, follow_up.name, follow_up.args),
    )


def countdown_of(options: dict[str, Any]) -> float | None:
    """The delay Celery asked for (`countdown` or `eta`), or None for a message to send now."""
    countdown = options.get("countdown")
    if countdown is not None:
        return float(countdown)
    eta = options.get("eta")
    if eta is None:
        return None
    moment = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
    return moment.timestamp() - time.time()
