"""The relay as the Procfile runs it (web, two workers) on its own Redis and a fake Cloud.

One push in ten goes to PIPELINE_BRANCH, where a `pipeline` job rule starts a Bitbucket
Pipelines run; the fake completes each run after a few polls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bbrelay.run import commands
from bench.reliability.redis_server import RestartableRedis
from bench.reliability.supervised import Supervised, Supervisor
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import free_port, service_env, wait_until
from tests.integration.relay import API_TOKEN, bitbucket_values

PIPELINE_BRANCH = "chaos/pipeline"
RULE_NAME = "chaos-pipeline"
WORKERS = 2
WORKER_CONCURRENCY = 2
WEB_CONCURRENCY = 2
POLL_INTERVAL = "1s"
GETS_TO_FINISH = 3
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
    """values.yaml: the fake as Bitbucket Cloud, one pipeline rule, a quick poll."""
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
        env = service_env(
            redis_server.url,
            tmp,
            {"PORT": str(port), "WEB_CONCURRENCY": str(WEB_CONCURRENCY), "PYTHONUNBUFFERED": "1"},
        )
        web_cmd, worker_cmd = commands(tmp / "var", port, WORKER_CONCURRENCY, "unused:unused")[:2]
        web = Supervised("web", web_cmd.argv, env, logs / "web.log")
        workers = [
            Supervised(f"worker-{n}", _named(worker_cmd.argv, n), env, logs / f"worker-{n}.log")
            for n in range(1, WORKERS + 1)
        ]
        supervisor = Supervisor([web, *workers])
        stack.callback(supervisor.close)
        for process in supervisor.processes:
            process.start()
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url), timeout=STARTUP_TIMEOUT, log=web.log)
        for worker in workers:
            wait_until(lambda w=worker: b"ready" in w.log.read_bytes(), timeout=STARTUP_TIMEOUT)
        supervisor.start()
        yield RelayStack(url, redis_server, fake, web, workers, logs)


def _named(argv: Sequence[str], n: int) -> list[str]:
    """The Procfile worker command with a node name of its own (`worker-n@host`)."""
    named = list(argv)
    named[named.index("--hostname") + 1] = f"worker-{n}@%h"
    return named


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
