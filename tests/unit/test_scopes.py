"""The Cloud scopes `bbrelay check` asks for, from the configured events and features."""

from __future__ import annotations

from bbrelay.scopes import missing_scopes, needed_scopes
from shared.config.settings import BitbucketSettings, JobRule, Settings, WebhookSettings


def _settings(*events: str) -> Settings:
    hooks = WebhookSettings(events=events)
    return Settings(bitbucket=BitbucketSettings(webhooks=hooks))


def test_hooks_need_webhook_and_each_events_scope_and_user_needs_account() -> None:
    needed = needed_scopes(_settings("repo:push", "pullrequest:created", "pipeline:span_created"))
    assert set(needed) == {"account", "webhook", "repository", "pullrequest", "pipeline"}
    assert "pullrequest:created" in needed["pullrequest"]


def test_the_missing_scopes_are_named_and_write_grants_cover_reads() -> None:
    needed = needed_scopes(_settings("pullrequest:created"))
    missing = missing_scopes(needed, {"account", "webhook", "pullrequest:write"})
    assert missing == {}
    assert set(missing_scopes(needed, {"webhook"})) == {"account", "pullrequest"}


def test_a_pipeline_rule_needs_pipeline_write_which_a_read_grant_does_not_cover() -> None:
    rule = JobRule(name="build", on=("push",), context="ci", runner="pipeline")
    settings = Settings(bitbucket=BitbucketSettings(jobs=(rule,)))
    needed = needed_scopes(settings)
    assert "POST" in needed["pipeline:write"]
    granted = {"account", "webhook", "repository:write", "pullrequest", "pipeline"}
    assert set(missing_scopes(needed, granted)) == {"pipeline:write"}
    assert missing_scopes(needed, granted | {"pipeline:write"}) == {}
