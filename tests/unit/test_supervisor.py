"""The foreman-style supervisor behind `bbrelay run`, driven with tiny Python children."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bbrelay.supervisor import NamedCommand, run_processes

pytestmark = pytest.mark.integration  # starts processes, though no Redis or sockets

PY = sys.executable


def sleeper(marker: Path) -> NamedCommand:
    """A child that records its pid in `marker`, then sleeps far longer than any test."""
    code = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    return NamedCommand(marker.stem, [PY, "-c", code])


def wait_for(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for its (new) parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone_soon(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def started_pid(output: str, name: str) -> int:
    """The pid the supervisor reported for `name`."""
    line = next(line for line in output.splitlines() if f"| {name} started (pid " in line)
    return int(line.rsplit("pid ", 1)[1].rstrip(")"))


def test_prefixes_every_output_line_with_its_process_name(tmp_path: Path) -> None:
    printed = tmp_path / "printed"
    worker = (
        "import sys, time\n"
        "print('oops', file=sys.stderr, flush=True)\n"
        f"open({str(printed)!r}, 'w').write('yes')\n"
        "time.sleep(60)\n"
    )
    web = (
        "import os, time\n"
        "print('hello')\n"
        "print('world')\n"
        f"while not os.path.exists({str(printed)!r}): time.sleep(0.05)\n"
    )
    out = io.StringIO()
    run_processes(
        [NamedCommand("web", [PY, "-c", web]), NamedCommand("worker", [PY, "-c", worker])],
        out=out,
    )
    lines = out.getvalue().splitlines()
    assert "web    | hello" in lines
    assert "web    | world" in lines
    assert "worker | oops" in lines


def test_one_process_exiting_stops_the_others_and_gives_its_status(tmp_path: Path) -> None:
    marker = tmp_path / "sleeper.pid"
    wait_then_fail = f"import os, time\nwhile not os.path.exists({str(marker)!r}): time.sleep(0.05)"
    status = run_processes(
        [sleeper(marker), NamedCommand("failing", [PY, "-c", wait_then_fail + "\nexit(3)"])],
        out=io.StringIO(),
    )
    assert status == 3
    assert not is_running(int(marker.read_text()))


def test_sigint_stops_every_child_and_grandchild(tmp_path: Path) -> None:
    child_marker = tmp_path / "child.pid"
    grandchild_marker = tmp_path / "grandchild.pid"
    shell = NamedCommand("shell", ["sh", "-c", f'sleep 60 & echo $! > "{grandchild_marker}"; wait'])
    script = (
        "import sys\n"
        "from bbrelay.supervisor import NamedCommand, run_processes\n"
        f"commands = [NamedCommand('child', {sleeper(child_marker).argv!r}),"
        f" NamedCommand('shell', {shell.argv!r})]\n"
        "sys.exit(run_processes(commands))\n"
    )
    supervisor = subprocess.Popen(
        [PY, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        child = int(wait_for(child_marker))
        grandchild = int(wait_for(grandchild_marker))
        supervisor.send_signal(signal.SIGINT)
        output, _ = supervisor.communicate(timeout=60)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.communicate()
    assert supervisor.returncode == 128 + signal.SIGINT, output
    assert "SIGINT received" in output
    assert gone_soon(child)
    assert gone_soon(grandchild)


def test_kills_a_process_that_ignores_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    marker = tmp_path / "stubborn.pid"
    stubborn = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    wait_then_exit = f"import os, time\nwhile not os.path.exists({str(marker)!r}): time.sleep(0.05)"
    out = io.StringIO()
    run_processes(
        [
            NamedCommand("stubborn", [PY, "-c", stubborn]),
            NamedCommand("quick", [PY, "-c", wait_then_exit]),
        ],
        out=out,
        grace=0.5,
    )
    assert "stubborn still running after 0.5 s: SIGKILL" in out.getvalue()
    assert not is_running(int(marker.read_text()))


def test_a_command_that_cannot_start_stops_the_others_with_status_127(tmp_path: Path) -> None:
    marker = tmp_path / "sleeper.pid"
    out = io.StringIO()
    status = run_processes(
        [sleeper(marker), NamedCommand("missing", [str(tmp_path / "no-such-program")])],
        out=out,
    )
    assert status == 127
    assert "missing could not start" in out.getvalue()
    assert not is_running(started_pid(out.getvalue(), "sleeper"))


def test_passes_the_given_environment_to_every_process() -> None:
    out = io.StringIO()
    run_processes(
        [NamedCommand("env", [PY, "-c", "import os; print(os.environ['BBRELAY_PROBE'])"])],
        env={**os.environ, "BBRELAY_PROBE": "from-the-caller"},
        out=out,
    )
    assert "env    | from-the-caller" in out.getvalue()
