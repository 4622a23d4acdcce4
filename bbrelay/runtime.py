"""What `bbrelay run` started (Redis URL, receiver URL, var dir), so other commands find it.

`bbrelay run` writes `runtime.json` into its var dir and into a per-user state directory
(`$XDG_STATE_HOME/bbrelay`, default `~/.local/state/bbrelay`). A command run inside the
checkout reads `./var` (or `$BBRELAY_VAR_DIR`); from anywhere else, the per-user file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.private_files import make_private_dir, write_private_file

RUNTIME_FILE = "runtime.json"
# Still meaningful once the service has stopped: where its (development) secret and its
# configuration are.
KEPT_WHEN_STOPPED = ("BBRELAY_VAR_DIR", "BBRELAY_CONFIG", "BBRELAY_ENV")


def var_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("BBRELAY_VAR_DIR", "./var"))


def state_dir(environ: Mapping[str, str]) -> Path:
    """The per-user directory where `bbrelay run` says what it started."""
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bbrelay"


def write_runtime(environ: Mapping[str, str], data: Mapping[str, Any]) -> None:
    """Record the running service in its var dir and in the per-user state directory."""
    record = json.dumps({**data, "pid": os.getpid()}, indent=2)
    for directory in (var_dir(environ), state_dir(environ)):
        make_private_dir(directory)
        write_private_file(directory / RUNTIME_FILE, record)


def clear_runtime(environ: Mapping[str, str]) -> None:
    """Forget the service in its var dir; the per-user record stays, marked stopped."""
    (var_dir(environ) / RUNTIME_FILE).unlink(missing_ok=True)
    user_file = state_dir(environ) / RUNTIME_FILE
    data = _load(user_file)
    if data.get("pid") == os.getpid():
        write_private_file(user_file, json.dumps({**data, "pid": 0}, indent=2))


def runtime_file(environ: Mapping[str, str]) -> Path:
    """The record to read: the var dir's inside the checkout (or when named), else the user's."""
    local = var_dir(environ)
    if "BBRELAY_VAR_DIR" in environ or local.is_dir():
        return local / RUNTIME_FILE
    return state_dir(environ) / RUNTIME_FILE


def read_runtime(environ: Mapping[str, str]) -> dict[str, Any]:
    """The running service's details, or {} when none is running."""
    data = _load(runtime_file(environ))
    return data if _alive(int(data.get("pid", 0))) else {}


def environ_with_runtime(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ`, plus the service's settings for whatever `environ` leaves unset.

    A stopped service still tells where its var dir and values file are, not its Redis.
    """
    merged = dict(environ)
    data = _load(runtime_file(environ))
    running = _alive(int(data.get("pid", 0)))
    for key, value in data.get("environ", {}).items():
        if running or key in KEPT_WHEN_STOPPED:
            merged.setdefault(key, value)
    if "REDIS_URL" in environ and "BBRELAY_REDIS_URL" not in environ:
        merged["BBRELAY_REDIS_URL"] = environ["REDIS_URL"]
    return merged


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
