"""The receiver's gunicorn settings keep each thread's broker producer available."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from receiver import gunicorn_conf
from shared.celery_config import BROKER_POOL_LIMIT


def test_gunicorn_refuses_more_threads_than_broker_connections() -> None:
    gunicorn_conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(threads=BROKER_POOL_LIMIT)))
    too_many = BROKER_POOL_LIMIT + 1
    with pytest.raises(SystemExit, match=f"--threads {too_many} exceeds"):
        gunicorn_conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(threads=too_many)))
