"""Thin Celery tasks: JSON in, one function call, retries declared on the decorator."""
