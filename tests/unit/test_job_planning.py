"""Planning jobs from events is pure: every fixture against a set of rules, no I/O."""

from __future__ import annotations

import dataclasses

from shared.config.settings import BitbucketSettings, JobRule
from shared.event_keys import expand_event_keys
from shared.jobs.planning import job_id, plan_jobs
from tests.unit.test_events import FIXTURES, TABLE, parse_fixture


def _rule(name: str, on: list[str], **fields: object) -> JobRule:
    keys = tuple(sorted(expand_event_keys(on)))
    return dataclasses.replace(
        JobRule(name=name, on=keys, context="ci", runner="pipeline"), **fields
    )


RULES = BitbucketSettings(
    jobs=(
        _rule("build", ["push"], branches=("main", "feature/*")),
        _rule(
            "review",
            ["pr_opened", "pr_updated"],
            runner="http",
            repositories=("amuniz/*", "prj/*", "nfalco79/*"),
        ),
        _rule("loop", ["repo:commit_status_created", "repo:commit_status_updated"]),
    )
)

# (rule, first 12 of the commit, branch, refname) per fixture, read off the payloads by hand.
EXPECTED: dict[str, list[tuple[str, str, str, str | None]]] = {
    "cloud/pullrequest-created.json": [("review", "d31df3425c5b", "feature/test", "feature/test")],
    "cloud/pullrequest-updated.json": [
        ("review", "f945c96c71d0", "release/release-1", "release/release-1")
    ],
    "cloud/repo-push-branch-created.json": [("build", "174561d625c9", "feature/test", None)],
    "cloud/repo-push-signed.json": [("build", "d7f300a32270", "feature/webhook", None)],
    "cloud/repo-push.json": [("build", "5ecffa3874e9", "feature/issue-819", None)],
    "server/pr-from_ref_updated.json": [("review", "c00d0f269a98", "feature-2", "feature-2")],
    "server/pr-opened.json": [("review", "208b0a5c05ed", "develop", "develop")],
    "server/repo-refs_changed.json": [("build", "9fdd7b96d3f5", "main", None)],
    "server/repo-refs_changed-v10.json": [("build", "fb522a6f08c7", "feature/BB-1", None)],
}


def test_every_fixture_plans_the_jobs_written_here() -> None:
    planned = {}
    for product, table in TABLE.items():
        for name, expected in table.items():
            if name.startswith("diagnostics"):
                continue
            event = parse_fixture(product, name, expected.event_key)
            jobs = plan_jobs(event, RULES)
            if jobs:
                planned[f"{product}/{name}"] = [
                    (job.rule, (job.commit or "")[:12], job.branch, job.refname) for job in jobs
                ]
    assert planned == EXPECTED
    assert (FIXTURES / "cloud" / "repo-commit_status_created.json").exists()


def test_a_job_carries_what_the_runner_and_the_status_need() -> None:
    event = parse_fixture("server", "pr-opened.json", "pr:opened")
    [job] = plan_jobs(event, RULES)
    assert job.runner == "http"
    assert job.product == "server"
    assert job.repository == "PRJ/my-repo"
    assert job.commit == "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e"
    assert job.pr_id == 2
    assert job.ref == "refs/heads/develop"
    assert job.delivery_id == "d-1"


def test_one_commit_and_rule_give_one_id_whatever_the_hash_length_or_case() -> None:
    full = "d7f300a32270053bdfd97a6d64113f58202c33e7"
    assert job_id("build", "WS/Repo", full) == job_id("build", "ws/repo", full[:12])
    assert job_id("build", "ws/repo", full) != job_id("review", "ws/repo", full)
    assert job_id("build", "ws/repo", full) != job_id("build", "ws/other", full)


def test_our_own_build_statuses_never_start_a_job() -> None:
    event = parse_fixture("cloud", "repo-commit_status_created.json", "repo:commit_status_created")
    assert event.commit is not None and event.branch == "main"
    assert plan_jobs(event, RULES) == []


def test_no_rules_plan_nothing() -> None:
    event = parse_fixture("cloud", "repo-push.json", "repo:push")
    assert plan_jobs(event, BitbucketSettings()) == []


def test_a_forks_pull_request_starts_a_job_only_where_the_rule_opts_in() -> None:
    for product, name, key in (
        ("cloud", "pullrequest-created-fork.json", "pullrequest:created"),
        ("server", "pr-opened-fork.json", "pr:opened"),
    ):
        event = parse_fixture(product, name, key)
        closed = BitbucketSettings(jobs=(_rule("ci", [key], runner="http"),))
        assert plan_jobs(event, closed) == []
        opened = BitbucketSettings(jobs=(_rule("ci", [key], runner="http", forks=True),))
        [request] = plan_jobs(event, opened)
        assert request.repository == event.repository
        assert request.commit_repository == event.pr_source_repository != event.repository
