"""The embedded redis-server of `make run` and `make test`, and the `with_redis` wrapper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from bbrelay.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from bbrelay.redis_server import find_redis_server

pytestmark = pytest.mark.integration


def client(server: EmbeddedRedis) -> redis.Redis[bytes]:
    return redis.Redis.from_url(server.url, socket_timeout=5)


def test_finds_a_redis_server_binary_that_runs_and_reports_its_version() -> None:
    server = find_redis_server()
    version = subprocess.run([server.path, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith(f"Redis server v={server.version_text} ")


def test_refuses_a_client_without_the_password_it_hands_out_in_its_url(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path, appendonly=False) as server:
        anonymous = redis.Redis(port=server.port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            anonymous.set("delivery:1", "queued")
        anonymous.close()
        connection = client(server)
        assert connection.config_get("requirepass")["requirepass"] == server.password
        pid = connection.info("server")["process_id"]
        connection.close()
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()  # what every user can read
    assert server.password.encode() not in command_line


def test_keeps_its_data_across_a_restart_through_the_append_only_file(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        connection = client(server)
        connection.set("delivery:1", "queued")
        connection.close()
    with EmbeddedRedis(tmp_path) as server:
        connection = client(server)
        assert connection.get("delivery:1") == b"queued"
        connection.close()


def test_listens_only_on_localhost_with_the_requested_persistence(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path, appendonly=False) as server:
        connection = client(server)
        config = connection.config_get("*")
        connection.close()
    assert config["bind"] == "127.0.0.1"
    assert config["appendonly"] == "no"
    assert config["save"] == ""
    assert config["protected-mode"] == "yes"
    assert Path(config["dir"]) == tmp_path.resolve()


def test_two_instances_get_different_ports(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "a") as first, EmbeddedRedis(tmp_path / "b") as second:
        assert first.port != second.port
        assert client(first).ping()
        assert client(second).ping()


def test_stop_shuts_the_server_down_and_may_be_called_again(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path).start()
    url = server.url
    server.stop()
    server.stop()
    with pytest.raises(redis.ConnectionError) as refused:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert not isinstance(refused.value, redis.AuthenticationError)


def test_a_bad_binary_path_gives_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-redis-server"
    with pytest.raises(EmbeddedRedisError, match=r"cannot run redis-server at .*no-such-redis"):
        EmbeddedRedis(tmp_path, executable=str(missing)).start()


def test_a_server_that_fails_to_start_is_reported_with_its_log(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "taken") as server:
        assert server.port is not None
        clash = EmbeddedRedis(tmp_path / "clash", port=server.port)
        with pytest.raises(EmbeddedRedisError, match=r"(?s)exited with status.*in use"):
            clash.start()


def with_redis(code: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BBRELAY_REDIS_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bbrelay.with_redis", "--", sys.executable, "-c", code],
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRINT_URL_AND_PING = (
    "import os, redis; url = os.environ['BBRELAY_REDIS_URL']; "
    "print(url); print(redis.Redis.from_url(url).ping())"
)


def test_with_redis_runs_the_command_against_an_embedded_redis_and_stops_it() -> None:
    result = with_redis(PRINT_URL_AND_PING + "; raise SystemExit(7)")
    assert result.returncode == 7, result.stderr
    url, pong = result.stdout.split()
    assert pong == "True"
    password = urlsplit(url).password
    assert password
    assert password not in result.stderr
    with pytest.raises(redis.ConnectionError) as refused:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert not isinstance(refused.value, redis.AuthenticationError)


def test_with_redis_uses_a_configured_redis_that_answers(redis_url: str) -> None:
    result = with_redis(PRINT_URL_AND_PING, REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [redis_url, "True"]


def test_with_redis_refuses_a_configured_redis_that_does_not_answer() -> None:
    result = with_redis("print('ran')", BBRELAY_REDIS_URL="redis://:hunter2@127.0.0.1:1/0")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "does not answer" in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("signum", "to_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["ctrl-c", "term"]
)
def test_with_redis_stops_its_redis_after_the_interrupted_command(
    signum: signal.Signals, to_group: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BBRELAY_REDIS_URL", "REDIS_URL")}
    sleeper = "import os, signal, time; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    sleeper += "print(os.environ['BBRELAY_REDIS_URL'], flush=True); time.sleep(60)"
    process = subprocess.Popen(
        [sys.executable, "-m", "bbrelay.with_redis", "--", sys.executable, "-c", sleeper],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job would be
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().strip()
        assert redis.Redis.from_url(url, socket_timeout=5).ping()
        if to_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert process.returncode == 128 + signum
    with pytest.raises(redis.ConnectionError) as refused:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert not isinstance(refused.value, redis.AuthenticationError)
