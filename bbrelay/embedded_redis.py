"""A real redis-server run as a child process, for `make run` and `make test` without a Redis."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from bbrelay.redis_server import RedisServer, RedisServerNotFound, find_redis_server, probe
from shared.private_files import make_private_dir

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LOG_NAME = "redis.log"


class EmbeddedRedisError(RuntimeError):
    """redis-server could not be found or would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """redis-server on 127.0.0.1 keeping its data (and AOF) in `data_dir` across restarts.

    It asks for a password (requirepass), generated per instance unless one is given (to
    restart on the same port for the clients already holding `url`); it is handed to
    redis-server on stdin, never on its command line, and carried in `url`.
    Started in its own session, so a Ctrl-C meant for the processes using it does not take it
    down before they have finished; `stop()` (or leaving the `with` block) shuts it down.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = True,
        executable: str | None = None,
        password: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.appendonly = appendonly
        self._requested_port = port
        self._executable = executable
        self.password = password or secrets.token_hex(16)
        self.server: RedisServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedRedisError("the embedded Redis is not started")
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    def start(self) -> EmbeddedRedis:
        """Run redis-server and return once it answers, its data loaded."""
        if self._process is not None:
            return self
        try:
            self.server = probe(self._executable) if self._executable else find_redis_server()
        except RedisServerNotFound as exc:
            raise EmbeddedRedisError(str(exc)) from exc
        executable = self.server.path
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
            "-",  # then the rest of the configuration from stdin: the password
        ]  # fmt: skip
        try:
            process = subprocess.Popen(  # noqa: S603 - argv is built here, no shell
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot run redis-server at {executable}: {exc}") from exc
        assert process.stdin is not None
        try:
            process.stdin.write(f"requirepass {self.password}\n".encode())
            process.stdin.close()
        except OSError:  # it exited at once: _wait_until_ready reports why
            pass
        return process

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not _serves(port, self._process.pid, self.password):
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


def _serves(port: int, pid: int, password: str) -> bool:
    """Whether redis-server `pid` answers on 127.0.0.1:port to `password`, done loading its AOF.

    Checking the pid tells our server from another one that already held the port.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(f"AUTH {password}\r\nINFO\r\n".encode())
            with sock.makefile("rb") as reply:
                if not reply.readline().startswith(b"+OK"):
                    return False
                header = reply.readline()
                if not header.startswith(b"$"):  # an error reply
                    return False
                info = reply.read(int(header[1:])).decode(errors="replace").splitlines()
    except (OSError, ValueError):
        return False
    return f"process_id:{pid}" in info and "loading:0" in info
