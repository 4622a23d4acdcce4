"""Turn validated values plus the environment into frozen Settings, checking what spans keys.

Product-dependent defaults, environment overrides, secret resolution, event keys and job rules
live here; each problem is recorded under the key (or environment variable) to fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from marshmallow import ValidationError

from shared.config.fields import BaseField, Choice, Text, Url
from shared.config.schema import Problems
from shared.config.secrets import SecretSource, split_list, unique
from shared.event_keys import (
    ALIASES,
    ALL_EVENT_KEYS,
    CLOUD_EVENT_KEYS,
    RENAMED,
    SERVER_EVENT_KEYS,
    expand_event_keys,
    unknown_event_key_message,
)
from shared.secret import Secret
from shared.config.settings import (
    DEFAULT_CLOUD_API_URL,
    DEFAULT_TOKEN_URL,
    TLS,
    AccessLists,
    BitbucketSettings,
    BuildStatusSettings,
    Consumer,
    DataChangeTrigger,
    HttpRunner,
    JobRule,
    PipelineRunner,
    PipelinesSettings,
    Product,
    RateLimit,
    RecoverySettings,
    RelaySettings,
    Settings,
    TeamSink,
    TeamsSettings,
    TeamSyncSettings,
    Timeouts,
    WebhookSettings,
)

GIT = "global.git.bitbucket"
AUTH = "global.auth.bitbucket"
TEAMS = "global.teams.bitbucket"
RELAY = "global.relay"
Environment = Literal["development", "production"]
HookScope = Literal["repository", "workspace", "project"]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_PRODUCT_NAMES = {"cloud": "Bitbucket Cloud", "server": "Bitbucket Server/Data Center"}
_SERVER_EQUIVALENT: dict[str, str] = {cloud: server for cloud, server in ALIASES.values()}
_CLOUD_EQUIVALENT: dict[str, str] = {server: cloud for cloud, server in ALIASES.values()}


def _section(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        values = values.get(key) or {}
    return dict(values)


class SettingsBuilder:
    """Turns validated values plus environment into Settings, recording problems as it goes."""

    def __init__(self, values: Mapping[str, Any], env: Mapping[str, str], problems: Problems):
        self.git = _section(values, "global_", "git", "bitbucket")
        self.auth = _section(values, "global_", "auth", "bitbucket")
        self.teams_values = _section(values, "global_", "teams", "bitbucket")
        self.relay_values = _section(values, "global_", "relay")
        self.monitoring = _section(values, "monitoring", "bitbucket")
        self.env = env
        self.problems = problems
        self.warnings: list[str] = []
        self.secrets = SecretSource(env, problems)
        self.environment: Environment = "production"

    def settings(self, source: str | None) -> Settings:
        """Everything, built as far as the values allow; problems are left in `self.problems`."""
        relay = self.relay()
        self.environment = relay.environment
        return Settings(
            bitbucket=self.bitbucket(),
            team_sync=self.team_sync(),
            teams=self.teams(),
            relay=relay,
            monitoring=self.monitoring,
            warnings=tuple(self.warnings),
            source=source,
        )

    # --- environment ------------------------------------------------------------------

    def env_text(self, name: str, field: BaseField | None = None, text: str | None = None) -> Any:
        """`$name` (or `text` read for it) checked by `field`, a string by default; unset → None."""
        text = text if text is not None else self.env.get(name)
        if not text:
            return None
        try:
            return (field or Text()).deserialize(text)
        except ValidationError as exc:
            self.problems.add(name, "; ".join(map(str, cast(list[str], exc.messages))))
            return None

    # --- global.git.bitbucket -----------------------------------------------------------

    def bitbucket(self) -> BitbucketSettings:
        git = self.git
        product: Product = self.env_text("BBRELAY_BITBUCKET_TYPE", Choice(("cloud", "server")))
        product = product or git.get("type") or "cloud"
        url = self.env_text("BBRELAY_BITBUCKET_URL", Url()) or git.get("url")
        url = url.rstrip("/") if url else None
        if product == "server" and not url:
            self.problems.add(
                f"{GIT}.url", "is required when type is server (your Bitbucket's address)"
            )
        base = url or "https://bitbucket.invalid"
        oauth = _section(git, "oauth")
        given_api_url = self.env_text("BBRELAY_API_URL", Url()) or git.get("apiUrl")
        api_url = given_api_url or (DEFAULT_CLOUD_API_URL if product == "cloud" else f"{base}/rest")
        given_token_url = self.env_text("BBRELAY_TOKEN_URL", Url()) or oauth.get("tokenUrl")
        token_url = given_token_url or (
            DEFAULT_TOKEN_URL if product == "cloud" else f"{base}/rest/oauth2/latest/token"
        )
        self.require_https(url, self.source("BBRELAY_BITBUCKET_URL", f"{GIT}.url"))
        self.require_https(given_api_url, self.source("BBRELAY_API_URL", f"{GIT}.apiUrl"))
        self.require_https(
            given_token_url, self.source("BBRELAY_TOKEN_URL", f"{GIT}.oauth.tokenUrl")
        )
        token = self.secrets.from_env("BBRELAY_BITBUCKET_TOKEN") or self.secrets.from_section(
            git, "token", GIT
        )
        username = self.env_text("BBRELAY_BITBUCKET_USERNAME") or git.get("username")
        password = self.secrets.from_env("BBRELAY_BITBUCKET_PASSWORD") or self.secrets.from_section(
            git, "password", GIT
        )
        if username and not password and not self.problems.about(f"{GIT}.password"):
            self.problems.add(f"{GIT}.password", "is required with username")
        if password and not username:
            self.problems.add(f"{GIT}.username", "is required with password")
        return BitbucketSettings(
            product=product,
            enabled=git.get("enabled", True) is not False,
            url=url if product == "server" else None,
            api_url=api_url.rstrip("/"),
            token_url=token_url,
            consumers=self.consumers(),
            token=Secret(token) if token else None,
            username=username,
            password=Secret(password) if password else None,
            webhook_secrets=tuple(Secret(value) for value in self.webhook_secrets()),
            oauth_scopes=tuple(oauth.get("scopes") or ()),
            webhooks=self.webhooks(product),
            rate_limit=RateLimit(**_present(_section(git, "rateLimit"), RATE_LIMIT_KEYS)),
            timeout=Timeouts(**_present(_section(git, "timeout"), TIMEOUT_KEYS)),
            tls=self.tls(),
            repositories=_access_lists(_section(git, "repositories")),
            workspaces=_access_lists(_section(git, "workspaces")),
            pipelines=self.pipelines(),
            build_status=self.build_status(),
            jobs=self.jobs(product),
        )

    def consumers(self) -> tuple[Consumer, ...]:
        """The first consumer(s) (env, else git, else auth clientId/clientSecret), then the pool."""
        prefix = GIT
        ids_text = self.secrets.from_section(self.git, "clientId", GIT)
        secrets_text = self.secrets.from_section(self.git, "clientSecret", GIT)
        if ids_text is None and secrets_text is None:
            prefix = AUTH
            ids_text = self.secrets.from_section(self.auth, "clientId", AUTH)
            secrets_text = self.secrets.from_section(self.auth, "clientSecret", AUTH)
        ids_key, secrets_key = f"{prefix}.clientId", f"{prefix}.clientSecret"
        if env_ids := self.secrets.from_env("BBRELAY_CLIENT_ID"):
            ids_text, ids_key = env_ids, "BBRELAY_CLIENT_ID"
        if env_secrets := self.secrets.from_env("BBRELAY_CLIENT_SECRET"):
            secrets_text, secrets_key = env_secrets, "BBRELAY_CLIENT_SECRET"
        ids, client_secrets = split_list(ids_text), split_list(secrets_text)
        pairs: list[tuple[str, str, str]] = []
        if self.problems.about(ids_key) or self.problems.about(secrets_key):
            pass  # a bad value or an unreadable reference, already reported
        elif ids and not client_secrets:
            self.problems.add(secrets_key, "is required with clientId")
        elif client_secrets and not ids:
            self.problems.add(ids_key, "is required with clientSecret")
        elif len(ids) != len(client_secrets):
            self.problems.add(
                secrets_key,
                f"has {len(client_secrets)} comma-separated values but clientId has {len(ids)}; "
                "give one secret per client id",
            )
        else:
            pairs = [(ids_key, *pair) for pair in zip(ids, client_secrets, strict=True)]
        pairs.extend(self.consumer_pool())
        seen: set[str] = set()
        consumers = []
        for key, client_id, client_secret in pairs:
            if client_id in seen:
                self.problems.add(key, "configures the same client id twice")
            seen.add(client_id)
            consumers.append(Consumer(client_id, Secret(client_secret)))
        return tuple(consumers)

    def consumer_pool(self) -> list[tuple[str, str, str]]:
        key = f"{GIT}.consumers"
        pairs = []
        for index, item in enumerate(self.git.get("consumers") or ()):
            prefix = f"{key}[{index}]"
            client_id = self.secrets.from_section(item, "clientId", prefix)
            client_secret = self.secrets.from_section(item, "clientSecret", prefix)
            for name, value in (("clientId", client_id), ("clientSecret", client_secret)):
                if not value and not self.problems.about(f"{prefix}.{name}"):
                    self.problems.add(f"{prefix}.{name}", "is required")
            if client_id and client_secret:
                pairs.append((f"{prefix}.clientId", client_id, client_secret))
        return pairs

    def webhook_secrets(self) -> list[str]:
        """Environment first (for rotation), then webhookSecret, then webhookSecrets."""
        from_env = split_list(self.secrets.from_env("BBRELAY_WEBHOOK_SECRET"))
        single = self.secrets.from_section(self.git, "webhookSecret", GIT)
        listed = self.secrets.from_list(self.git.get("webhookSecrets"), f"{GIT}.webhookSecrets")
        return unique([*from_env, *([single] if single else []), *listed])

    def webhooks(self, product: Product) -> WebhookSettings:
        hooks = _section(self.git, "webhooks")
        scope: HookScope = hooks.get("scope") or "repository"
        if scope == "workspace" and product == "server":
            self.problems.add(
                f"{GIT}.webhooks.scope",
                "workspace hooks exist only on Bitbucket Cloud; use project on Server/Data Center",
            )
        if scope == "project" and product == "cloud":
            self.problems.add(
                f"{GIT}.webhooks.scope",
                "project hooks exist only on Server/Data Center; use workspace on Bitbucket Cloud",
            )
        return WebhookSettings(
            events=self.webhook_events(hooks.get("events") or [], product),
            scope=scope,
            **_present(hooks, WEBHOOK_KEYS),
        )

    def webhook_events(self, names: list[str], product: Product) -> tuple[str, ...]:
        """Event keys to subscribe to, for this product; renamed keys and aliases translated."""
        if self.problems.touched(f"{GIT}.webhooks.events"):
            return ()
        native = CLOUD_EVENT_KEYS if product == "cloud" else SERVER_EVENT_KEYS
        equivalent = _SERVER_EQUIVALENT if product == "server" else _CLOUD_EQUIVALENT
        keys: list[str] = []
        for index, name in enumerate(names):
            key = name
            if name in RENAMED:
                key = RENAMED[name]
                self.warnings.append(
                    f"{GIT}.webhooks.events: {name} is called {key} by Bitbucket Cloud; using that"
                )
            elif name in ALIASES:
                key = ALIASES[name][0 if product == "cloud" else 1]
            where = f"{GIT}.webhooks.events[{index}]"
            if key not in ALL_EVENT_KEYS:
                self.problems.add(where, unknown_event_key_message(name))
            elif key not in native:
                hint = f" (use {equivalent[key]})" if key in equivalent else ""
                other = "server" if product == "cloud" else "cloud"
                self.problems.add(
                    where,
                    f"{key} is a {_PRODUCT_NAMES[other]} event key, but type is {product}{hint}",
                )
            else:
                keys.append(key)
        return tuple(unique(keys))

    def tls(self) -> TLS:
        ssl = _section(self.git, "ssl")
        ca = ssl.get("caCertificate")
        if ca and not ca.lstrip().startswith("-----BEGIN") and not Path(ca).is_file():
            self.problems.add(f"{GIT}.ssl.caCertificate", f"no such file: {ca}")
        return TLS(verify=ssl.get("verify", True) is not False, ca_certificate=ca)

    def build_status(self) -> BuildStatusSettings:
        status = _section(self.git, "buildStatus")
        return BuildStatusSettings(
            contexts=status.get("contexts") or {}, **_present(status, BUILD_STATUS_KEYS)
        )

    def jobs(self, product: Product) -> tuple[JobRule, ...]:
        """Job rules, checked against each other, buildStatus.contexts and the product."""
        contexts = _section(self.git, "buildStatus", "contexts")
        rules: list[JobRule] = []
        first_index: dict[str, int] = {}
        for index, job in enumerate(self.git.get("jobs") or ()):
            prefix = f"{GIT}.jobs[{index}]"
            name, context, runner = job.get("name"), job.get("context"), job.get("runner")
            if name in first_index:
                self.problems.add(
                    f"{prefix}.name", f"{name!r} is also the name of jobs[{first_index[name]}]"
                )
            if name is not None:
                first_index.setdefault(name, index)
            if context is not None:
                self.check_context(context, contexts, f"{prefix}.context")
            if runner == "pipeline" and product == "server":
                self.problems.add(
                    f"{prefix}.runner",
                    "Bitbucket Pipelines exists only on Bitbucket Cloud; "
                    "use runner: http on Server/Data Center",
                )
            on = self.job_events(job.get("on") or [], f"{prefix}.on")
            http = self.http_runner(job.get("http"), f"{prefix}.http")
            if name and on and context and runner and (runner == "pipeline" or http):
                rules.append(
                    JobRule(
                        name=name,
                        on=on,
                        context=context,
                        runner=runner,
                        branches=tuple(job.get("branches") or ("*",)),
                        repositories=tuple(job.get("repositories") or ("*",)),
                        pipeline=self.pipeline_runner(job, prefix)
                        if runner == "pipeline"
                        else None,
                        http=http,
                    )
                )
        return tuple(rules)

    def pipeline_runner(self, job: Mapping[str, Any], prefix: str) -> PipelineRunner:
        """The rule's Pipelines settings; secured names must be variables it sends."""
        pipeline = _section(job, "pipeline")
        selector = pipeline.get("selector")
        variables = pipeline.get("variables") or {}
        sent = variables.keys() | _section(self.git, "pipelines", "customVariables").keys()
        for index, name in enumerate(pipeline.get("secured") or ()):
            if name not in sent:
                self.problems.add(
                    f"{prefix}.pipeline.secured[{index}]",
                    f"{name!r} is not one of this rule's variables or pipelines.customVariables",
                )
        return PipelineRunner(
            selector={k: v for k, v in selector.items() if v is not None} if selector else None,
            variables=variables,
            secured=tuple(pipeline.get("secured") or ()),
        )

    def job_events(self, names: list[str], key: str) -> tuple[str, ...]:
        keys: set[str] = set()
        for index, name in enumerate(names):
            try:
                keys |= expand_event_keys([name])
            except ValueError as exc:
                self.problems.add(f"{key}[{index}]", str(exc))
            if name in RENAMED:
                self.warnings.append(
                    f"{key}: {name} is called {RENAMED[name]} by Bitbucket Cloud; using that"
                )
        return tuple(sorted(keys))

    def check_context(self, context: str, contexts: Mapping[str, str], key: str) -> None:
        if context in contexts:
            return
        if not contexts:
            self.problems.add(key, f"{context!r} is not a key of buildStatus.contexts (none set)")
            return
        close = difflib.get_close_matches(context, list(contexts), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        known = ", ".join(contexts)
        self.problems.add(key, f"{context!r} is not a key of buildStatus.contexts ({known}){hint}")

    def http_runner(self, http: Mapping[str, Any] | None, key: str) -> HttpRunner | None:
        if http is None or not http.get("url"):
            return None
        secret = self.required_secret(http, key)
        if secret is None:
            return None
        self.require_https(http["url"], f"{key}.url")
        return HttpRunner(
            url=http["url"],
            secret=Secret(secret),
            **({"timeout": http["timeout"]} if http.get("timeout") else {}),
        )

    def required_secret(self, section: Mapping[str, Any], key: str) -> str | None:
        """`secret` (or `secretSecret`) of a section whose outgoing bodies must be signed."""
        secret = self.secrets.from_section(section, "secret", key)
        if not secret and not self.problems.about(f"{key}.secret"):
            self.problems.add(
                f"{key}.secret", "is required: every body sent there is signed with it"
            )
        return secret

    def source(self, env_name: str, key: str) -> str:
        """Where a value came from, to name in a problem: the variable when set, else the key."""
        return env_name if self.env.get(env_name) else key

    def require_https(self, url: str | None, key: str) -> None:
        """Outgoing calls carry secrets: https, except in development or to this machine."""
        parts = urlsplit(url or "")
        if not url or parts.scheme == "https" or self.environment == "development":
            return
        if (parts.hostname or "") in LOOPBACK_HOSTS:
            return
        self.problems.add(key, f"must be an https URL outside development, got {parts.scheme}")

    def pipelines(self) -> PipelinesSettings:
        """`pipelines`; request-settable names must not shadow configured variables."""
        section = _section(self.git, "pipelines")
        settings = _pipelines(section)
        configured = settings.custom_variables.keys() | settings.data_change.variables.keys()
        key = f"{GIT}.pipelines.triggers.dataChange.allowedVariables"
        for index, name in enumerate(settings.data_change.allowed_variables):
            if name in configured:
                self.problems.add(
                    f"{key}[{index}]",
                    f"{name!r} is already configured (customVariables or dataChange.variables); "
                    "a request may not replace it",
                )
        return settings

    # --- global.auth.bitbucket and global.teams.bitbucket ---------------------------------

    def team_sync(self) -> TeamSyncSettings:
        sync = _section(self.auth, "teamSync")
        return TeamSyncSettings(
            enabled=bool(sync.get("enabled")),
            workspace_whitelist=tuple(sync.get("workspaceWhitelist") or ()),
        )

    def teams(self) -> TeamsSettings:
        teams = self.teams_values
        defaults = TeamsSettings()
        role_order = tuple(teams.get("roleOrder") or defaults.role_order)
        if teams.get("roleOrder") == []:
            self.problems.add(f"{TEAMS}.roleOrder", "must name at least one role")
        for role in unique(role for role in role_order if role_order.count(role) > 1):
            self.problems.add(f"{TEAMS}.roleOrder", f"{role!r} is listed more than once")
        mapping: dict[str, str] = teams.get("mapping") or {}
        for group, role in mapping.items():
            self.check_role(role, role_order, f"{TEAMS}.mapping.{group}")
        default_role = teams.get("defaultRole") or defaults.default_role
        self.check_role(default_role, role_order, f"{TEAMS}.defaultRole")
        return TeamsSettings(
            mapping=mapping,
            default_role=default_role,
            sync_interval=teams.get("syncInterval") or defaults.sync_interval,
            role_order=role_order,
            **_present(teams, {"maxRemovalRatio": "max_removal_ratio"}),
            sink=self.sink(teams.get("sink")),
        )

    def check_role(self, role: str, role_order: tuple[str, ...], key: str) -> None:
        if role not in role_order:
            roles = ", ".join(role_order)
            self.problems.add(key, f"{role!r} is not a role in roleOrder ({roles})")

    def sink(self, sink: Mapping[str, Any] | None) -> TeamSink | None:
        if sink is None or not sink.get("url"):
            return None
        secret = self.required_secret(sink, f"{TEAMS}.sink")
        if secret is None:
            return None
        self.require_https(sink["url"], f"{TEAMS}.sink.url")
        return TeamSink(url=sink["url"], secret=Secret(secret))

    # --- global.relay -------------------------------------------------------------------

    def relay(self) -> RelaySettings:
        relay = self.relay_values
        environment: Environment = (
            self.env_text("BBRELAY_ENV", Choice(("development", "production")))
            or relay.get("environment")
            or "production"
        )
        log_format = self.env_text("BBRELAY_LOG_FORMAT", Choice(("json", "console")))
        log_format = log_format or relay.get("logFormat")
        log_level = self.env_text(
            "BBRELAY_LOG_LEVEL", Choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
        )
        redis_url_field = Url(schemes=("redis", "rediss", "unix"), secret=True)
        redis_url = (
            self.env_text(
                "BBRELAY_REDIS_URL", redis_url_field, self.secrets.from_env("BBRELAY_REDIS_URL")
            )
            or self.env_text("REDIS_URL", redis_url_field)
            or relay.get("redisUrl")
        )
        api_tokens = self.secrets.from_list(relay.get("apiTokens"), f"{RELAY}.apiTokens")
        env_token = self.secrets.from_env("BBRELAY_API_TOKEN")  # one token, commas and all
        api_tokens += [env_token.strip()] if env_token and env_token.strip() else []
        return RelaySettings(
            public_url=self.env_text("BBRELAY_PUBLIC_URL", Url()) or relay.get("publicUrl"),
            api_tokens=tuple(Secret(token) for token in unique(api_tokens)),
            environment=environment,
            log_format=log_format or ("console" if environment == "development" else "json"),
            log_level=log_level or relay.get("logLevel") or "INFO",
            var_dir=self.env_text("BBRELAY_VAR_DIR") or relay.get("varDir") or "./var",
            **({"redis_url": redis_url} if redis_url else {}),
            recovery=RecoverySettings(**_present(relay.get("recovery") or {}, RECOVERY_KEYS)),
            **_present(relay, RELAY_KEYS),
        )


RATE_LIMIT_KEYS = {"requestsPerHour": "requests_per_hour", "burstSize": "burst_size"}
TIMEOUT_KEYS = {"connect": "connect", "read": "read", "write": "write"}
WEBHOOK_KEYS = {
    "autoSetup": "auto_setup",
    "active": "active",
    "skipCertVerification": "skip_cert_verification",
}
BUILD_STATUS_KEYS = {"enabled": "enabled", "url": "url", "description": "description"}
RELAY_KEYS = {"dedupeWindow": "dedupe_window", "maxBodyBytes": "max_body_bytes"}
RECOVERY_KEYS = {
    "deliveryDeadline": "delivery_deadline",
    "startDeadline": "start_deadline",
    "followUpLease": "follow_up_lease",
    "sweepInterval": "sweep_interval",
}
POLL_KEYS = {
    "pollInterval": "poll_interval",
    "maxPollInterval": "max_poll_interval",
    "maxFollow": "max_follow",
}


def _present(section: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """Dataclass keyword arguments for the keys given in `section`; the rest keep defaults."""
    return {field: section[key] for key, field in names.items() if section.get(key) is not None}


def _access_lists(section: Mapping[str, Any]) -> AccessLists:
    return AccessLists(
        allow=tuple(section.get("allowList") or ()), block=tuple(section.get("blockList") or ())
    )


def _pipelines(section: Mapping[str, Any]) -> PipelinesSettings:
    change = _section(section, "triggers", "dataChange")
    return PipelinesSettings(
        enabled=bool(section.get("enabled")),
        data_change=DataChangeTrigger(
            enabled=bool(change.get("enabled")),
            variables=change.get("variables") or {},
            repositories=tuple(change.get("repositories") or ()),
            allowed_variables=tuple(change.get("allowedVariables") or ()),
            **_present(change, {"branch": "branch"}),
        ),
        custom_variables=section.get("customVariables") or {},
        secured_variables=tuple(section.get("securedVariables") or ()),
        **_present(section, POLL_KEYS),
    )
