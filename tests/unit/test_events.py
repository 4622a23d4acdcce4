"""Normalising real Bitbucket payloads into one Event, and refusing what does not fit."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from shared.events import Event
from shared.payloads import (
    EventKeyMismatch,
    InvalidPayload,
    PayloadError,
    UnknownEventKey,
    detect_product,
    parse_event,
    read_event_key,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bitbucket"


class Expected(NamedTuple):
    """What a fixture must normalise to, read off the JSON by hand."""

    event_key: str
    workspace: str | None
    repository: str | None
    branch: str | None
    ref: str | None
    commit: str | None
    pr_id: int | None
    actor: str | None


# Cloud `workspace` is the first part of `full_name`. In the two branch-created/deleted samples
# upstream anonymised `repository.workspace.slug` to "nfalco79" but left `full_name`
# "amuniz/test-repos"; the relay keeps workspace and repository consistent.
# Cloud pull requests carry only 12-char hashes, so their `commit` is None.
CLOUD = {
    "pullrequest-approved.json": Expected(
        "pullrequest:approved", "team_name", "team_name/repo_name",
        "branch2", "refs/heads/branch2", None, 1, "emmap1",
    ),
    "pullrequest-comment_created.json": Expected(
        "pullrequest:comment_created", "rutvijmehta-harness",
        "rutvijmehta-harness/spring-cloud-alibaba", "tiwhitepaper-rutvij",
        "refs/heads/tiwhitepaper-rutvij", None, 1, "Rutvij Mehta",
    ),
    "pullrequest-created.json": Expected(
        "pullrequest:created", "amuniz", "amuniz/test-repos",
        "feature/test", "refs/heads/feature/test", None, 735, "Nikolas Falco",
    ),
    "pullrequest-created-fork.json": Expected(
        "pullrequest:created", "amuniz", "amuniz/test-repos",
        "feature/test", "refs/heads/feature/test", None, 735, "Nikolas Falco",
    ),
    "pullrequest-fulfilled.json": Expected(
        "pullrequest:fulfilled", "brydzewski", "brydzewski/foo",
        "develop", "refs/heads/develop", None, 1, "Brad Rydzewski",
    ),
    "pullrequest-rejected.json": Expected(
        "pullrequest:rejected", "amuniz", "amuniz/test-repos",
        "feature/test", "refs/heads/feature/test", None, 735, "Nikolas Falco",
    ),
    "pullrequest-unapproved.json": Expected(
        "pullrequest:unapproved", "team_name", "team_name/repo_name",
        "branch2", "refs/heads/branch2", None, 1, "emmap1",
    ),
    "pullrequest-updated.json": Expected(
        "pullrequest:updated", "nfalco79", "nfalco79/test-repos",
        "release/release-1", "refs/heads/release/release-1", None, 1, "Nikolas Falco",
    ),
    "repo-commit_status_created.json": Expected(
        "repo:commit_status_created", "automationtestharness", "automationtestharness/testrepo",
        "main", "refs/heads/main", "bdf6fac0519ffd1562461eb82e018ff62efffbc9", None,
        "Automationtestharness",
    ),
    "repo-commit_status_updated.json": Expected(
        "repo:commit_status_updated", "automationtestharness", "automationtestharness/testrepo",
        "main", "refs/heads/main", "bdf6fac0519ffd1562461eb82e018ff62efffbc9", None,
        "Automationtestharness",
    ),
    "repo-push-branch-created.json": Expected(
        "repo:push", "amuniz", "amuniz/test-repos", "feature/test", "refs/heads/feature/test",
        "174561d625c9623b60d8aba09b7f08ddc9df45cd", None, "Nikolas Falco",
    ),
    "repo-push-branch-deleted.json": Expected(
        "repo:push", "amuniz", "amuniz/test-repos", "feature/test", "refs/heads/feature/test",
        None, None, "Nikolas Falco",
    ),
    "repo-push-signed.json": Expected(
        "repo:push", "nfalco79", "nfalco79/test-repos", "feature/webhook",
        "refs/heads/feature/webhook", "d7f300a32270053bdfd97a6d64113f58202c33e7", None,
        "Nikolas Falco",
    ),
    "repo-push-tag-created.json": Expected(
        "repo:push", "amuniz", "amuniz/test-repos", None, "refs/tags/simple-tag",
        "7ef5981d59145c3ed300b1ab77b93907d33abe59", None, "Nikolas Falco",
    ),
    "repo-push.json": Expected(
        "repo:push", "amuniz", "amuniz/test-repos", "feature/issue-819",
        "refs/heads/feature/issue-819", "5ecffa3874e96920f24a2b3c0d0038e47d5cd1a4", None,
        "Nikolas Falco",
    ),
}  # fmt: skip

# Server/DC `workspace` is the project key; a pull request belongs to its toRef repository.
SERVER = {
    "diagnostics-ping.json": Expected(
        "diagnostics:ping", None, None, None, None, None, None, None,
    ),
    "pr-declined.json": Expected(
        "pr:declined", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "b9eaed50a03c073b20dfa82e5e753d295e7f0e56", 2, "jcitizen",
    ),
    "pr-deleted.json": Expected(
        "pr:deleted", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "b9eaed50a03c073b20dfa82e5e753d295e7f0e56", 2, "jcitizen",
    ),
    "pr-from_ref_updated.json": Expected(
        "pr:from_ref_updated", "PRJ", "PRJ/my-repo", "feature-2", "refs/heads/feature-2",
        "c00d0f269a9844dd168f72f6a9d78a9cff49a318", 2, "jcitizen",
    ),
    "pr-merged.json": Expected(
        "pr:merged", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "b9eaed50a03c073b20dfa82e5e753d295e7f0e56", 3, "jcitizen",
    ),
    "pr-modified-meta.json": Expected(
        "pr:modified", "PRJ", "PRJ/my-repo", "cleanup", "refs/heads/cleanup",
        "a268fca7b65055e13f60ac1a2c9a527615f113ca", 6, "jcitizen",
    ),
    "pr-modified.json": Expected(
        "pr:modified", "PRJ", "PRJ/my-repo", "feature-2", "refs/heads/feature-2",
        "c00d0f269a9844dd168f72f6a9d78a9cff49a318", 2, "jcitizen",
    ),
    "pr-opened.json": Expected(
        "pr:opened", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e", 2, "jcitizen",
    ),
    "pr-opened-fork.json": Expected(
        "pr:opened", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e", 2, "jcitizen",
    ),
    "pr-reviewer-approved.json": Expected(
        "pr:reviewer:approved", "~gopher", "~gopher/webhook-test", "feature/wip",
        "refs/heads/feature/wip", "32a0b8a740c2963c6f56bd8baf3dc05683d299e0", 5, "tux",
    ),
    "pr-reviewer-unapproved.json": Expected(
        "pr:reviewer:unapproved", "~gopher", "~gopher/webhook-test", "feature/wip",
        "refs/heads/feature/wip", "32a0b8a740c2963c6f56bd8baf3dc05683d299e0", 5, "tux",
    ),
    "repo-refs_changed-branch-created.json": Expected(
        "repo:refs_changed", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e", None, "jcitizen",
    ),
    "repo-refs_changed-branch-deleted.json": Expected(
        "repo:refs_changed", "PRJ", "PRJ/my-repo", "develop", "refs/heads/develop",
        None, None, "jcitizen",
    ),
    "repo-refs_changed-compact.json": Expected(
        "repo:refs_changed", "AMUNIZ", "AMUNIZ/test-repos", "feature/BB-1",
        "refs/heads/feature/BB-1", None, None, "admin",
    ),
    "repo-refs_changed-tag-created.json": Expected(
        "repo:refs_changed", "AMUNIZ", "AMUNIZ/test-repos", None, "refs/tags/simple-tag",
        "fb522a6f08c7c7df337312e4e65ec1b57710672e", None, "admin",
    ),
    "repo-refs_changed-v10.json": Expected(
        "repo:refs_changed", "AMUNIZ", "AMUNIZ/test-repos", "feature/BB-1",
        "refs/heads/feature/BB-1", "fb522a6f08c7c7df337312e4e65ec1b57710672e", None, "admin",
    ),
    "repo-refs_changed.json": Expected(
        "repo:refs_changed", "AMUNIZ", "AMUNIZ/test-repos", "main", "refs/heads/main",
        "9fdd7b96d3f5c276d0b9e0bf38c879eb112d889a", None, "amuniz",
    ),
}  # fmt: skip

TABLE = {"cloud": CLOUD, "server": SERVER}
ALL_FIXTURES = [
    (product, name, expected.event_key)
    for product, table in TABLE.items()
    for name, expected in table.items()
]


def headers_for(product: str, event_key: str) -> dict[str, str]:
    """The headers each product really sends with a delivery."""
    if product == "cloud":
        return {
            "X-Event-Key": event_key,
            "X-Request-UUID": "5c3ee0e4-2bd8-4bc5-9ff4-5e0d2f8d0c4d",
            "X-Hook-UUID": "{8fb2b9a1-7e1d-4bb1-9a2e-2d1bd7a4f6a1}",
            "X-Attempt-Number": "1",
        }
    return {"X-Event-Key": event_key, "X-Request-Id": "0f9b8a7c-6d5e-4f3a-9b2c-1d0e9f8a7b6c"}


def parse_fixture(product: str, name: str, event_key: str) -> Event:
    body = (FIXTURES / product / name).read_bytes()
    return parse_event(
        headers_for(product, event_key), body, received_at=1_700_000_000.5, delivery_id="d-1"
    )


def parse_json(headers: dict[str, str], document: Any) -> Event:
    body = json.dumps(document).encode()
    return parse_event(headers, body, received_at=1.0, delivery_id="d-1")


def load_fixture(product: str, name: str) -> Any:
    return json.loads((FIXTURES / product / name).read_bytes())


def test_every_fixture_normalises_to_the_values_read_by_hand() -> None:
    for product, table in TABLE.items():
        found = sorted(path.name for path in (FIXTURES / product).glob("*.json"))
        assert found == sorted(table), f"{product}/ fixtures and the table differ"
    wrong = {}
    for product, table in TABLE.items():
        for name, expected in table.items():
            event = parse_fixture(product, name, expected.event_key)
            got = Expected(
                event.event_key,
                event.workspace,
                event.repository,
                event.branch,
                event.ref,
                event.commit,
                event.pr_id,
                event.actor,
            )
            if event.product != product or got != expected:
                wrong[f"{product}/{name}"] = (event.product, got)
    assert wrong == {}


def test_cloud_merged_pull_request_keeps_the_source_commit_apart_from_the_merge_commit() -> None:
    event = parse_fixture("cloud", "pullrequest-fulfilled.json", "pullrequest:fulfilled")
    assert event.is_pull_request
    assert (event.pr_source_branch, event.pr_source_commit) == ("develop", "0704fc5beccc")
    assert (event.pr_destination_branch, event.pr_destination_commit) == ("master", "7d1a175411ef")
    assert event.merge_commit == "4f8f6de9d0ff"


def test_server_merged_pull_request_carries_its_full_merge_commit() -> None:
    event = parse_fixture("server", "pr-merged.json", "pr:merged")
    assert event.merge_commit == "83f836ca538dc4f43d29fda46a5b85ea49f1b8e7"
    assert event.pr_source_commit == "b9eaed50a03c073b20dfa82e5e753d295e7f0e56"
    assert event.pr_destination_branch == "master"
    assert event.pr_destination_commit == "823b2230a56056231c9425d63758fa87078a66b4"


def test_an_open_pull_request_has_no_merge_commit() -> None:
    assert parse_fixture("server", "pr-opened.json", "pr:opened").merge_commit is None
    assert (
        parse_fixture("cloud", "pullrequest-created.json", "pullrequest:created").merge_commit
        is None
    )


def test_a_push_is_not_a_pull_request() -> None:
    assert not parse_fixture("cloud", "repo-push.json", "repo:push").is_pull_request


def test_cloud_headers_give_the_hook_uuid_and_attempt() -> None:
    headers = headers_for("cloud", "repo:push") | {"X-Attempt-Number": "3"}
    body = (FIXTURES / "cloud" / "repo-push.json").read_bytes()
    event = parse_event(headers, body, received_at=12.5, delivery_id="abc")
    assert event.hook_uuid == "{8fb2b9a1-7e1d-4bb1-9a2e-2d1bd7a4f6a1}"
    assert (event.attempt, event.delivery_id, event.received_at) == (3, "abc", 12.5)


@pytest.mark.parametrize("value", [None, "", "soon", "0", "-2"])
def test_an_absent_or_garbled_attempt_number_counts_as_the_first_attempt(
    value: str | None,
) -> None:
    headers = {"X-Event-Key": "repo:push"}
    if value is not None:
        headers["X-Attempt-Number"] = value
    body = (FIXTURES / "cloud" / "repo-push.json").read_bytes()
    assert parse_event(headers, body, received_at=1.0, delivery_id="d").attempt == 1


def test_a_cloud_push_that_deletes_one_branch_and_moves_another_reports_the_move() -> None:
    deleted = load_fixture("cloud", "repo-push-branch-deleted.json")["push"]["changes"][0]
    document = load_fixture("cloud", "repo-push.json")
    document["push"]["changes"].insert(0, deleted)
    event = parse_json({"X-Event-Key": "repo:push"}, document)
    assert event.ref == "refs/heads/feature/issue-819"
    assert event.commit == "5ecffa3874e96920f24a2b3c0d0038e47d5cd1a4"


def test_a_server_push_that_deletes_one_branch_and_adds_another_reports_the_addition() -> None:
    deleted = load_fixture("server", "repo-refs_changed-compact.json")["changes"][0]
    document = load_fixture("server", "repo-refs_changed-tag-created.json")
    document["changes"].insert(0, deleted)
    event = parse_json({"X-Event-Key": "repo:refs_changed"}, document)
    assert (event.ref, event.branch) == ("refs/tags/simple-tag", None)
    assert event.commit == "fb522a6f08c7c7df337312e4e65ec1b57710672e"


def test_a_cloud_push_with_no_changes_has_no_ref() -> None:
    document = load_fixture("cloud", "repo-push.json")
    document["push"]["changes"] = []
    event = parse_json({"X-Event-Key": "repo:push"}, document)
    assert (event.repository, event.ref, event.commit) == ("amuniz/test-repos", None, None)


def test_a_body_event_key_that_disagrees_with_the_header_is_refused() -> None:
    body = (FIXTURES / "server" / "pr-opened.json").read_bytes()
    with pytest.raises(EventKeyMismatch) as caught:
        parse_event({"X-Event-Key": "pr:merged"}, body, received_at=1.0, delivery_id="d")
    assert caught.value.field == "X-Event-Key"
    assert "pr:merged" in caught.value.reason
    assert "pr:opened" in caught.value.reason


def test_the_server_body_event_key_is_enough_without_the_header() -> None:
    body = (FIXTURES / "server" / "pr-opened.json").read_bytes()
    event = parse_event({}, body, received_at=1.0, delivery_id="d")
    assert (event.product, event.event_key) == ("server", "pr:opened")


def test_read_event_key_agrees_when_header_and_body_match() -> None:
    assert read_event_key({"x-event-key": "pr:opened"}, {"eventKey": "pr:opened"}) == "pr:opened"


def test_a_delivery_without_any_event_key_is_invalid() -> None:
    with pytest.raises(InvalidPayload) as caught:
        read_event_key({"Content-Type": "application/json"}, {"push": {}})
    assert str(caught.value) == "X-Event-Key: missing"


def test_a_cloud_payload_without_repository_is_invalid_and_names_the_field() -> None:
    document = load_fixture("cloud", "repo-push.json")
    del document["repository"]
    with pytest.raises(InvalidPayload) as caught:
        parse_json({"X-Event-Key": "repo:push"}, document)
    assert (caught.value.field, caught.value.reason) == ("repository", "missing required field")
    assert str(caught.value) == "repository: missing required field"


def _without(document: Any, path: str) -> Any:
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]
    return document


CLOUD_PR = ("cloud", "pullrequest-created.json", "pullrequest:created")
CLOUD_PUSH = ("cloud", "repo-push.json", "repo:push")
SERVER_PR = ("server", "pr-opened.json", "pr:opened")
SERVER_PUSH = ("server", "repo-refs_changed.json", "repo:refs_changed")


@pytest.mark.parametrize(
    ("product", "name", "event_key", "path"),
    [
        (*CLOUD_PR, "pullrequest.source.branch"),
        (*CLOUD_PR, "pullrequest.source.branch.name"),
        (*CLOUD_PR, "pullrequest.destination"),
        (*CLOUD_PR, "pullrequest.id"),
        (*CLOUD_PUSH, "push.changes"),
        (*CLOUD_PUSH, "push.changes.0.new.target"),
        (*CLOUD_PUSH, "repository.full_name"),
        ("cloud", "repo-commit_status_created.json", "repo:commit_status_created", "commit_status"),
        (*SERVER_PUSH, "changes"),
        (*SERVER_PUSH, "repository.project.key"),
        (*SERVER_PUSH, "changes.0.ref"),
        (*SERVER_PR, "pullRequest.fromRef.latestCommit"),
        (*SERVER_PR, "pullRequest.toRef.repository"),
        (*SERVER_PR, "pullRequest"),
    ],
)
def test_a_missing_required_field_is_named_by_its_json_path(
    product: str, name: str, event_key: str, path: str
) -> None:
    document = _without(load_fixture(product, name), path)
    with pytest.raises(InvalidPayload) as caught:
        parse_json({"X-Event-Key": event_key}, document)
    assert (caught.value.field, caught.value.reason) == (path, "missing required field")


def test_a_wrongly_typed_field_is_named_with_what_was_expected() -> None:
    document = load_fixture("server", "pr-opened.json")
    document["pullRequest"]["id"] = "2"
    with pytest.raises(InvalidPayload) as caught:
        parse_json({"X-Event-Key": "pr:opened"}, document)
    assert str(caught.value) == "pullRequest.id: expected an integer"


def test_a_cloud_full_name_without_a_workspace_is_invalid() -> None:
    document = load_fixture("cloud", "repo-push.json")
    document["repository"]["full_name"] = "test-repos"
    with pytest.raises(InvalidPayload) as caught:
        parse_json({"X-Event-Key": "repo:push"}, document)
    assert caught.value.field == "repository.full_name"


def test_broken_json_is_invalid_and_quotes_the_parser() -> None:
    body = (FIXTURES / "cloud" / "repo-push.json").read_bytes()[:-10]
    with pytest.raises(InvalidPayload) as caught:
        parse_event({"X-Event-Key": "repo:push"}, body, received_at=1.0, delivery_id="d")
    assert caught.value.field == "body"
    assert caught.value.reason.startswith("malformed JSON: ")
    assert "line" in caught.value.reason


@pytest.mark.parametrize("body", [b"[1, 2]", b'"repo:push"', b"null", b"\xff\xfe\x00"])
def test_a_body_that_is_not_a_json_object_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse_event({"X-Event-Key": "repo:push"}, body, received_at=1.0, delivery_id="d")
    assert caught.value.field == "body"
    assert caught.value.reason.startswith("malformed JSON: ")


def test_deeply_nested_json_is_invalid_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidPayload) as caught:
        parse_event({"X-Event-Key": "repo:push"}, body, received_at=1.0, delivery_id="d")
    assert caught.value.field == "body"


def test_an_unknown_event_key_is_reported_as_unknown() -> None:
    with pytest.raises(UnknownEventKey) as caught:
        parse_json({"X-Event-Key": "repo:teleported"}, {"repository": {}})
    assert isinstance(caught.value, PayloadError)
    assert "repo:teleported" in str(caught.value)


def test_header_names_are_matched_whatever_their_case() -> None:
    body = (FIXTURES / "cloud" / "repo-push.json").read_bytes()
    headers = {"x-event-key": "repo:push", "X-HOOK-UUID": "{h}", "x-Attempt-number": "2"}
    event = parse_event(headers, body, received_at=1.0, delivery_id="d")
    assert (event.event_key, event.hook_uuid, event.attempt) == ("repo:push", "{h}", 2)


def test_werkzeug_headers_are_accepted() -> None:
    body = (FIXTURES / "server" / "pr-opened.json").read_bytes()
    headers = Headers([("X-Event-Key", "pr:opened"), ("X-Request-Id", "r-1")])
    assert parse_event(headers, body, received_at=1.0, delivery_id="d").pr_id == 2


@pytest.mark.parametrize(
    ("headers", "event_key", "product"),
    [
        ({}, "repo:refs_changed", "server"),
        ({"X-Request-UUID": "u"}, "pr:opened", "server"),
        ({}, "diagnostics:ping", "server"),
        ({"X-Request-Id": "r"}, "repo:push", "cloud"),
        ({}, "pullrequest:created", "cloud"),
        ({"x-request-id": "r"}, "some:future_key", "server"),
        ({"X-Request-Id": "r", "X-Request-UUID": "u"}, "some:future_key", "cloud"),
        ({}, "some:future_key", "cloud"),
    ],
)
def test_the_product_is_told_by_the_key_then_by_the_request_id_header(
    headers: dict[str, str], event_key: str, product: str
) -> None:
    assert detect_product(headers, event_key) == product


def test_the_server_ping_needs_no_repository() -> None:
    body = (FIXTURES / "server" / "diagnostics-ping.json").read_bytes()
    event = parse_event(
        {"X-Event-Key": "diagnostics:ping"}, body, received_at=1.0, delivery_id="ping-1"
    )
    assert (event.product, event.event_key) == ("server", "diagnostics:ping")
    assert (event.workspace, event.repository, event.actor) == (None, None, None)


def test_a_server_repo_modified_event_names_the_repository_as_it_now_is() -> None:
    repository = load_fixture("server", "repo-refs_changed.json")["repository"]
    renamed = repository | {"slug": "renamed"}
    event = parse_json(
        {"X-Event-Key": "repo:modified"},
        {"eventKey": "repo:modified", "old": repository, "new": renamed},
    )
    assert event.repository == "AMUNIZ/renamed"


@pytest.mark.parametrize(("product", "name", "event_key"), ALL_FIXTURES)
def test_every_fixture_event_survives_a_json_round_trip(
    product: str, name: str, event_key: str
) -> None:
    event = parse_fixture(product, name, event_key)
    wire = json.loads(json.dumps(event.to_json()))
    assert Event.from_json(wire) == event


def test_from_json_ignores_unknown_keys_and_defaults_missing_optional_ones() -> None:
    data = {
        "product": "cloud",
        "event_key": "repo:push",
        "delivery_id": "d",
        "attempt": 1,
        "received_at": 5,
        "added_by_a_newer_receiver": True,
    }
    event = Event.from_json(data)
    assert (event.received_at, event.repository, event.pr_id) == (5.0, None, None)


@pytest.mark.parametrize("drop", ["product", "event_key", "delivery_id"])
def test_from_json_refuses_an_event_without_its_identity(drop: str) -> None:
    event = parse_fixture("cloud", "repo-push.json", "repo:push").to_json()
    del event[drop]
    with pytest.raises(ValueError, match=drop):
        Event.from_json(event)


def test_from_json_refuses_an_unknown_product() -> None:
    event = parse_fixture("cloud", "repo-push.json", "repo:push").to_json() | {"product": "gitlab"}
    with pytest.raises(ValueError, match="gitlab"):
        Event.from_json(event)


KEYS = sorted({expected.event_key for table in TABLE.values() for expected in table.values()})
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300), event_key=st.sampled_from([*KEYS, "not:a_key"]))
def test_random_bytes_raise_nothing_but_payload_errors(body: bytes, event_key: str) -> None:
    with contextlib.suppress(PayloadError):
        parse_event({"X-Event-Key": event_key}, body, received_at=1.0, delivery_id="d")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_fixture_with_any_part_replaced_or_removed_parses_or_raises_a_payload_error(
    data: st.DataObject,
) -> None:
    product, name, event_key = data.draw(st.sampled_from(ALL_FIXTURES))
    document = load_fixture(product, name)
    node: Any = document
    while True:
        slots = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not slots:
            break
        slot = data.draw(st.sampled_from(slots))
        child = node[slot]
        if isinstance(child, dict | list) and child and data.draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and data.draw(st.booleans()):
            del node[slot]
        else:
            node[slot] = data.draw(JSON_VALUES)
        break
    try:
        event = parse_json(headers_for(product, event_key), document)
    except PayloadError:
        return
    assert Event.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_a_pull_request_from_a_fork_carries_its_source_repository() -> None:
    cloud = parse_fixture("cloud", "pullrequest-created-fork.json", "pullrequest:created")
    server = parse_fixture("server", "pr-opened-fork.json", "pr:opened")
    assert (cloud.pr_source_repository, cloud.is_from_fork) == ("jcitizen/test-repos", True)
    assert (server.pr_source_repository, server.is_from_fork) == ("~JCITIZEN/my-repo", True)
    same = parse_fixture("server", "pr-opened.json", "pr:opened")
    assert (same.pr_source_repository, same.is_from_fork) == ("PRJ/my-repo", False)
    assert Event.from_json(server.to_json()) == server


def test_new_event_keys_parse() -> None:
    document = {"repository": {"full_name": "ws/repo"}, "actor": None}
    headers = {"X-Event-Key": "pipeline:span_created", "X-Request-UUID": "u"}
    assert parse_json(headers, document).event_key == "pipeline:span_created"
    body = load_fixture("server", "pr-reviewer-approved.json")
    body["eventKey"] = "pr:reviewer:changes_requested"
    event = parse_json({"X-Event-Key": "pr:reviewer:changes_requested"}, body)
    assert (event.product, event.repository) == ("server", "~gopher/webhook-test")
