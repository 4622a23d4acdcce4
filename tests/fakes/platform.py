"""A fake job platform over HTTP: takes signed job documents, remembers them, can fail."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedJob:
    document: dict[str, Any]
    body: bytes
    signature: str | None


class FakePlatform:
    def __init__(self) -> None:
        self.jobs: list[ReceivedJob] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakePlatform:
        handler = type("Handler", (_Handler,), {"platform": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/jobs"

    def received(self) -> list[ReceivedJob]:
        with self.lock:
            return list(self.jobs)


class _Handler(BaseHTTPRequestHandler):
    platform: FakePlatform
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.platform.lock:
            failing = self.platform.fail_next > 0
            if failing:
                self.platform.fail_next -= 1
            else:
                received = ReceivedJob(
                    json.loads(body), body, self.headers.get("X-Relay-Signature")
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
