"""Run a command with a Redis: the configured one if it answers, else an embedded one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import NamedTuple

import redis

from bbrelay.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from bbrelay.redis_server import RedisServer
from shared.redis import connect, redacted_url

URL_VARIABLES = ("BBRELAY_REDIS_URL", "REDIS_URL")
USAGE = "usage: python -m bbrelay.with_redis -- COMMAND [ARGS...]"


class RedisUnreachable(RuntimeError):
    """A Redis URL is configured but nothing answers PING there."""


class RedisInUse(NamedTuple):
    """The Redis to use: its URL, and the binary run when it is an embedded one."""

    url: str
    server: RedisServer | None

    def describe(self) -> str:
        """The URL without its password, and where it comes from."""
        if self.server is None:
            return f"{redacted_url(self.url)}  (configured)"
        return (
            f"{redacted_url(self.url)}  (embedded: redis-server {self.server.version_text} "
            f"at {self.server.path})"
        )


def configured_url(environ: Mapping[str, str]) -> str | None:
    """The first of BBRELAY_REDIS_URL, REDIS_URL that is set and not empty."""
    return next((environ[name] for name in URL_VARIABLES if environ.get(name)), None)


def check_reachable(url: str) -> None:
    """Raise RedisUnreachable unless the Redis at `url` answers PING within a few seconds."""
    try:
        client = connect(url, timeout=3.0)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise RedisUnreachable(
            f"Redis at {redacted_url(url)} does not answer ({type(exc).__name__}): start it, fix "
            f"{' or '.join(URL_VARIABLES)}, or unset both to use an embedded Redis"
        ) from exc


@contextmanager
def redis_url(
    environ: Mapping[str, str], data_dir: Path | None = None, appendonly: bool = False
) -> Iterator[RedisInUse]:
    """Yield the configured Redis once it answers, else run an embedded Redis meanwhile.

    The embedded one keeps its data in `data_dir`, or in a temporary directory removed after.
    """
    url = configured_url(environ)
    if url is not None:
        check_reachable(url)
        yield RedisInUse(url, None)
        return
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bbrelay-")))
        embedded = stack.enter_context(EmbeddedRedis(data_dir, appendonly=appendonly))
        yield RedisInUse(embedded.url, embedded.server)


def run(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run `argv` to completion with BBRELAY_REDIS_URL set; its exit status, shell-style."""
    with redis_url(environ) as redis_in_use:
        print(f"with_redis: Redis at {redis_in_use.describe()}", file=sys.stderr)
        env = {**environ, "BBRELAY_REDIS_URL": redis_in_use.url}
        try:
            child = subprocess.Popen(argv, env=env)  # noqa: S603 - the caller's own command
        except OSError as exc:
            print(f"with_redis: cannot run {argv[0]}: {exc}", file=sys.stderr)
            return 127
        return _wait_forwarding_signals(child)


def _wait_forwarding_signals(child: subprocess.Popen[bytes]) -> int:
    """Wait for `child`, passing on SIGTERM/SIGHUP; SIGINT is left to the child.

    A terminal's Ctrl-C reaches the child directly (same process group); sending it again would
    cut short the child's own clean-up. Redis is stopped only after the child has exited.
    """

    def forward(signum: int, _: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, forward),
        signal.SIGHUP: signal.signal(signal.SIGHUP, forward),
    }
    try:
        status = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status


def _exit(signum: int, _: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with` blocks that stop Redis


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(USAGE, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)
    try:
        return run(args, os.environ)
    except (RedisUnreachable, EmbeddedRedisError) as exc:
        print(f"with_redis: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
