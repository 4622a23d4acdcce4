"""var/ and what the relay writes there are the owner's alone: 0700 directories, 0600 files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bbrelay.runtime import RUNTIME_FILE, write_runtime
from shared.private_files import make_private_dir, write_private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_directories_are_0700_and_files_0600_even_one_that_was_readable(tmp_path: Path) -> None:
    var = tmp_path / "var"
    make_private_dir(var)
    readable = var / "flower-auth"
    readable.write_text("old")
    readable.chmod(0o644)

    write_private_file(readable, "admin:new")
    write_private_file(var / "fresh", "text")

    assert (mode(var), mode(readable), mode(var / "fresh")) == (0o700, 0o600, 0o600)
    assert readable.read_text() == "admin:new"


@pytest.mark.usefixtures("permissive_umask")
def test_the_runtime_record_is_private_in_both_places(tmp_path: Path) -> None:
    environ = {"BBRELAY_VAR_DIR": str(tmp_path / "var"), "XDG_STATE_HOME": str(tmp_path / "st")}

    write_runtime(environ, {"url": "http://127.0.0.1:8000"})

    for directory in (tmp_path / "var", tmp_path / "st" / "bbrelay"):
        assert (mode(directory), mode(directory / RUNTIME_FILE)) == (0o700, 0o600)
