"""A fake job platform over HTTP: takes signed job documents, remembers them, can fail."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes.serving import QuietHandler, serve, stop


@dataclass(frozen=True)
class ReceivedJob:
    document: dict[str, Any]
    body: bytes
    signature: str | None
    timestamp: str | None

    def signed_by(self, secret: str) -> bool:
        """Whether the signature is HMAC-SHA256 of `f"{timestamp}.{body}"` under `secret`."""
        stamped = (self.timestamp or "").encode() + b"." + self.body
        digest = hmac.new(secret.encode(), stamped, hashlib.sha256).hexdigest()
        return self.signature == f"sha256={digest}"


class FakePlatform:
    def __init__(self) -> None:
        self.jobs: list[ReceivedJob] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakePlatform:
        handler = type("Handler", (_Handler,), {"platform": self})
        self._server = serve(handler)
        return self

    def __exit__(self, *_: object) -> None:
        stop(self._server)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/jobs"

    def received(self) -> list[ReceivedJob]:
        with self.lock:
            return list(self.jobs)


class _Handler(QuietHandler):
    platform: FakePlatform

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.platform.lock:
            failing = self.platform.fail_next > 0
            if failing:
                self.platform.fail_next -= 1
            else:
                received = ReceivedJob(
                    json.loads(body),
                    body,
                    self.headers.get("X-Relay-Signature"),
                    self.headers.get("X-Relay-Timestamp"),
                )
                self.platform.jobs.append(received)
        status, answer = (
            (503, {"error": "busy"})
            if failing
            else (202, {"id": f"plat-{next(self.platform._ids)}"})
        )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
