"""GET /api/teams/<workspace>: snapshot, last diff, held diff and status, behind the token."""

from __future__ import annotations

import fakeredis

from receiver import create_app
from shared.teams.snapshot import Member, diff
from shared.teams.store import TeamStore
from tests.conftest import make_settings
from tests.recording_enqueuer import RecordingEnqueuer


def test_the_team_view_shows_what_the_last_sync_saved() -> None:
    server = fakeredis.FakeServer()
    store = TeamStore(fakeredis.FakeRedis(server=server))
    members = {"u1": Member("u1", "ana", "Ana", ("admins",), "admin")}
    store.record_attempt("acme")
    store.save("acme", members, diff({}, members), at=1_700_000_000.0)
    app = create_app(
        make_settings(),
        enqueuer=RecordingEnqueuer(),
        redis_client=fakeredis.FakeRedis(server=server),
    )
    client = app.test_client()
    answer = client.get("/api/teams/acme", headers={"Authorization": "Bearer api-token"})
    assert answer.status_code == 200
    view = answer.json
    assert view is not None
    assert view["snapshot"] == [
        {
            "user_id": "u1",
            "nickname": "ana",
            "display_name": "Ana",
            "groups": ["admins"],
            "role": "admin",
        }
    ]
    assert [m["nickname"] for m in view["diff"]["added"]] == ["ana"]
    assert view["status"]["last_success"] == "1700000000.000"
    assert view["held"] is None
    assert client.get("/api/teams/acme").status_code == 401
    missing = client.get("/api/teams/other", headers={"Authorization": "Bearer api-token"})
    assert missing.status_code == 404
