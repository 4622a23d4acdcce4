"""Celery workers: handle events, trigger jobs, post statuses, sync teams."""
