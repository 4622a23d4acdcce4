"""What `bbrelay run` started (Redis URL, receiver URL), so other commands can find it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUNTIME_FILE = "runtime.json"


def var_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("BBRELAY_VAR_DIR", "./var"))


def write_runtime(directory: Path, data: Mapping[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RUNTIME_FILE).write_text(json.dumps({**data, "pid": os.getpid()}, indent=2))


def clear_runtime(directory: Path) -> None:
    (directory / RUNTIME_FILE).unlink(missing_ok=True)


def read_runtime(directory: Path) -> dict[str, Any]:
    """The running service's details, or {} when none is running."""
    try:
        data: dict[str, Any] = json.loads((directory / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not _alive(int(data.get("pid", 0))):
        return {}
    return data


def environ_with_runtime(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ`, plus the running service's settings for whatever `environ` leaves unset."""
    merged = dict(environ)
    for key, value in read_runtime(var_dir(environ)).get("environ", {}).items():
        merged.setdefault(key, value)
    if "REDIS_URL" in environ and "BBRELAY_REDIS_URL" not in environ:
        merged["BBRELAY_REDIS_URL"] = environ["REDIS_URL"]
    return merged


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
