"""Run the whole relay (receiver + worker) against fakes, configured by a values dict."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from receiver.signature import sign
from shared.secret import Secret
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import BIN, beat, receiver, service_env, worker

WEBHOOK_SECRET = "e2e-webhook-secret-long-enough-for-production"
API_TOKEN = "e2e-api-token-long-enough-for-production"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "bitbucket"


def bitbucket_values(fake: FakeBitbucket, **extra: Any) -> dict[str, Any]:
    """`global.git.bitbucket` pointing at the fake, with our webhook secret."""
    base: dict[str, Any] = {"type": fake.product, "webhookSecret": WEBHOOK_SECRET}
    if fake.product == "cloud":
        base |= {
            "apiUrl": fake.api_url,
            "oauth": {"tokenUrl": fake.token_url},
            "clientId": "client-1",
            "clientSecret": "secret-1",
        }
    else:
        fake.static_tokens.add("dc-token")
        base |= {"url": fake.base_url, "token": "dc-token"}
    return base | extra


@dataclass
class Relay:
    url: str
    worker_log: Path
    env: dict[str, str]

    def bbrelay(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the operator CLI against this relay."""
        argv = [str(BIN / "bbrelay"), *args]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)

    def deliver(
        self, product: str, event_key: str, body: bytes, delivery_id: str
    ) -> httpx.Response:
        headers = {
            "X-Event-Key": event_key,
            "X-Hub-Signature": sign(Secret(WEBHOOK_SECRET), body),
            "Content-Type": "application/json",
            "X-Request-UUID" if product == "cloud" else "X-Request-Id": delivery_id,
        }
        return httpx.post(
            f"{self.url}/api/webhooks/bitbucket", content=body, headers=headers, timeout=10
        )

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)


@contextmanager
def relay(
    redis_url: str,
    tmp: Path,
    bitbucket: Mapping[str, Any],
    *,
    concurrency: int = 1,
    env: Mapping[str, str] | None = None,
    more_global: Mapping[str, Any] | None = None,
    with_beat: bool = False,
) -> Iterator[Relay]:
    values = {
        "global": {
            "git": {"bitbucket": dict(bitbucket)},
            "relay": {"apiTokens": [API_TOKEN]},
            **(more_global or {}),
        }
    }
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    service = service_env(redis_url, tmp, {"BBRELAY_RETRY_BASE_DELAY": "0.2", **(env or {})})
    with ExitStack() as stack:
        url = stack.enter_context(receiver(service, tmp))
        log = stack.enter_context(worker(service, tmp, concurrency=concurrency))
        if with_beat:
            stack.enter_context(beat(service, tmp))
        yield Relay(url, log, service)


def fixture(product: str, name: str, **changes: Any) -> bytes:
    """A real payload; `changes` set top-level keys so a body differs but means the same."""
    document = json.loads((FIXTURES / product / name).read_bytes())
    document.update(changes)
    return json.dumps(document).encode()


def push_of(sha: str, branch: str = "feature/webhook") -> bytes:
    """The signed-push fixture moved to another commit (a distinct push of the same repo)."""
    document = json.loads((FIXTURES / "cloud" / "repo-push-signed.json").read_bytes())
    change = document["push"]["changes"][0]
    change["new"]["target"]["hash"] = sha
    change["new"]["name"] = branch
    return json.dumps(document).encode()
