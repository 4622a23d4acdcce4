"""Connect Bitbucket: the administrator's tokens stored sealed, used and refreshed by the relay."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
import redis

from shared.bitbucket.connected import CONNECTED_KEY, ConnectionStore
from shared.config import load_settings
from tests.conftest import SEALER
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import BIN
from tests.integration.sign_in import consent, sign_in_relay
from workers.services import build_services

pytestmark = pytest.mark.integration


def _bbrelay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "bbrelay"), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_connect_stores_sealed_tokens_that_the_relay_uses_and_refreshes(
    redis_url: str, tmp_path: Path
) -> None:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    with FakeBitbucket("cloud", token_lifetime=120) as fake:  # inside the refresh margin
        team_data.add_member(fake, "acme", 0, group=None)
        fake.authorization.logged_in = team_data.user_key(0)
        with sign_in_relay(redis_url, tmp_path, fake, ["acme"], {}) as relay:
            printed = _bbrelay(relay.env, "connect")
            assert printed.returncode == 0, printed.stderr
            link = printed.stdout.strip().splitlines()[-1]
            assert httpx.get(link.split("?")[0]).status_code == 401  # no ticket, no token
            with httpx.Client() as browser:
                authorize = browser.get(link)
                assert authorize.status_code == 302, authorize.text
                done = browser.get(consent(browser, authorize.headers["location"]))
            assert done.status_code == 200, done.text
            assert "Bitbucket connected" in done.text

            raw = client.get(CONNECTED_KEY)
            assert raw is not None and b"utok-" not in raw and b"rtok-" not in raw
            stored = ConnectionStore(client, SEALER).load()
            assert stored is not None and stored.user == "user00000"

            settings = load_settings(environ=relay.env)
            services = build_services(settings)
            assert services.bitbucket.current_user().name == "user00000"
            refreshed = ConnectionStore(client, SEALER).load()
            assert refreshed is not None
            assert refreshed.access_token != stored.access_token
            assert refreshed.refresh_token != stored.refresh_token
            assert refreshed.connected_at == stored.connected_at
            last = fake.requests_to("/2.0/user")[-1]
            assert last.consumer == "sign-in-app"

            checked = _bbrelay(relay.env, "check")
            assert "acts as user00000" in checked.stdout, checked.stdout

            assert _bbrelay(relay.env, "connect", "--revoke").stdout.strip() == "disconnected"
            assert client.get(CONNECTED_KEY) is None
    client.close()
    assert "utok-" not in relay.log.read_text()
