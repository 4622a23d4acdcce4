"""Loading the values file and environment into Settings (shared.config)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings, parse_duration
from shared.config.settings import Consumer, RelaySettings, Settings
from shared.event_keys import ALIASES, CLOUD_EVENT_KEYS, SERVER_EVENT_KEYS, expand_event_keys
from shared.sealing import new_encryption_key
from shared.secret import Secret
from tests.conftest import ENCRYPTION_KEY, KEYED

REPO = Path(__file__).resolve().parents[2]
STUDIO_EXAMPLE = REPO / "tests" / "fixtures" / "values" / "studio-example.yaml"
SHARED_STUDIO_EXAMPLE = Path("/work/shared/examples/values.yaml")
OUR_EXAMPLE = REPO / "examples" / "values.yaml"
# The example files' placeholders are refused in production; development warns and loads them.
EXAMPLE_ENV = {**KEYED, "BBRELAY_ENV": "development"}


def write(tmp_path: Path, text: str, name: str = "values.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **env: str) -> Settings:
    return load_settings(write(tmp_path, text), environ={**KEYED, **env})


def problems_of(tmp_path: Path, text: str, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, **env)
    return caught.value


def git(body: str) -> str:
    """A values file with `body` (already indented by 6) under global.git.bitbucket."""
    return "global:\n  git:\n    bitbucket:\n" + body


# --- the Studio example and ours -----------------------------------------------------------


def studio_examples() -> list[Path]:
    return [STUDIO_EXAMPLE] + ([SHARED_STUDIO_EXAMPLE] if SHARED_STUDIO_EXAMPLE.exists() else [])


@pytest.mark.parametrize("path", studio_examples(), ids=str)
def test_studio_example_loads_as_it_is(path: Path) -> None:
    settings = load_settings(path, environ=EXAMPLE_ENV)

    bitbucket = settings.bitbucket
    assert bitbucket.product == "cloud"
    assert bitbucket.url is None  # "Only for server"
    assert bitbucket.consumers == (Consumer("your-client-id", Secret("your-client-secret")),)
    assert bitbucket.webhook_secrets == (Secret("your-webhook-secret"),)
    assert (bitbucket.rate_limit.requests_per_hour, bitbucket.rate_limit.burst_size) == (1000, 50)
    assert (bitbucket.timeout.connect, bitbucket.timeout.read, bitbucket.timeout.write) == (
        30.0,
        60.0,
        30.0,
    )
    assert bitbucket.repositories.allow == ("workspace/important-repo", "workspace/data-*")
    assert bitbucket.repositories.block == ("workspace/sensitive-repo",)
    assert bitbucket.workspaces.allow == ("your-workspace", "partner-workspace")
    assert bitbucket.build_status.contexts["dataProcessing"] == "datachain/processing"
    assert bitbucket.build_status.url == "https://studio.yourcompany.com/jobs/{job_id}"
    assert bitbucket.pipelines.data_change.variables == {"DATACHAIN_TRIGGER": "data_change"}
    assert "pullrequest:fulfilled" in bitbucket.webhooks.events
    assert "pullrequest:merged" not in bitbucket.webhooks.events
    assert settings.teams.sync_interval == 3600.0
    assert settings.teams.mapping["administrators"] == "admin"
    assert settings.team_sync.workspace_whitelist == ("your-workspace",)
    assert settings.monitoring["healthChecks"]["api"] is True
    assert any(
        "webhooks.events: pullrequest:merged is called pullrequest:fulfilled by Bitbucket Cloud"
        in warning
        for warning in settings.warnings
    )


def test_repo_copy_of_the_studio_example_matches_the_shared_one() -> None:
    if not SHARED_STUDIO_EXAMPLE.exists():
        pytest.skip("the shared examples directory is not on this machine")
    assert STUDIO_EXAMPLE.read_bytes() == SHARED_STUDIO_EXAMPLE.read_bytes()


def test_our_example_loads_with_every_section() -> None:
    settings = load_settings(OUR_EXAMPLE, environ=EXAMPLE_ENV)

    bitbucket = settings.bitbucket
    assert [c.client_id for c in bitbucket.consumers] == ["relay-client-id", "second-client-id"]
    assert bitbucket.webhook_secrets == (
        Secret("current-webhook-secret"),
        Secret("previous-webhook-secret"),
    )
    pipeline_rule, http_rule = bitbucket.jobs
    assert pipeline_rule.runner == "pipeline"
    assert pipeline_rule.on == ("repo:push", "repo:refs_changed")
    assert pipeline_rule.pipeline is not None
    assert pipeline_rule.pipeline.selector == {"type": "custom", "pattern": "data-processing"}
    assert http_rule.runner == "http"
    assert http_rule.http is not None
    assert http_rule.http.timeout == 3600.0
    assert set(http_rule.on) == {"pullrequest:created", "pr:opened", "pullrequest:updated"} | {
        "pr:from_ref_updated"
    }
    assert settings.teams.sink is not None
    assert settings.teams.sink.secret == Secret("team-sink-secret")
    assert settings.relay.public_url == "https://relay.example.com"
    assert settings.relay.api_tokens == (Secret("an-api-token-for-studio"),)
    assert settings.relay.dedupe_window == 86400.0
    placeholders = [w for w in settings.warnings if "(refused in production)" in w]
    assert len(placeholders) == 3
    assert [w for w in settings.warnings if w not in placeholders] == [
        "global.auth.bitbucket.enabled: sign-in stays off until global.relay.identity "
        "(redirectUrl, audience) names the platform page that receives the signed identity"
    ]
    assert not settings.sign_in.enabled


# --- where the file comes from, defaults ----------------------------------------------------


def test_no_file_and_no_environment_gives_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ=dict(KEYED))

    assert settings == Settings(relay=RelaySettings(encryption_keys=(Secret(ENCRYPTION_KEY),)))
    assert settings.dry_run


def test_values_yaml_in_the_working_directory_is_read_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "global:\n  relay:\n    logLevel: debug\n")
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ=dict(KEYED))

    assert settings.relay.log_level == "DEBUG"
    assert settings.source == "values.yaml"


def test_bbrelay_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "global:\n  relay:\n    varDir: /srv/relay\n", name="relay.yaml")

    settings = load_settings(environ={**KEYED, "BBRELAY_CONFIG": str(path)})

    assert settings.relay.var_dir == "/srv/relay"


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.yaml", environ=dict(KEYED))


def test_studio_keys_the_relay_does_not_use_are_accepted_and_ignored(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        git("      oauth: {version: '2.0'}\n")
        + "monitoring:\n  bitbucket: {enabled: true, alerts: [{name: errors}]}\n",
    )

    assert settings.bitbucket == Settings().bitbucket


def test_unknown_keys_are_refused_at_every_level(tmp_path: Path) -> None:
    text = (
        "globl: {}\nrelay: {publicUrl: 'https://relay.example.com'}\nstudioUi: {replicas: 2}\n"
        "global:\n  ingress: {enabled: true}\n  git:\n    rateLimit: {requestsPerHour: 100}\n"
        "monitoring:\n  grafana: {}\n"
    )

    error = problems_of(tmp_path, text)

    assert sorted(error.problems) == [
        "global.git.rateLimit: unknown key (did you mean global.git.bitbucket.rateLimit?)",
        "global.ingress: unknown key",
        "globl: unknown key (did you mean global?)",
        "monitoring.grafana: unknown key",
        "relay: unknown key (did you mean global.relay?)",
        "studioUi: unknown key",
    ]


# --- environment ----------------------------------------------------------------------------


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    text = git(
        "      clientId: file-id\n      clientSecret: file-secret\n"
        "      consumers: [{clientId: pool-id, clientSecret: pool-secret}]\n"
        "      webhookSecret: file-hook-long-enough-for-production\n      token: file-token\n"
    ) + (
        "  relay:\n    apiTokens: [file-api-long-enough-for-production]\n    redisUrl: redis://file:6379/1\n"
        "    environment: development\n"
    )

    settings = load(
        tmp_path,
        text,
        BBRELAY_WEBHOOK_SECRET="env-new-long-enough-for-production,env-old-long-enough-for-production",
        BBRELAY_CLIENT_ID="env-id",
        BBRELAY_CLIENT_SECRET="env-secret",
        BBRELAY_API_TOKEN="env-api-long-enough-for-production",
        BBRELAY_REDIS_URL="redis://env:6379/2",
        REDIS_URL="redis://plain:6379/3",
        BBRELAY_BITBUCKET_TOKEN="env-token",
        BBRELAY_ENV="production",
        BBRELAY_LOG_LEVEL="warning",
        BBRELAY_PUBLIC_URL="https://relay.example.com",
    )

    bitbucket = settings.bitbucket
    assert bitbucket.webhook_secrets == (
        Secret("env-new-long-enough-for-production"),
        Secret("env-old-long-enough-for-production"),
        Secret("file-hook-long-enough-for-production"),
    )
    assert bitbucket.consumers == (
        Consumer("env-id", Secret("env-secret")),
        Consumer("pool-id", Secret("pool-secret")),
    )
    assert bitbucket.token == Secret("env-token")
    assert settings.relay.api_tokens == (
        Secret("file-api-long-enough-for-production"),
        Secret("env-api-long-enough-for-production"),
    )
    assert settings.relay.redis_url == "redis://env:6379/2"
    assert settings.relay.environment == "production"
    assert settings.relay.log_format == "json"
    assert settings.relay.log_level == "WARNING"
    assert settings.relay.public_url == "https://relay.example.com"


def test_redis_url_falls_back_to_plain_redis_url(tmp_path: Path) -> None:
    settings = load(tmp_path, "", REDIS_URL="redis://plain:6379/3")

    assert settings.relay.redis_url == "redis://plain:6379/3"


def test_environment_can_switch_to_server_with_its_default_urls(tmp_path: Path) -> None:
    settings = load(
        tmp_path, "", BBRELAY_BITBUCKET_TYPE="server", BBRELAY_BITBUCKET_URL="https://bb.corp/"
    )

    assert settings.bitbucket.product == "server"
    assert settings.bitbucket.url == "https://bb.corp"
    assert settings.bitbucket.api_url == "https://bb.corp/rest"
    assert settings.bitbucket.token_url == "https://bb.corp/rest/oauth2/latest/token"


def test_development_defaults_to_console_logs(tmp_path: Path) -> None:
    settings = load(tmp_path, "", BBRELAY_ENV="development", BBRELAY_VAR_DIR=str(tmp_path))

    assert settings.relay.log_format == "console"


def test_bad_environment_values_are_reported_like_bad_keys(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, "", BBRELAY_ENV="staging", BBRELAY_LOG_FORMAT="xml", BBRELAY_API_URL="api"
    )

    assert any(
        p.startswith("BBRELAY_ENV: must be one of: development, production")
        for p in (error.problems)
    )
    assert any(
        p.startswith("BBRELAY_LOG_FORMAT: must be one of: json, console") for p in (error.problems)
    )
    assert any(
        p.startswith("BBRELAY_API_URL: must be a http:// or https:// URL") for p in (error.problems)
    )


# --- secrets ------------------------------------------------------------------------------


def secrets_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "secrets"
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content, encoding="utf-8")
    return root


def test_secret_references_are_read_from_the_secrets_directory(tmp_path: Path) -> None:
    root = secrets_dir(
        tmp_path,
        {
            "bitbucket/client-id": "ref-id\n",
            "bitbucket/client-secret": "ref-secret\n",
            "hooks/current": "hook-one-long-enough-for-production\n",
            "hooks/next": "hook-two-long-enough-for-production",
            "relay/api": "api-one-long-enough-for-production\n",
        },
    )
    text = (
        git(
            "      clientIdSecret: {name: bitbucket, key: client-id}\n"
            "      clientSecretSecret: {name: bitbucket, key: client-secret}\n"
            "      webhookSecretSecret: {name: hooks, key: current}\n"
            "      webhookSecrets:\n"
            "        - {name: hooks, key: next}\n"
            "        - literal-hook-long-enough-for-production\n"
        )
        + "  relay:\n    apiTokens: [{name: relay, key: api}]\n"
    )

    settings = load(tmp_path, text, BBRELAY_SECRETS_DIR=str(root))

    assert settings.bitbucket.consumers == (Consumer("ref-id", Secret("ref-secret")),)
    assert settings.bitbucket.webhook_secrets == (
        Secret("hook-one-long-enough-for-production"),
        Secret("hook-two-long-enough-for-production"),
        Secret("literal-hook-long-enough-for-production"),
    )
    assert settings.relay.api_tokens == (Secret("api-one-long-enough-for-production"),)


def test_a_missing_secret_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    root = secrets_dir(tmp_path, {})
    text = git("      clientId: an-id\n      clientSecretSecret: {name: bitbucket, key: nope}\n")

    error = problems_of(tmp_path, text, BBRELAY_SECRETS_DIR=str(root))

    assert error.problems == [
        f"global.git.bitbucket.clientSecretSecret: secret file not found: {root}/bitbucket/nope"
    ]


def test_environment_secrets_may_come_from_files(tmp_path: Path) -> None:
    root = secrets_dir(
        tmp_path,
        {"hook": "from-file-long-enough-for-production\n", "id": "file-id", "secret": "file-sec\n"},
    )

    settings = load(
        tmp_path,
        "",
        BBRELAY_WEBHOOK_SECRET_FILE=str(root / "hook"),
        BBRELAY_CLIENT_ID_FILE=str(root / "id"),
        BBRELAY_CLIENT_SECRET_FILE=str(root / "secret"),
    )

    assert settings.bitbucket.webhook_secrets == (Secret("from-file-long-enough-for-production"),)
    assert settings.bitbucket.consumers == (Consumer("file-id", Secret("file-sec")),)


def test_a_secret_given_both_ways_is_an_error(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, "", BBRELAY_WEBHOOK_SECRET="a", BBRELAY_WEBHOOK_SECRET_FILE="/dev/null"
    )

    assert error.problems == [
        "BBRELAY_WEBHOOK_SECRET_FILE: set BBRELAY_WEBHOOK_SECRET or "
        "BBRELAY_WEBHOOK_SECRET_FILE, not both"
    ]


def test_comma_separated_client_ids_and_secrets_make_several_consumers(tmp_path: Path) -> None:
    settings = load(tmp_path, git("      clientId: one, two\n      clientSecret: s1,s2\n"))

    assert settings.bitbucket.consumers == (
        Consumer("one", Secret("s1")),
        Consumer("two", Secret("s2")),
    )


def test_unequal_comma_lists_of_consumers_are_refused(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git("      clientId: one,two\n      clientSecret: only\n"))

    assert error.problems == [
        "global.git.bitbucket.clientSecret: has 1 comma-separated values but clientId has 2; "
        "give one secret per client id"
    ]
    assert "only" not in str(error)


def test_the_login_consumer_serves_when_git_has_none(tmp_path: Path) -> None:
    text = "global:\n  auth:\n    bitbucket:\n      clientId: login-id\n      clientSecret: x\n"

    settings = load(tmp_path, text)

    assert settings.bitbucket.consumers == (Consumer("login-id", Secret("x")),)


def test_secrets_never_appear_in_the_settings_repr(tmp_path: Path) -> None:
    text = (
        git(
            "      clientId: visible-id\n      clientSecret: hush-client\n      token: hush-token\n"
            "      webhookSecrets: [hush-hook-long-enough-for-production]\n"
            "      username: me\n      password: hush-password\n"
            "      pipelines: {customVariables: {STUDIO_SECRET: hush-variable}}\n"
        )
        + "  relay:\n    apiTokens: [hush-api-long-enough-for-production]\n    redisUrl: redis://:hush-redis@host:6379/0\n"
    )

    settings = load(tmp_path, text)

    assert "hush" not in repr(settings)
    assert "visible-id" in repr(settings)


def test_secret_values_never_appear_in_error_messages(tmp_path: Path) -> None:
    text = (
        git(
            "      clientId: an-id\n      clientSecret: 98765\n"
            '      webhookSecrets: "hush-listless"\n      token: [hush-in-a-list]\n'
        )
        + "  relay:\n    redisUrl: http://:hush-redis@host\n"
    )

    error = problems_of(tmp_path, text, BBRELAY_REDIS_URL="http://:hush-env@host")

    message = str(error)
    assert "global.git.bitbucket.clientSecret: must be a string" in error.problems
    assert "global.git.bitbucket.webhookSecrets: must be a list" in error.problems
    assert "98765" not in message
    assert "hush" not in message


def test_bad_yaml_on_a_secret_line_reports_the_line_but_not_the_secret(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git('      clientSecret: "hush-unclosed\n      type: cloud\n'))

    assert error.problems[0].startswith("line ")
    assert "hush" not in str(error)


# --- problems -------------------------------------------------------------------------------


def test_every_problem_is_listed_in_one_error(tmp_path: Path) -> None:
    text = (
        git(
            "      type: gitlab\n      rateLimt: {requestsPerHour: 100}\n"
            "      rateLimit: {burstSize: fifty}\n"
        )
        + "  teams:\n    bitbucket:\n      syncInterval: often\n"
    )

    error = problems_of(tmp_path, text)

    assert sorted(error.problems) == [
        "global.git.bitbucket.rateLimit.burstSize: must be an integer, got 'fifty'",
        "global.git.bitbucket.rateLimt: unknown key (did you mean rateLimit?)",
        "global.git.bitbucket.type: must be one of: cloud, server (got 'gitlab')",
        "global.teams.bitbucket.syncInterval: 'often' is not a duration "
        "(use e.g. 30s, 15m, 1h, 1d)",
    ]
    assert str(error).startswith(f"invalid configuration in {tmp_path / 'values.yaml'}:\n  - ")
    assert str(error).count("\n  - ") == 4


def test_server_without_url_is_an_error(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git("      type: server\n"))

    assert error.problems == [
        "global.git.bitbucket.url: is required when type is server (your Bitbucket's address)"
    ]


def test_server_urls_default_from_url(tmp_path: Path) -> None:
    settings = load(tmp_path, git("      type: server\n      url: https://bb.corp/\n"))

    assert settings.bitbucket.api_url == "https://bb.corp/rest"
    assert settings.bitbucket.token_url == "https://bb.corp/rest/oauth2/latest/token"


def test_a_pipeline_runner_on_server_is_refused(tmp_path: Path) -> None:
    text = git(
        "      type: server\n      url: https://bb.corp\n"
        "      buildStatus: {contexts: {build: relay/build}}\n"
        "      jobs:\n        - {name: build, on: [push], context: build, runner: pipeline}\n"
    )

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.jobs[0].runner: Bitbucket Pipelines exists only on Bitbucket "
        "Cloud; use runner: http on Server/Data Center"
    ]


def test_job_rules_are_checked_against_contexts_names_and_event_keys(tmp_path: Path) -> None:
    text = git(
        "      buildStatus: {contexts: {dataProcessing: datachain/processing}}\n"
        "      jobs:\n"
        "        - {name: a, on: [push, repo:psuh], context: dataProcesing, runner: pipeline}\n"
        "        - {name: a, on: [], context: dataProcessing, runner: http}\n"
    )

    error = problems_of(tmp_path, text)

    assert sorted(error.problems) == [
        "global.git.bitbucket.jobs[0].context: 'dataProcesing' is not a key of "
        "buildStatus.contexts (dataProcessing); did you mean dataProcessing?",
        "global.git.bitbucket.jobs[0].on[1]: 'repo:psuh' is not a Bitbucket event key or alias "
        "(did you mean repo:push?)",
        "global.git.bitbucket.jobs[1].http: is required for runner: http (at least url)",
        "global.git.bitbucket.jobs[1].name: 'a' is also the name of jobs[0]",
        "global.git.bitbucket.jobs[1].on: must name at least one event key or alias",
    ]


def test_secured_pipeline_variables_must_be_variables_the_rule_sends(tmp_path: Path) -> None:
    text = git(
        "      pipelines: {customVariables: {STUDIO_TOKEN: t}}\n"
        "      buildStatus: {contexts: {build: relay/build}}\n"
        "      jobs:\n        - name: build\n          on: [push]\n          context: build\n"
        "          runner: pipeline\n"
        "          pipeline: {variables: {A: b}, secured: [STUDIO_TOKEN, A, MISSING]}\n"
    )

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.jobs[0].pipeline.secured[2]: 'MISSING' is not one of this rule's "
        "variables or pipelines.customVariables"
    ]


def test_secret_references_may_not_leave_the_secrets_directory(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git("      tokenSecret: {name: .., key: etc}\n"))

    assert error.problems == [
        "global.git.bitbucket.tokenSecret: must be {name: <secret name>, key: <key in it>}, "
        "each a plain name (letters, digits, . _ -)"
    ]


def test_unknown_and_foreign_webhook_events_are_errors(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git("      webhooks: {events: [repo:push, pr:opened, nope]}\n"))

    assert sorted(error.problems) == [
        "global.git.bitbucket.webhooks.events[1]: pr:opened is a Bitbucket Server/Data Center "
        "event key, but type is cloud (use pullrequest:created)",
        "global.git.bitbucket.webhooks.events[2]: 'nope' is not a Bitbucket event key or alias",
    ]


def test_webhook_event_aliases_become_this_products_keys(tmp_path: Path) -> None:
    text = git(
        "      type: server\n      url: https://bb\n      webhooks: {events: [push, pr_merged]}\n"
    )

    settings = load(tmp_path, text)

    assert settings.bitbucket.webhooks.events == ("repo:refs_changed", "pr:merged")


def test_burst_size_must_stay_below_the_hourly_rate(tmp_path: Path) -> None:
    error = problems_of(tmp_path, git("      rateLimit: {requestsPerHour: 40}\n"))

    assert error.problems == [
        "global.git.bitbucket.rateLimit.requestsPerHour: must be less than requestsPerHour "
        "(40), got 50"
    ]


def test_a_requests_per_hour_the_operator_wrote_is_a_ceiling_and_the_default_is_not(
    tmp_path: Path,
) -> None:
    written = load(tmp_path, git("      rateLimit: {requestsPerHour: 800, reservedForJobs: 0.7}\n"))
    assumed = load(tmp_path, git("      rateLimit: {burstSize: 20}\n"))

    written_limit, assumed_limit = written.bitbucket.rate_limit, assumed.bitbucket.rate_limit
    assert (written_limit.ceiling, written_limit.reserved_for_jobs) == (800, 0.7)
    assert (assumed_limit.ceiling, assumed_limit.reserved_for_jobs) == (None, 0.5)


def test_team_roles_must_be_in_the_role_order(tmp_path: Path) -> None:
    text = "global:\n  teams:\n    bitbucket:\n      mapping: {devs: membr}\n      defaultRole: x\n"

    error = problems_of(tmp_path, text)

    assert sorted(error.problems) == [
        "global.teams.bitbucket.defaultRole: 'x' is not a role in roleOrder "
        "(admin, member, viewer)",
        "global.teams.bitbucket.mapping.devs: 'membr' is not a role in roleOrder "
        "(admin, member, viewer)",
    ]


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "global:\n  relay:\n    logLevel: [unclosed\n")

    assert len(error.problems) == 1
    assert error.problems[0].startswith("line 4, column 1: ")


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "global:\n  relay: {}\n  relay: {}\n")

    assert error.problems == ["line 3, column 3: key 'relay' is given twice in one mapping"]


def test_a_top_level_list_is_an_error(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "- global\n")

    assert error.problems == ["(top level): must be a mapping of keys to values, got a list"]


def test_a_section_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "global:\n  relay: production\n")

    assert error.problems == ["global.relay: must be a mapping of keys to values"]


# --- the development webhook secret ----------------------------------------------------------


def test_development_without_a_secret_generates_one_and_reuses_it(tmp_path: Path) -> None:
    env = {"BBRELAY_ENV": "development", "BBRELAY_VAR_DIR": str(tmp_path / "var")}

    first = load_settings(write(tmp_path, ""), environ=env)
    second = load_settings(write(tmp_path, ""), environ=env)

    secret_file = tmp_path / "var" / "webhook-secret"
    assert first.relay.generated_webhook_secret
    assert len(first.bitbucket.webhook_secrets) == 1
    assert first.bitbucket.webhook_secrets == second.bitbucket.webhook_secrets
    assert first.bitbucket.webhook_secrets[0].reveal() == secret_file.read_text().strip()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_production_without_a_secret_loads_with_none(tmp_path: Path) -> None:
    settings = load(tmp_path, "", BBRELAY_VAR_DIR=str(tmp_path / "var"))

    assert settings.bitbucket.webhook_secrets == ()
    assert not settings.relay.generated_webhook_secret
    assert not (tmp_path / "var").exists()


def test_a_configured_secret_means_none_is_generated(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "",
        BBRELAY_ENV="development",
        BBRELAY_VAR_DIR=str(tmp_path / "var"),
        BBRELAY_WEBHOOK_SECRET="configured",
    )

    assert settings.bitbucket.webhook_secrets == (Secret("configured"),)
    assert not settings.relay.generated_webhook_secret


# --- encryption keys, secret strength, private files ----------------------------------------


def test_development_generates_an_encryption_key_into_a_private_var_dir(tmp_path: Path) -> None:
    env = {"BBRELAY_ENV": "development", "BBRELAY_VAR_DIR": str(tmp_path / "var")}

    first = load_settings(write(tmp_path, ""), environ=env)
    second = load_settings(write(tmp_path, ""), environ=env)

    key_file = tmp_path / "var" / "encryption-key"
    assert first.relay.encryption_keys == second.relay.encryption_keys
    assert first.relay.encryption_keys == (Secret(key_file.read_text().strip()),)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700


def test_production_without_an_encryption_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), environ={"BBRELAY_VAR_DIR": str(tmp_path / "var")})

    [problem] = caught.value.problems
    assert problem.startswith("global.relay.encryptionKey: is required in production")
    assert not (tmp_path / "var").exists()


def test_two_encryption_keys_are_taken_in_order_and_bad_ones_are_named(tmp_path: Path) -> None:
    new, old = new_encryption_key(), ENCRYPTION_KEY
    settings = load(tmp_path, "", BBRELAY_ENCRYPTION_KEY=f"{new},{old}")
    assert settings.relay.encryption_keys == (Secret(new), Secret(old))

    error = problems_of(tmp_path, "", BBRELAY_ENCRYPTION_KEY="not-a-key")
    assert error.problems == [
        "BBRELAY_ENCRYPTION_KEY: value 1 is not a Fernet key (32 url-safe base64 bytes); "
        "make one with: python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    ]
    assert "not-a-key" not in str(error)
    error = problems_of(tmp_path, "", BBRELAY_ENCRYPTION_KEY=",".join([ENCRYPTION_KEY] * 3))
    assert error.problems == [
        "BBRELAY_ENCRYPTION_KEY: has 3 keys; give the new one and at most one old"
    ]


def test_production_refuses_short_and_placeholder_secrets_without_quoting_them(
    tmp_path: Path,
) -> None:
    text = git("      webhookSecret: your-webhook-secret\n") + (
        "  relay:\n    apiTokens: [short-api-token]\n"
    )

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.webhookSecret(s): value 1 is the example file's placeholder; "
        "generate one (openssl rand -hex 32)",
        "global.relay.apiTokens: value 1 is 15 characters; use at least 24 (openssl rand -hex 32)",
    ]
    assert "short-api-token" not in str(error)


def test_development_warns_about_weak_secrets_and_loads(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "",
        BBRELAY_ENV="development",
        BBRELAY_VAR_DIR=str(tmp_path / "var"),
        BBRELAY_WEBHOOK_SECRET="weak",
    )

    assert settings.bitbucket.webhook_secrets == (Secret("weak"),)
    assert settings.warnings == (
        "BBRELAY_WEBHOOK_SECRET: value 1 is 4 characters; use at least 24 "
        "(openssl rand -hex 32) (refused in production)",
    )


def test_a_client_id_is_an_identifier_shown_in_error_messages(tmp_path: Path) -> None:
    text = git("      clientId: 12345\n      clientSecret: 98765\n")

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.clientId: must be a string, got 12345",
        "global.git.bitbucket.clientSecret: must be a string",
    ]


# --- durations and event keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h", 3600.0),
        ("15m", 900.0),
        ("30s", 30.0),
        ("1d", 86400.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("90", 90.0),
        (45, 45.0),
        (2.5, 2.5),
        ("1.5h", 5400.0),
    ],
)
def test_parse_duration_reads_units_and_plain_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["often", "", "1x", "h1", "-5", "1h often", True, -1])
def test_parse_duration_refuses_what_is_not_a_duration(text: str | float) -> None:
    with pytest.raises(ValueError, match=r"is not a duration \(use e\.g\. 30s, 15m, 1h, 1d\)"):
        parse_duration(text)


def test_aliases_expand_to_the_cloud_and_the_server_key() -> None:
    assert expand_event_keys(["push", "pr_merged", "repo:fork"]) == {
        "repo:push",
        "repo:refs_changed",
        "pullrequest:fulfilled",
        "pr:merged",
        "repo:fork",
    }
    for cloud, server in ALIASES.values():
        assert cloud in CLOUD_EVENT_KEYS
        assert server in SERVER_EVENT_KEYS


def test_unknown_event_names_are_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match=r"did you mean pr_opened\?"):
        expand_event_keys(["pr_opend"])


def test_every_outgoing_body_must_have_a_signing_secret(tmp_path: Path) -> None:
    text = (
        git(
            "      buildStatus: {contexts: {ci: relay/ci}}\n"
            "      jobs:\n"
            "        - {name: review, on: [pr_opened], context: ci, runner: http,"
            " http: {url: 'https://platform.example.com/jobs'}}\n"
        )
        + "  teams:\n    bitbucket:\n      sink: {url: 'https://platform.example.com/teams'}\n"
    )

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.jobs[0].http.secret: is required: every body sent there is "
        "signed with it",
        "global.teams.bitbucket.sink.secret: is required: every body sent there is signed with it",
    ]


def test_outgoing_urls_must_be_https_outside_development(tmp_path: Path) -> None:
    text = git(
        "      apiUrl: http://api.bitbucket.example/2.0\n"
        "      oauth: {tokenUrl: 'http://bitbucket.example/token'}\n"
        "      buildStatus: {contexts: {ci: relay/ci}}\n"
        "      jobs:\n"
        "        - {name: review, on: [pr_opened], context: ci, runner: http,"
        " http: {url: 'http://platform.example.com/jobs', secret: s}}\n"
    )

    error = problems_of(tmp_path, text)

    assert error.problems == [
        "global.git.bitbucket.apiUrl: must be an https URL outside development, got http",
        "global.git.bitbucket.jobs[0].http.url: must be an https URL outside development, got http",
        "global.git.bitbucket.oauth.tokenUrl: must be an https URL outside development, got http",
    ]
    assert load(tmp_path, text, BBRELAY_ENV="development", BBRELAY_VAR_DIR=str(tmp_path))
    on_this_machine = text.replace("api.bitbucket.example", "127.0.0.1:8080")
    on_this_machine = on_this_machine.replace("bitbucket.example", "localhost")
    on_this_machine = on_this_machine.replace("platform.example.com", "127.0.0.1")
    assert load(tmp_path, on_this_machine).bitbucket.api_url == "http://127.0.0.1:8080/2.0"


def test_request_settable_data_change_variables_may_not_shadow_configured_ones(
    tmp_path: Path,
) -> None:
    text = git(
        "      pipelines:\n"
        "        customVariables: {STUDIO_URL: u}\n"
        "        securedVariables: [STUDIO_TOKEN]\n"
        "        triggers:\n"
        "          dataChange:\n"
        "            variables: {TRIGGER: data_change}\n"
        "            repositories: ['acme/data-*']\n"
        "            allowedVariables: [DATASET, STUDIO_URL, TRIGGER]\n"
    )

    error = problems_of(tmp_path, text)

    key = "global.git.bitbucket.pipelines.triggers.dataChange.allowedVariables"
    assert error.problems == [
        f"{key}[1]: 'STUDIO_URL' is already configured (customVariables or dataChange.variables);"
        " a request may not replace it",
        f"{key}[2]: 'TRIGGER' is already configured (customVariables or dataChange.variables);"
        " a request may not replace it",
    ]
    pipelines = load(tmp_path, text.replace(", STUDIO_URL, TRIGGER", "")).bitbucket.pipelines
    assert pipelines.secured_variables == ("STUDIO_TOKEN",)
    assert pipelines.data_change.repositories == ("acme/data-*",)
    assert pipelines.data_change.allowed_variables == ("DATASET",)


def test_an_api_token_from_the_environment_is_one_token_commas_and_all(tmp_path: Path) -> None:
    settings = load(tmp_path, "", BBRELAY_API_TOKEN="abc,def-long-enough-for-production")
    assert settings.relay.api_tokens == (Secret("abc,def-long-enough-for-production"),)


def test_process_settings_come_from_the_environment_and_a_bad_one_is_named(tmp_path: Path) -> None:
    relay = load(
        tmp_path,
        "",
        BBRELAY_RETRY_BASE_DELAY="0.2",
        BBRELAY_WORKER_METRICS_PORT="9808",
        PROMETHEUS_MULTIPROC_DIR="/run/prometheus",
    ).relay
    assert (relay.retry_base_delay, relay.worker_metrics_port) == (0.2, 9808)
    assert (relay.worker_metrics_address, relay.metrics_dir) == ("127.0.0.1", "/run/prometheus")

    error = problems_of(tmp_path, "", BBRELAY_WORKER_METRICS_PORT="ninety")
    assert error.problems == ["BBRELAY_WORKER_METRICS_PORT: must be an integer, got 'ninety'"]


def test_server_client_credentials_are_refused_with_what_to_use(tmp_path: Path) -> None:
    text = git(
        "      type: server\n      url: https://bb.corp\n"
        "      clientId: abc\n      clientSecret: xyz\n"
    )
    message = str(problems_of(tmp_path, text))
    assert "global.git.bitbucket.clientId" in message
    assert "authorization-code" in message and "HTTP access token" in message
    with_token = text + "      token: pat\n"
    assert load(tmp_path, with_token).bitbucket.token is not None


def test_the_sign_in_consumer_stays_allowed_on_server(tmp_path: Path) -> None:
    text = git("      type: server\n      url: https://bb.corp\n      token: pat\n") + (
        "  auth:\n    bitbucket:\n      clientId: abc\n      clientSecret: xyz\n"
    )
    assert load(tmp_path, text).bitbucket.consumers == ()


def test_the_removed_cloud_collaborator_role_is_refused(tmp_path: Path) -> None:
    text = "global:\n  teams:\n    bitbucket:\n      mapping: {collaborator: viewer}\n"
    message = str(problems_of(tmp_path, text))
    assert "collaborator" in message and "June 2022" in message


def test_skip_cert_verification_is_a_setting(tmp_path: Path) -> None:
    text = git("      webhooks: {skipCertVerification: true}\n")
    assert load(tmp_path, text).bitbucket.webhooks.skip_cert_verification is True


def test_needs_work_and_changes_requested_stand_for_each_other() -> None:
    both = {"pr:reviewer:needs_work", "pr:reviewer:changes_requested"}
    assert expand_event_keys(["pr:reviewer:changes_requested"]) == both
    assert "pipeline:span_created" in CLOUD_EVENT_KEYS


def test_the_spool_lives_in_var_dir_unless_given_a_dir_of_its_own(tmp_path: Path) -> None:
    default = load(tmp_path, "global: {relay: {varDir: /srv/relay}}\n")
    assert (default.relay.spool_dir, default.relay.spool.max_bytes) == ("/srv/relay/spool", 1 << 29)
    own = load(tmp_path, "global: {relay: {spool: {dir: /mnt/spool, maxBytes: 1048576}}}\n")
    assert (own.relay.spool_dir, own.relay.spool.max_bytes) == ("/mnt/spool", 1048576)


# --- sign in with Bitbucket --------------------------------------------------------------

SIGN_IN = """
global:
  git:
    bitbucket:
      clientId: git-client
      clientSecret: git-secret
  auth:
    bitbucket:
      enabled: true
      teamSync: {workspaceWhitelist: [acme]}
  relay:
    environment: development
    publicUrl: https://relay.example.com
    varDir: VAR
    identity: {redirectUrl: "https://platform.example.com/done", audience: platform}
"""


def test_sign_in_falls_back_to_the_git_consumer_and_generates_a_private_signing_key(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    settings = load_settings(write(tmp_path, SIGN_IN.replace("VAR", str(var))), environ=KEYED)
    sign_in = settings.sign_in
    assert (sign_in.enabled, sign_in.client_id) == (True, "git-client")
    assert sign_in.client_secret == Secret("git-secret")
    assert sign_in.redirect_uri == "https://relay.example.com/auth/bitbucket/callback"
    assert sign_in.authorize_url == "https://bitbucket.org/site/oauth2/authorize"
    assert sign_in.scopes == ("account", "email")
    key_file = var / "identity-signing-key"
    assert settings.identity.signing_key == Secret(key_file.read_text().strip())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "BEGIN PRIVATE KEY" in key_file.read_text()


def test_sign_in_names_each_missing_key(tmp_path: Path) -> None:
    text = """
global:
  git: {bitbucket: {type: server, url: "https://bb.example.com",
                    oauth: {redirectUri: "https://relay.example.com/login"}}}
  auth: {bitbucket: {enabled: true}}
  relay: {identity: {redirectUrl: "https://platform.example.com/done"}}
"""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ=KEYED)
    problems = "\n".join(caught.value.problems)
    for expected in (
        "global.auth.bitbucket.clientId: is required when sign-in is enabled",
        "global.auth.bitbucket.clientSecret: is required when sign-in is enabled",
        "global.git.bitbucket.oauth.redirectUri: must end with /auth/bitbucket/callback",
        "global.auth.bitbucket.teamSync.workspaceWhitelist: is required",
        "global.relay.identity.audience: is required when sign-in is enabled",
    ):
        assert expected in problems


def test_oauth_1a_needs_a_server_application_link_with_its_keys(tmp_path: Path) -> None:
    cloud = SIGN_IN.replace("VAR", str(tmp_path)).replace(
        "      clientSecret: git-secret\n",
        '      clientSecret: git-secret\n      oauth: {version: "1.0a"}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, cloud), environ=KEYED)
    assert caught.value.problems == [
        'global.git.bitbucket.oauth.version: "1.0a" is for Server/DC application links'
    ]
    server = """
global:
  git: {bitbucket: {type: server, url: "https://bb.example.com", token: t,
                    oauth: {version: "1.0a"}}}
  auth: {bitbucket: {enabled: true, teamSync: {workspaceWhitelist: [dc]}}}
  relay:
    publicUrl: https://relay.example.com
    identity: {redirectUrl: "https://platform.example.com/done", audience: p, signingKey: k}
"""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, server), environ=KEYED)
    assert caught.value.problems == [
        'global.git.bitbucket.consumerKey: is required with oauth.version "1.0a"',
        'global.git.bitbucket.privateKey: is required with oauth.version "1.0a"',
    ]
