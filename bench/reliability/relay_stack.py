"""The relay as the Procfile runs it (web, two workers) on its own Redis and a fake Cloud.

One push in ten goes to PIPELINE_BRANCH, where a `pipeline` job rule starts a Bitbucket
Pipelines run; the fake completes each run after a few polls.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench.reliability.redis_server import RestartableRedis
from bench.reliability.supervised import Supervised, Supervisor
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.pipeline_statuses import StatusWebhooks
from tests.integration.processes import BIN, ROOT, free_port, service_env, wait_until
from tests.integration.relay import API_TOKEN, WEBHOOK_SECRET, bitbucket_values

PROCFILE = ROOT / "Procfile"
PIPELINE_BRANCH = "chaos/pipeline"
RULE_NAME = "chaos-pipeline"
WORKERS = 2
WORKER_CONCURRENCY = 2
WEB_CONCURRENCY = 2
POLL_INTERVAL = "1s"
GETS_TO_FINISH = 3
# Pipelines posts its own build status when a run starts and ends, which Bitbucket sends to the
# relay as a signed commit-status webhook; a run here ends by itself after this long.
RUN_SECONDS = 3.0
STARTUP_TIMEOUT = 60.0


@dataclass
class RelayStack:
    url: str
    redis: RestartableRedis
    bitbucket: FakeBitbucket
    web: Supervised
    workers: list[Supervised]
    logs: Path

    @property
    def processes(self) -> list[Supervised]:
        return [self.web, *self.workers]


def values(fake: FakeBitbucket) -> dict[str, object]:
    """values.yaml: the fake as Bitbucket Cloud, one pipeline rule; default recovery and
    fallback-poll settings (jobs end on Pipelines' status webhooks)."""
    rule = {
        "name": RULE_NAME,
        "on": ["push"],
        "branches": [PIPELINE_BRANCH],
        "context": "ci",
        "runner": "pipeline",
    }
    bitbucket = bitbucket_values(
        fake,
        rateLimit={"requestsPerHour": 1_000_000, "burstSize": 100_000},
        pipelines={"enabled": True, "pollInterval": POLL_INTERVAL},
        buildStatus={"contexts": {"ci": "relay/ci"}, "url": "https://ci.example/{job_id}"},
        jobs=[rule],
    )
    return {"global": {"git": {"bitbucket": bitbucket}, "relay": {"apiTokens": [API_TOKEN]}}}


@contextmanager
def relay_stack(tmp: Path) -> Iterator[RelayStack]:
    """Start everything, wait until it serves, yield; stop it all whatever happens."""
    logs = tmp / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        redis_server = stack.enter_context(RestartableRedis(tmp / "redis"))
        fake = stack.enter_context(FakeBitbucket("cloud"))
        fake.pipeline_gets_to_finish = GETS_TO_FINISH
        (tmp / "values.yaml").write_text(yaml.safe_dump(values(fake)))
        port = free_port()
        env = service_env(redis_server.url, tmp)
        env |= {
            "PATH": f"{BIN}:{env.get('PATH', '')}",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(WEB_CONCURRENCY),
            "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "PYTHONUNBUFFERED": "1",
        }
        web = Supervised("web", procfile_command("web"), env, logs / "web.log")
        workers = [
            Supervised(
                f"worker-{n}",
                procfile_command("worker", "--hostname", f"worker-{n}@%h"),
                env,
                logs / f"worker-{n}.log",
            )
            for n in range(1, WORKERS + 1)
        ]
        supervisor = Supervisor([web, *workers])
        stack.callback(supervisor.close)
        for process in supervisor.processes:
            process.start()
        url = f"http://127.0.0.1:{port}"
        fake.pipeline_duration = RUN_SECONDS
        fake.status_webhooks = StatusWebhooks(f"{url}/api/webhooks/bitbucket", WEBHOOK_SECRET)
        wait_until(lambda: _healthy(url), timeout=STARTUP_TIMEOUT, log=web.log)
        for worker in workers:
            wait_until(lambda w=worker: b"ready" in w.log.read_bytes(), timeout=STARTUP_TIMEOUT)
        supervisor.start()
        yield RelayStack(url, redis_server, fake, web, workers, logs)


def procfile_command(name: str, *extra: str) -> list[str]:
    """A Procfile process as foreman or honcho start it: `sh -c`, which execs the command."""
    for line in PROCFILE.read_text().splitlines():
        process, colon, command = line.partition(":")
        if colon and process.strip() == name:
            return ["sh", "-c", " ".join(["exec", command.strip(), *map(shlex.quote, extra)])]
    raise SystemExit(f"{PROCFILE} has no {name!r} process")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
