"""Is a TCP port free on 127.0.0.1, and if not, which process listens on it (Linux /proc)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

LISTEN = "0A"


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `host:port` now (SO_REUSEADDR, as gunicorn binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """`pid N (command line)` of the process listening on `port`, when /proc tells."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    command = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ")
                    return f"pid {pid_dir.name} ({command.decode(errors='replace').strip()})"
    return None


def _listening_inodes(port: int, proc: Path) -> set[str]:
    found = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for row in (proc / "net" / table).read_text().splitlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                    found.add(f"socket:[{fields[9]}]")
    return found


def in_use_message(port: int, what: str, suggestion: int) -> str | None:
    """None when `port` is free, else which port, who holds it, and how to choose another."""
    if is_free(port):
        return None
    who = holder(port)
    by = f" by {who}" if who else ""
    return (
        f"port {port} ({what}) is already in use{by}; choose another: "
        f"`make run PORT={suggestion}` or `bbrelay run --port {suggestion}`"
    )
