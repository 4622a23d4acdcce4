"""`bbrelay run`: Redis (configured or embedded), receiver, worker, beat and Flower together."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

from bbrelay import ports, with_redis
from bbrelay.runtime import clear_runtime, write_runtime
from bbrelay.supervisor import NamedCommand, run_processes
from shared.config import load_settings
from shared.private_files import PRIVATE_UMASK, make_private_dir, write_private_file
from shared.task_names import QUEUES

APP = "workers.celery_app:app"


def _bin(name: str) -> str:
    """A console script of this virtualenv (gunicorn, celery), else the one on PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


def flower_auth(var: Path, environ: Mapping[str, str]) -> str:
    """FLOWER_BASIC_AUTH, else a generated `admin:<password>` kept in ./var."""
    if environ.get("FLOWER_BASIC_AUTH"):
        return environ["FLOWER_BASIC_AUTH"]
    path = var / "flower-auth"
    if not path.exists():
        write_private_file(path, f"admin:{secrets.token_urlsafe(12)}")
    return path.read_text().strip()


def commands(var: Path, port: int, concurrency: int) -> list[NamedCommand]:
    """The processes; Flower reads its basic auth from FLOWER_BASIC_AUTH, never argv."""
    celery = _bin("celery")
    return [
        NamedCommand(
            "web",
            [_bin("gunicorn"), "-c", "python:receiver.gunicorn_conf", "receiver.wsgi:app"],
        ),
        NamedCommand(
            "worker",
            [
                celery,
                "-A",
                APP,
                "worker",
                "-Q",
                ",".join(QUEUES),
                "-E",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                "worker@%h",
            ],
        ),
        NamedCommand(
            "beat",
            [
                celery,
                "-A",
                APP,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(var / "celerybeat-schedule"),
            ],
        ),
        NamedCommand(
            "flower",
            [
                celery,
                "-A",
                APP,
                "flower",
                "--address=127.0.0.1",
                f"--port={port + 1}",
                "--loglevel=warning",
            ],
        ),
    ]


def run(environ: Mapping[str, str], *, port: int = 8000, concurrency: int = 2) -> int:
    """Start everything in the foreground; Ctrl-C stops all of it, Redis included."""
    busy = _busy_port(port)
    if busy:
        print(f"bbrelay: {busy}", file=sys.stderr)
        return 1
    env = {"BBRELAY_ENV": "development", **environ}
    var = Path(env.get("BBRELAY_VAR_DIR", "./var")).resolve()
    os.umask(PRIVATE_UMASK)  # what Redis, beat and the metrics write under var/ is ours alone
    make_private_dir(var)
    env["BBRELAY_VAR_DIR"] = str(var)
    with ExitStack() as stack:
        redis = stack.enter_context(with_redis.redis_url(env, var / "redis", appendonly=True))
        env["BBRELAY_REDIS_URL"] = redis.url
        settings = load_settings(environ=env)
        metrics_dir = var / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        env |= {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PORT": str(port)}
        auth = flower_auth(var, env)
        env["FLOWER_BASIC_AUTH"] = auth  # not on the command line, which every user can read
        receiver_url = f"http://127.0.0.1:{port}"
        if settings.source:
            env["BBRELAY_CONFIG"] = str(Path(settings.source).resolve())
        shared_env = {
            key: env[key]
            for key in ("BBRELAY_REDIS_URL", "BBRELAY_ENV", "BBRELAY_VAR_DIR", "BBRELAY_CONFIG")
            if key in env
        }
        write_runtime(env, {"receiver_url": receiver_url, "environ": shared_env})
        stack.callback(clear_runtime, env)
        _banner(
            settings.dry_run,
            settings.relay.generated_webhook_secret,
            var,
            receiver_url,
            redis,
            port + 1,
            auth,
        )
        return run_processes(commands(var, port, concurrency), env)
    return 0


def _busy_port(port: int) -> str | None:
    """Why `port` (receiver) or `port + 1` (Flower) cannot be used, suggesting a free pair."""
    if ports.is_free(port) and ports.is_free(port + 1):
        return None
    suggestion = port + 10
    while not (ports.is_free(suggestion) and ports.is_free(suggestion + 1)):
        suggestion += 10
    return ports.in_use_message(port, "receiver", suggestion) or ports.in_use_message(
        port + 1, "Flower, the receiver's port + 1", suggestion
    )


def _banner(
    dry_run: bool,
    generated: bool,
    var: Path,
    receiver: str,
    redis: with_redis.RedisInUse,
    flower: int,
    auth: str,
) -> None:
    lines = [
        "Bitbucket Relay is starting",
        f"  receiver  {receiver}/api/webhooks/bitbucket  (health {receiver}/readyz)",
        f"  redis     {redis.describe()}",
        f"  flower    http://127.0.0.1:{flower}  (basic auth {auth.split(':', 1)[0]}, "
        f"password in {var / 'flower-auth'} or FLOWER_BASIC_AUTH)",
    ]
    if generated:
        secret = (var / "webhook-secret").read_text().strip()
        lines.append(f"  webhook secret (generated, kept in {var / 'webhook-secret'}): {secret}")
    if dry_run:
        lines.append("  DRY-RUN: no Bitbucket credentials; outgoing API calls are logged, not sent")
    lines.append("  try: .venv/bin/bbrelay send-test-event    stop: Ctrl-C")
    print("\n".join(lines), flush=True)
