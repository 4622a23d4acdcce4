"""Files and directories only their owner may read: var/, its secrets and records (0700/0600).

Created with the mode from the start (os.open, mkdir's mode), never written first and narrowed
after, so there is no moment when another user could read them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# For processes that fill var/ themselves (Redis's AOF, beat's schedule, metrics samples).
PRIVATE_UMASK = 0o077


def make_private_dir(directory: Path) -> None:
    """`directory` created 0700 if absent (missing parents too: the umask's default for those)."""
    directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def write_private_file(file: Path, text: str) -> None:
    """`text` written to `file`, which is created 0600 (or narrowed to 0600 before writing)."""
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
        handle.write(text)
