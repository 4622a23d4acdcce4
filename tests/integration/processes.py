"""Start the real receiver (gunicorn) and a real Celery worker as subprocesses for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.task_names import QUEUES
from tests.conftest import ENCRYPTION_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(
    redis_url: str, tmp: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A clean environment for service processes: no config file, test secrets, production with
    the tests' encryption key (so a test can open what the services sealed with `SEALER`)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("BBRELAY_") and key != "REDIS_URL"
    }
    config = tmp / "values.yaml"
    if not config.exists():
        config.write_text("global: {}\n")
    env |= {
        "BBRELAY_CONFIG": str(config),
        "BBRELAY_REDIS_URL": redis_url,
        "BBRELAY_ENV": "production",
        "BBRELAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "BBRELAY_VAR_DIR": str(tmp / "var"),
        "PYTHONPATH": str(ROOT),
        **(extra or {}),
    }
    return env


@contextmanager
def running(
    argv: list[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess in its own group, stopped with SIGTERM (then SIGKILL) afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def receiver(
    env: Mapping[str, str], tmp: Path, workers: int = 2, port: int | None = None
) -> Iterator[str]:
    """The receiver under gunicorn on `port` (else a free one); yields its base URL once /healthz
    answers."""
    port = port or free_port()
    argv = [
        str(BIN / "gunicorn"),
        "-c",
        "python:receiver.gunicorn_conf",
        "receiver.wsgi:app",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with running(argv, env, tmp / "receiver.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{url}/healthz"), proc, tmp / "receiver.log")
        yield url


@contextmanager
def worker(env: Mapping[str, str], tmp: Path, concurrency: int = 1) -> Iterator[Path]:
    """A Celery worker consuming the service queue; yields its log file once it is ready."""
    with worker_process(env, tmp, concurrency) as (_proc, log):
        yield log


@contextmanager
def worker_process(
    env: Mapping[str, str], tmp: Path, concurrency: int = 1
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A Celery worker as `worker` starts it; yields its main process and log once ready."""
    log = tmp / f"worker-{time.monotonic_ns()}.log"
    argv = [
        str(BIN / "celery"),
        "-A",
        "workers.celery_app:app",
        "worker",
        "-Q",
        ",".join(QUEUES),
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"test-{time.monotonic_ns()}@%h",
    ]
    with running(argv, env, log) as proc:
        wait_until(lambda: b"ready" in log.read_bytes(), proc, log)
        yield proc, log


@contextmanager
def beat(env: Mapping[str, str], tmp: Path) -> Iterator[Path]:
    """Celery beat with its schedule file under `tmp`; yields its log once it is running."""
    log = tmp / "beat.log"
    argv = [str(BIN / "celery"), "-A", "workers.celery_app:app", "beat", "--loglevel", "INFO"]
    argv += ["--schedule", str(tmp / "beat-schedule")]
    with running(argv, env, log) as proc:
        wait_until(lambda: b"beat: Starting" in log.read_bytes(), proc, log)
        yield log


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    check: object,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    timeout: float = 30.0,
) -> None:
    """Poll `check()` until true; fail with the process log if it dies or time runs out."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"condition not met within {timeout}s\n{tail}")
