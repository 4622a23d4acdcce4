"""Malformed webhook requests written on raw sockets, as a broken or hostile client sends them.

Garbage bodies, bad signatures, bad JSON, a Content-Length too long or too short, bad chunked
encoding, huge or too many headers and truncated bodies, each kind in turn. Where the request
is short of what it announces, the client half-closes, as a crashed sender's socket would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.receiver import WEBHOOK_PATH, Delivery
from bench.reliability.push_load import signed_push
from receiver.signature import sign
from shared.secret import Secret
from tests.integration.relay import WEBHOOK_SECRET

SOCKET_TIMEOUT = 10.0
SENDERS = 8
# (request bytes, whether to half-close after sending)
Request = tuple[bytes, bool]


def _head(delivery: Delivery, port: int, **overrides: str | None) -> bytes:
    fields: dict[str, str | None] = {
        "Host": f"127.0.0.1:{port}",
        "Connection": "close",
        **delivery.headers(),
        "Content-Length": str(len(delivery.body)),
        **overrides,
    }
    lines = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return f"POST {WEBHOOK_PATH} HTTP/1.1\r\n{lines}\r\n".encode()


def garbage_body(d: Delivery, port: int) -> Request:
    body = os.urandom(2048)
    return _head(d, port, **{"Content-Length": str(len(body))}) + body, False


def bad_signature(d: Delivery, port: int) -> Request:
    return _head(d, port, **{"X-Hub-Signature": "sha256=" + "0" * 64}) + d.body, False


def bad_json(d: Delivery, port: int) -> Request:
    body = d.body[: len(d.body) // 2]
    signed = {
        "Content-Length": str(len(body)),
        "X-Hub-Signature": sign(Secret(WEBHOOK_SECRET), body),
    }
    return _head(d, port, **signed) + body, False


def content_length_too_long(d: Delivery, port: int) -> Request:
    return _head(d, port, **{"Content-Length": str(len(d.body) + 500)}) + d.body, True


def content_length_too_short(d: Delivery, port: int) -> Request:
    return _head(d, port, **{"Content-Length": str(len(d.body) - 500)}) + d.body, False


def content_length_not_a_number(d: Delivery, port: int) -> Request:
    return _head(d, port, **{"Content-Length": "12abc"}) + d.body, False


def bad_chunked(d: Delivery, port: int) -> Request:
    head = _head(d, port, **{"Content-Length": None, "Transfer-Encoding": "chunked"})
    return head + b"zz\r\n" + d.body[:100] + b"\r\n0\r\n\r\n", False


def huge_header(d: Delivery, port: int) -> Request:
    return _head(d, port, **{"X-Padding": "a" * 100_000}) + d.body, False


def too_many_headers(d: Delivery, port: int) -> Request:
    extra = {f"X-Extra-{n}": "x" for n in range(150)}
    return _head(d, port, **extra) + d.body, False


def truncated_body(d: Delivery, port: int) -> Request:
    return _head(d, port) + d.body[: len(d.body) // 3], True


KINDS: list[Callable[[Delivery, int], Request]] = [
    garbage_body,
    bad_signature,
    bad_json,
    content_length_too_long,
    content_length_too_short,
    content_length_not_a_number,
    bad_chunked,
    huge_header,
    too_many_headers,
    truncated_body,
]


def exchange(port: int, request: Request) -> int | None:
    """Send one raw request; the answer's status code, or None if none came."""
    data, half_close = request
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
            with contextlib.suppress(OSError):  # it may answer and close before reading it all
                sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            status_line = sock.makefile("rb").readline(200)
    except OSError:
        return None
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


class MalformedLoad:
    """`count` malformed requests spread over `duration` seconds, answers counted by kind."""

    def __init__(self, port: int, count: int, duration: float) -> None:
        self.port = port
        self.count = count
        self.duration = duration
        self.by_kind: Counter[tuple[str, int | None]] = Counter()
        self._lock = threading.Lock()

    def run(self, stopping: threading.Event) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="malformed") as pool:
            for n in range(self.count):
                time.sleep(max(0.0, started + n * self.duration / self.count - time.monotonic()))
                if stopping.is_set():
                    break
                _, delivery = signed_push("malformed", n, pipelines=False)
                kind = KINDS[n % len(KINDS)]
                pool.submit(self._one, kind.__name__, kind(delivery, self.port))

    @property
    def answers(self) -> Counter[int | None]:
        """How many answers had each status (None: no answer)."""
        counts: Counter[int | None] = Counter()
        for (_, status), n in self.by_kind.items():
            counts[status] += n
        return counts

    def summary(self) -> list[str]:
        """One line per kind: its answers, e.g. `bad_json: 400 x10`."""
        kinds: dict[str, list[str]] = {}
        for (kind, status), n in sorted(self.by_kind.items(), key=str):
            kinds.setdefault(kind, []).append(f"{status or 'no answer'} x{n}")
        return [f"malformed {kind}: {', '.join(answers)}" for kind, answers in kinds.items()]

    def _one(self, kind: str, request: Request) -> None:
        status = exchange(self.port, request)
        with self._lock:
            self.by_kind[kind, status] += 1
