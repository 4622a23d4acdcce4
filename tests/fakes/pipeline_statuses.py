"""What Bitbucket Pipelines does on a commit when a run starts and ends: it posts its own build
status, which fires a signed `repo:commit_status_created` / `_updated` webhook to the relay.

The bodies are the captured fixtures (tests/fixtures/bitbucket/cloud/repo-commit_status_*.json)
moved to the run's repository, commit, branch and build number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bitbucket" / "cloud"


@dataclass(frozen=True)
class StatusWebhooks:
    """Where the relay receives webhooks, and the secret the hook signs with."""

    url: str
    secret: str

    def send_later(self, repository: str, commit: str, branch: str, build: int, state: str) -> None:
        """Deliver from a thread, as Bitbucket does, after the API answer that caused it."""
        args = (repository, commit, branch, build, state)
        threading.Thread(target=self.send, args=args, daemon=True).start()

    def send(self, repository: str, commit: str, branch: str, build: int, state: str) -> int:
        created = state == "INPROGRESS"
        key = "repo:commit_status_created" if created else "repo:commit_status_updated"
        body = json.dumps(status_payload(repository, commit, branch, build, state)).encode()
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-Event-Key": key,
            "X-Hub-Signature": f"sha256={digest}",
            "X-Request-UUID": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return httpx.post(self.url, content=body, headers=headers, timeout=10).status_code


def status_payload(
    repository: str, commit: str, branch: str, build: int, state: str
) -> dict[str, Any]:
    name = "created" if state == "INPROGRESS" else "updated"
    fixture = FIXTURES / f"repo-commit_status_{name}.json"
    document: dict[str, Any] = json.loads(fixture.read_text())
    status = document["commit_status"]
    document["repository"]["full_name"] = repository
    status["repository"]["full_name"] = repository
    status["commit"]["hash"] = commit
    status["state"] = state
    status["refname"] = branch
    status["name"] = f"Pipeline #{build} for {branch}"
    status["key"] = str(int(hashlib.sha256(branch.encode()).hexdigest()[:6], 16))
    status["url"] = f"https://bitbucket.org/{repository}/addon/pipelines/home#!/results/{build}"
    return document
