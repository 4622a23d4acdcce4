"""What a listing or a webhook changes in the stored inventory, and what a deletion cascades to."""

from __future__ import annotations

from shared.inventory.changes import Change, deletions, removals, upserts

REPO = {"type": "repository", "id": "{r1}", "full_name": "acme/one", "updated_on": "t1"}
OTHER = {"type": "repository", "id": "{r2}", "full_name": "acme/two", "updated_on": "t1"}
PR = {"type": "pull_request", "id": "{r1}#1", "repository": "{r1}", "approvers": []}
PR2 = {"type": "pull_request", "id": "{r2}#1", "repository": "{r2}", "approvers": []}
STORED = {
    "repository": {"{r1}": REPO, "{r2}": OTHER},
    "pull_request": {"{r1}#1": PR, "{r2}#1": PR2},
}


def test_an_unchanged_document_is_no_change() -> None:
    assert upserts(STORED, [dict(REPO)]) == []


def test_a_changed_document_is_an_upsert_of_the_whole_new_document() -> None:
    approved = {**PR, "approvers": ["{u}"]}
    assert upserts(STORED, [approved]) == [Change("upsert", "pull_request", "{r1}#1", approved)]


def test_a_value_the_news_does_not_know_keeps_the_stored_one() -> None:
    (change,) = upserts(STORED, [{**REPO, "updated_on": None, "last_activity": "t2"}])
    assert change.document == {**REPO, "last_activity": "t2"}


def test_a_repository_missing_from_a_complete_listing_is_deleted_with_its_pull_requests() -> None:
    changes = deletions(STORED, {"repository": {"{r2}"}})
    assert changes == [
        Change("delete", "repository", "{r1}", None),
        Change("delete", "pull_request", "{r1}#1", None),
    ]


def test_types_not_listed_completely_delete_nothing() -> None:
    assert deletions(STORED, {}) == []


def test_removing_an_unknown_entity_changes_nothing() -> None:
    assert removals(STORED, [("repository", "{gone}")]) == []


def test_a_change_goes_to_the_sink_as_op_type_id_and_document() -> None:
    assert Change("delete", "repository", "{r1}", None).to_json() == {
        "op": "delete",
        "type": "repository",
        "id": "{r1}",
        "document": None,
    }
