"""Stable Celery task names: the only link between the receiver and the workers."""

HANDLE_EVENT = "bbrelay.handle_event"
QUEUE = "bbrelay"
