"""Flower's password travels in its environment (FLOWER_BASIC_AUTH), never on a command line."""

from __future__ import annotations

from pathlib import Path

from bbrelay.run import commands

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def test_bbrelay_run_puts_no_flower_password_on_a_command_line(tmp_path: Path) -> None:
    argv = [arg for command in commands(tmp_path, 8000, 2) for arg in command.argv]
    assert "flower" in argv
    assert not [arg for arg in argv if "basic-auth" in arg or "basic_auth" in arg]


def test_the_procfile_passes_the_flower_password_through_the_environment() -> None:
    [flower] = [line for line in PROCFILE.read_text().splitlines() if line.startswith("flower:")]
    command = flower.split("&&", 1)[1]
    assert "celery" in command and "flower" in command
    assert "basic-auth" not in command and "FLOWER_BASIC_AUTH" not in command
