"""The `bbrelay` command line as a new user meets it: one line per error, helpful answers."""

from __future__ import annotations

import argparse
import dataclasses
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import structlog

from bbrelay import check, cli
from shared.config.settings import TeamsSettings, TeamSyncSettings
from shared.deliveries import DeliveryStore
from shared.webhook_secrets import RING_KEY, SecretRing, fingerprint
from tests.conftest import KEYED, SEALER, make_settings
from workers.beat_heartbeat import STARTED_KEY


@pytest.fixture(autouse=True)
def structlog_restored() -> Iterator[None]:
    """`cli.main` configures structlog for its process; later tests get the previous set-up."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user outside any checkout, with a webhook secret, an encryption key and a Redis named, no
    service running."""
    for name in ("BBRELAY_CONFIG", "BBRELAY_VAR_DIR", "REDIS_URL", "BBRELAY_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("BBRELAY_WEBHOOK_SECRET", "a-webhook-secret-long-enough-for-production")
    for name, value in KEYED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BBRELAY_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def fake_redis(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeRedis:
    client = fakeredis.FakeRedis()
    monkeypatch.setattr(cli, "connect", lambda url: client)
    return client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_send_test_event_to_an_unreachable_receiver_says_so_in_one_line(
    user: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/webhooks/bitbucket"
    assert cli.main(["send-test-event", "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"could not reach {url} (--url)" in err
    assert "start the relay (`make run`) or name the receiver with --url" in err


def test_version_and_every_subcommand_describes_itself_and_shows_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"bbrelay \S+\n", capsys.readouterr().out)
    parser = cli._parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands = dict(sub.choices)
    for name, command in list(commands.items()):
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                commands |= {f"{name} {n}": p for n, p in action.choices.items()}
    undescribed = [name for name, command in commands.items() if not command.description]
    assert undescribed == []
    assert "(default: 20)" in commands["deliveries"].format_help()
    assert "(default: 8000)" in commands["run"].format_help()


def test_replay_all_failed_with_nothing_failed_says_so(
    user: Path, fake_redis: fakeredis.FakeRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "--all-failed"]) == 0
    assert capsys.readouterr().out == "no failed deliveries and no dead jobs: nothing to replay\n"


def test_deliveries_table_stays_aligned_for_long_ids(
    user: Path, fake_redis: fakeredis.FakeRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    store = DeliveryStore(fake_redis)
    fields = {"event_key": "repo:push", "repository": "acme/x", "received_at": "1"}
    for delivery_id in ("short", "gen-" + "7" * 60):
        store.claim(delivery_id, delivery_id, b"{}", fields)
    assert cli.main(["deliveries"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    columns = {line.index("queued") for line in rows}
    assert columns == {header.index("STATUS")}


def test_check_calls_a_team_sync_still_to_come_not_yet_and_a_redis_without_relay_data_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = fakeredis.FakeRedis()
    monkeypatch.setattr(check, "connect", lambda url: client)
    settings = dataclasses.replace(
        make_settings(),
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
        teams=TeamsSettings(sync_interval=3600.0),
    )
    checker = check.Checker(settings)
    assert checker.redis_reachable().status == "warn"
    assert [line.status for line in checker.team_sync()] == ["fail"]

    client.set(STARTED_KEY, f"{time.time() - 30:.3f}")
    assert checker.redis_reachable().status == "ok"
    [line] = checker.team_sync()
    assert (line.status, line.detail) == ("warn", "not yet: the first sync runs when beat starts")

    client.set(STARTED_KEY, f"{time.time() - 3700:.3f}")
    assert [line.status for line in checker.team_sync()] == ["fail"]


def test_retire_secret_keeps_only_the_newest_rotated_secret(
    user: Path, fake_redis: fakeredis.FakeRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    ring = SecretRing(fake_redis, SEALER)
    for n, secret in enumerate(("first-rotated-secret-0123456", "second-rotated-secret-012345")):
        fake_redis.zadd(RING_KEY, {SEALER.seal(secret): time.time() - 10 + n})
    assert cli.main(["hooks", "retire-secret"]) == 0
    out = capsys.readouterr().out
    assert f"retired {fingerprint('first-rotated-secret-0123456')}" in out
    assert "first-rotated" not in out and "second-rotated" not in out
    assert [entry.secret.reveal() for entry in ring.entries()] == ["second-rotated-secret-012345"]
    assert cli.main(["hooks", "retire-secret", "000000000000"]) == 1
