"""Procfile processes run as a supervisor would: restarted about a second after they exit.

Each process runs in its own group. An exit the suite caused (`kill`) is expected; any other
exit is a death, counted and noted with the process's last log line, then restarted too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.receiver import with_children
from tests.integration.processes import ROOT

RESTART_AFTER = 1.0
STOP_GRACE = 15.0


class Supervised:
    """One named process; `deaths` lists the exits nobody asked for."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log
        self.deaths: list[str] = []
        self.kills = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._killed = False
        self._restart_at: float | None = None
        self._log_from = 0  # where this run's output starts in the log

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._log_from = out.tell()
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._killed = False

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (the process and its children)."""
        with self._lock:
            if not self.running():
                return
            self._killed = True
            self.kills += 1
            _signal_group(self.pid, signal.SIGKILL)

    def kill_children(self, limit: int | None = None) -> list[int]:
        """SIGKILL the process's children (a Celery pool, gunicorn workers); their pids."""
        with self._lock:
            if not self.running():
                return []
            children = with_children(self.pid)[1:][:limit]
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            return children

    def tend(self, now: float) -> None:
        """Notice an exit (a death unless the suite killed it) and restart when due."""
        with self._lock:
            if self._process is None or self._process.poll() is None:
                return
            if self._restart_at is None:
                if not self._killed:
                    status = self._process.returncode
                    self.deaths.append(f"{self.name} exited with status {status}: {self._cause()}")
                _signal_group(self.pid, signal.SIGKILL)  # what it left behind in its group
                self._restart_at = now + RESTART_AFTER
            elif now >= self._restart_at:
                self._restart_at = None
                self.start()

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after a grace period; no restart after this."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE)
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def _cause(self) -> str:
        """This run's last critical log line (Celery's "Unrecoverable error"), else its last."""
        try:
            with self.log.open("rb") as log:
                log.seek(self._log_from)
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        critical = [line for line in lines if '"level": "critical"' in line]
        return (critical or lines or [""])[-1][:200]


class Supervisor:
    """A thread tending a set of processes until `close`, which stops them all."""

    def __init__(self, processes: Sequence[Supervised]) -> None:
        self.processes = list(processes)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._tend, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        for process in self.processes:
            process.stop()

    def _tend(self) -> None:
        while not self._closing.wait(0.1):
            for process in self.processes:
                process.tend(time.monotonic())


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
