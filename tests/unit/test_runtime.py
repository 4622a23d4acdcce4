"""Commands find the service `bbrelay run` started, from any directory, and say what they use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bbrelay import cli, ports
from bbrelay.runtime import clear_runtime, environ_with_runtime, read_runtime, write_runtime
from tests.conftest import KEYED


def test_a_command_outside_the_checkout_finds_the_running_service_then_its_var_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    (checkout / "var").mkdir(parents=True)
    elsewhere.mkdir()
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    service = {
        "BBRELAY_REDIS_URL": "redis://127.0.0.1:40123/0",
        "BBRELAY_VAR_DIR": str(checkout / "var"),
        "BBRELAY_CONFIG": str(checkout / "values.yaml"),
        "BBRELAY_ENV": "development",
    }
    write_runtime(state | service, {"receiver_url": "http://127.0.0.1:8000", "environ": service})

    monkeypatch.chdir(elsewhere)
    assert environ_with_runtime(state) == state | service
    assert read_runtime(state)["receiver_url"] == "http://127.0.0.1:8000"

    clear_runtime(state | service)
    stopped = environ_with_runtime(state)
    assert stopped["BBRELAY_VAR_DIR"] == service["BBRELAY_VAR_DIR"]
    assert stopped["BBRELAY_CONFIG"] == service["BBRELAY_CONFIG"]
    assert stopped["BBRELAY_ENV"] == "development"
    assert "BBRELAY_REDIS_URL" not in stopped
    assert read_runtime(state) == {}


def test_the_default_redis_is_named_when_no_service_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("BBRELAY_REDIS_URL", "REDIS_URL", "BBRELAY_CONFIG", "BBRELAY_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    environ = {"XDG_STATE_HOME": str(tmp_path / "state"), **KEYED}
    cli._settings(environ)
    err = capsys.readouterr().err
    assert f"no running `bbrelay run` found ({tmp_path}/state/bbrelay/runtime.json)" in err
    assert "default Redis redis://127.0.0.1:6379/0" in err and "BBRELAY_REDIS_URL" in err


def test_a_busy_port_is_named_with_the_process_holding_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        message = ports.in_use_message(port, "receiver", port + 10)
    assert message is not None
    assert message.startswith(f"port {port} (receiver) is already in use by pid ")
    assert message.endswith(f"`make run PORT={port + 10}` or `bbrelay run --port {port + 10}`")
