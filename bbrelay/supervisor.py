"""Run named processes together, foreman-style: prefixed output, and when one stops, all stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO, TextIO

GRACE_SECONDS = 10.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class NamedCommand:
    name: str
    argv: Sequence[str]


class _Output:
    """Writes whole lines as `name | line`, one writer at a time."""

    def __init__(self, out: TextIO, names: Sequence[str]) -> None:
        self._out = out
        self._width = max(len(name) for name in [*names, "system"])
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self._lock:
            self._out.write(f"{name:<{self._width}} | {text}\n")
            self._out.flush()

    def copy(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                self.line(name, raw.decode(errors="replace").rstrip("\r\n"))


def run_processes(
    commands: Sequence[NamedCommand],
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    grace: float = GRACE_SECONDS,
) -> int:
    """Run all `commands` until one exits or SIGINT/SIGTERM arrives, then stop them all.

    Each runs in its own process group, so the whole group (a shell and its children, gunicorn
    and its workers) gets SIGTERM, and SIGKILL after `grace` seconds. Python children are
    unbuffered so their lines appear as they are written. Returns the exit status of the
    process that stopped first (128+N if killed by signal N), 128+N when stopped by signal N,
    or 127 when a command cannot be started.
    """
    output = _Output(out or sys.stdout, [command.name for command in commands])
    child_env = {"PYTHONUNBUFFERED": "1", **(os.environ if env is None else env)}
    stop_signal: list[int] = []

    def request_stop(signum: int, _: FrameType | None) -> None:
        stop_signal.append(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, request_stop),
            signal.SIGTERM: signal.signal(signal.SIGTERM, request_stop),
        }
    running: dict[str, subprocess.Popen[bytes]] = {}
    readers: list[threading.Thread] = []
    try:
        for command in commands:
            process = _start(command, child_env, output)
            if process is None:
                return 127
            running[command.name] = process
            assert process.stdout is not None
            reader = threading.Thread(
                target=output.copy, args=(command.name, process.stdout), daemon=True
            )
            reader.start()
            readers.append(reader)
        return _wait_for_first_exit(running, stop_signal, output)
    finally:
        _stop_all(running, output, grace)
        for reader in readers:
            reader.join(timeout=2.0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _start(
    command: NamedCommand, env: Mapping[str, str], output: _Output
) -> subprocess.Popen[bytes] | None:
    try:
        process = subprocess.Popen(  # noqa: S603 - argv comes from the caller, no shell
            list(command.argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    except OSError as exc:
        output.line("system", f"{command.name} could not start: {exc}")
        return None
    output.line("system", f"{command.name} started (pid {process.pid})")
    return process


def _wait_for_first_exit(
    running: Mapping[str, subprocess.Popen[bytes]], stop_signal: list[int], output: _Output
) -> int:
    while not stop_signal:
        for name, process in running.items():
            if process.poll() is not None:
                output.line("system", f"{name} exited with status {process.returncode}")
                return _shell_status(process.returncode)
        time.sleep(POLL_SECONDS)
    name = signal.Signals(stop_signal[0]).name
    output.line("system", f"{name} received")
    return 128 + stop_signal[0]


def _stop_all(
    running: Mapping[str, subprocess.Popen[bytes]], output: _Output, grace: float
) -> None:
    """SIGTERM every group, give the leaders `grace` seconds to exit, then SIGKILL what is left.

    The final SIGKILL also takes any process a leader left behind in its group.
    """
    if not running:
        return
    output.line("system", "stopping all processes (SIGTERM)")
    for process in running.values():
        _signal_group(process.pid, signal.SIGTERM)  # pgid == leader's pid
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in running.values()):
        time.sleep(POLL_SECONDS)
    for name, process in running.items():
        if process.poll() is None:
            output.line("system", f"{name} still running after {grace:g} s: SIGKILL")
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # group already empty
        os.killpg(pgid, signum)


def _shell_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode
