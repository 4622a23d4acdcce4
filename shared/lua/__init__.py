"""Every Redis Lua script of the relay, one `.lua` file each, read by name."""

from __future__ import annotations

from importlib import resources


def script(name: str) -> str:
    """The text of `<name>.lua` in this directory."""
    return resources.files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
