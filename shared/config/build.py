"""Turn validated values plus the environment into frozen Settings, checking what spans keys.

Product-dependent defaults, secret resolution, event keys and job rules live here; sections that
are one dataclass come built from `shared.config.schema`, overrides from `environment`. Each
problem is recorded under the key (or environment variable) to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from shared.config.environment import overrides
from shared.config.schema import (
    AccessListSchema,
    BuildStatusSchema,
    InventorySchema,
    PipelinesSchema,
    Problems,
    RateLimitSchema,
    ReconcileSchema,
    RecoverySchema,
    SpoolSchema,
    SslSchema,
    TeamSyncSchema,
    TimeoutSchema,
    WebhooksSchema,
    built,
    given,
)
from shared.config.secrets import SecretSource, split_list, unique
from shared.config.settings import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_CLOUD_API_URL,
    DEFAULT_TOKEN_URL,
    SIGN_IN_CALLBACK,
    TLS,
    ApplicationLink,
    BitbucketSettings,
    BuildStatusSettings,
    Consumer,
    HttpRunner,
    IdentitySettings,
    InventorySettings,
    JobRule,
    PipelineRunner,
    PipelinesSettings,
    Product,
    RelaySettings,
    Settings,
    SignInSettings,
    TeamSink,
    TeamsSettings,
    TeamSyncSettings,
    WebhookSettings,
)
from shared.config.strength import weakness
from shared.event_keys import (
    ALIASES,
    ALL_EVENT_KEYS,
    CLOUD_EVENT_KEYS,
    RENAMED,
    SERVER_EVENT_KEYS,
    expand_event_keys,
    unknown_event_key_message,
)
from shared.sealing import HOW_TO_MAKE_A_KEY, is_encryption_key
from shared.secret import Secret

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
        found = overrides(env, problems, self.secrets)
        self.git.update(found["git"])
        self.git["oauth"] = {**_section(self.git, "oauth"), **found["oauth"]}
        self.relay_values.update(found["relay"])
        self.environment: Environment = RelaySettings.environment

    def settings(self, source: str | None) -> Settings:
        """Everything, built as far as the values allow; problems are left in `self.problems`."""
        relay = self.relay()
        self.environment = relay.environment
        bitbucket = self.bitbucket()
        team_sync = self.team_sync()
        sign_in = self.sign_in(bitbucket, relay, team_sync)
        return Settings(
            bitbucket=bitbucket,
            team_sync=team_sync,
            teams=self.teams(),
            sign_in=sign_in,
            identity=self.identity(sign_in.enabled),
            relay=relay,
            monitoring=self.monitoring,
            warnings=tuple(self.warnings),
            source=source,
        )

    # --- global.git.bitbucket -----------------------------------------------------------

    def bitbucket(self) -> BitbucketSettings:
        git = self.git
        product: Product = git.get("type") or BitbucketSettings.product
        url = git.get("url")
        url = url.rstrip("/") if url else None
        if product == "server" and not url:
            self.problems.add(
                f"{GIT}.url", "is required when type is server (your Bitbucket's address)"
            )
        base = url or "https://bitbucket.invalid"
        oauth = _section(git, "oauth")
        given_api_url = git.get("apiUrl")
        api_url = given_api_url or (DEFAULT_CLOUD_API_URL if product == "cloud" else f"{base}/rest")
        given_token_url = oauth.get("tokenUrl")
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
        username = git.get("username")
        password = self.secrets.from_env("BBRELAY_BITBUCKET_PASSWORD") or self.secrets.from_section(
            git, "password", GIT
        )
        if username and not password and not self.problems.about(f"{GIT}.password"):
            self.problems.add(f"{GIT}.password", "is required with username")
        if password and not username:
            self.problems.add(f"{GIT}.username", "is required with password")
        if product == "server" and not token and not username:
            self.refuse_server_client_credentials()
        return BitbucketSettings(
            product=product,
            enabled=git.get("enabled", True) is not False,
            url=url if product == "server" else None,
            api_url=api_url.rstrip("/"),
            token_url=token_url,
            consumers=self.consumers(product),
            token=Secret(token) if token else None,
            username=username,
            password=Secret(password) if password else None,
            webhook_secrets=tuple(Secret(value) for value in self.webhook_secrets()),
            webhooks=self.webhooks(product),
            rate_limit=built(RateLimitSchema, git.get("rate_limit")),
            timeout=built(TimeoutSchema, git.get("timeout")),
            tls=self.tls(self.git.get("ssl"), f"{GIT}.ssl"),
            repositories=built(AccessListSchema, git.get("repositories")),
            workspaces=built(AccessListSchema, git.get("workspaces")),
            pipelines=self.pipelines(),
            build_status=self.build_status(),
            jobs=self.jobs(product),
            reconcile=built(ReconcileSchema, git.get("reconcile")),
            permissions=git.get("permissions"),
            inventory=self.inventory(),
        )

    def inventory(self) -> InventorySettings:
        inventory = built(InventorySchema, self.git.get("inventory"))
        sink = self.sink(inventory.sink, f"{GIT}.inventory.sink")
        return cast(InventorySettings, dataclasses.replace(inventory, sink=sink))

    def refuse_server_client_credentials(self) -> None:
        """Server/DC's OAuth 2.0 provider has no client-credentials grant (authorization code
        only): https://confluence.atlassian.com/bitbucketserver/bitbucket-oauth-2-0-provider-api-1108483661.html
        """
        in_file = [
            f"{GIT}.{key}"
            for key in ("clientId", "clientSecret", "consumers")
            if self.git.get(key) is not None or self.git.get(f"{key}Secret") is not None
        ]
        in_env = [
            name for name in ("BBRELAY_CLIENT_ID", "BBRELAY_CLIENT_SECRET") if self.env.get(name)
        ]
        named = in_file + in_env
        if named:
            self.problems.add(
                named[0],
                f"{', '.join(named)}: Bitbucket Server/Data Center has no OAuth client "
                "credentials (its OAuth 2.0 provider supports only the authorization-code flow); "
                "set token (an HTTP access token) or username and password instead, or use the "
                '"Connect Bitbucket" authorization-code flow once it exists',
            )

    def consumers(self, product: Product) -> tuple[Consumer, ...]:
        """The first consumer(s) (env, else git, else auth clientId/clientSecret), then the pool.

        On Server/DC the sign-in consumer under global.auth.bitbucket is not an API credential.
        """
        prefix = GIT
        ids_text = self.secrets.from_section(self.git, "clientId", GIT)
        secrets_text = self.secrets.from_section(self.git, "clientSecret", GIT)
        if ids_text is None and secrets_text is None and product == "server":
            return ()
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
        found = unique([*from_env, *([single] if single else []), *listed])
        self.check_strength(found, self.source("BBRELAY_WEBHOOK_SECRET", f"{GIT}.webhookSecret(s)"))
        return found

    def check_strength(self, values: list[str], key: str) -> None:
        """Weak secrets are refused in production and warned about in development."""
        for index, value in enumerate(values):
            why = weakness(value)
            if why is None:
                continue
            if self.environment == "production":
                self.problems.add(key, f"value {index + 1} {why}")
            else:
                self.warnings.append(f"{key}: value {index + 1} {why} (refused in production)")

    def webhooks(self, product: Product) -> WebhookSettings:
        hooks: WebhookSettings = built(WebhooksSchema, self.git.get("webhooks"))
        scope: HookScope = hooks.scope
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
        return dataclasses.replace(hooks, events=self.webhook_events(list(hooks.events), product))

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

    def tls(self, values: Any, key: str) -> TLS:
        """One outgoing target's TLS block (`{verify, caCertificate}`), its CA file checked."""
        tls: TLS = built(SslSchema, values)
        ca = tls.ca_certificate
        if ca and not ca.lstrip().startswith("-----BEGIN") and not Path(ca).is_file():
            self.problems.add(f"{key}.caCertificate", f"no such file: {ca}")
        return tls

    def build_status(self) -> BuildStatusSettings:
        return cast(BuildStatusSettings, built(BuildStatusSchema, self.git.get("build_status")))

    def jobs(self, product: Product) -> tuple[JobRule, ...]:
        """Job rules, checked against each other, buildStatus.contexts and the product."""
        contexts = self.build_status().contexts
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
            if job.get("forks") and runner == "pipeline":
                self.problems.add(
                    f"{prefix}.forks",
                    "a fork's pull request cannot run Pipelines in this repository (its commit "
                    "lives in the fork); use runner: http",
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
                        forks=bool(job.get("forks")),
                    )
                )
        return tuple(rules)

    def pipeline_runner(self, job: Mapping[str, Any], prefix: str) -> PipelineRunner:
        """The rule's Pipelines settings; secured names must be variables it sends."""
        pipeline = _section(job, "pipeline")
        selector = pipeline.get("selector")
        variables = pipeline.get("variables") or {}
        sent = variables.keys() | self.pipelines_values().custom_variables.keys()
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
            tls=self.tls(http.get("tls"), f"{key}.tls"),
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
        settings = self.pipelines_values()
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

    def pipelines_values(self) -> PipelinesSettings:
        return cast(PipelinesSettings, built(PipelinesSchema, self.git.get("pipelines")))

    # --- global.auth.bitbucket and global.teams.bitbucket ---------------------------------

    def team_sync(self) -> TeamSyncSettings:
        return cast(TeamSyncSettings, built(TeamSyncSchema, self.auth.get("teamSync")))

    def teams(self) -> TeamsSettings:
        values = self.teams_values
        if values.get("role_order") == []:
            self.problems.add(f"{TEAMS}.roleOrder", "must name at least one role")
        teams = TeamsSettings(**given({**values, "sink": None}))
        role_order = teams.role_order
        for role in unique(role for role in role_order if role_order.count(role) > 1):
            self.problems.add(f"{TEAMS}.roleOrder", f"{role!r} is listed more than once")
        product = self.git.get("type") or BitbucketSettings.product
        for group, role in teams.mapping.items():
            self.check_role(role, role_order, f"{TEAMS}.mapping.{group}")
            if product == "cloud" and group.lower() == "collaborator":
                self.problems.add(
                    f"{TEAMS}.mapping.{group}",
                    "Bitbucket Cloud removed the collaborator workspace role in June 2022; "
                    "map owner, member or a group instead",
                )
        self.check_role(teams.default_role, role_order, f"{TEAMS}.defaultRole")
        return dataclasses.replace(teams, sink=self.sink(values.get("sink"), f"{TEAMS}.sink"))

    def check_role(self, role: str, role_order: tuple[str, ...], key: str) -> None:
        if role not in role_order:
            roles = ", ".join(role_order)
            self.problems.add(key, f"{role!r} is not a role in roleOrder ({roles})")

    def sink(self, sink: Mapping[str, Any] | None, key: str) -> TeamSink | None:
        if sink is None or not sink.get("url"):
            return None
        secret = self.required_secret(sink, key)
        if secret is None:
            return None
        self.require_https(sink["url"], f"{key}.url")
        tls = self.tls(sink.get("tls"), f"{key}.tls")
        return TeamSink(url=sink["url"], secret=Secret(secret), tls=tls)

    # --- sign in: global.auth.bitbucket, global.git.bitbucket.oauth, global.relay.identity ---

    def sign_in(
        self, bitbucket: BitbucketSettings, relay: RelaySettings, team_sync: TeamSyncSettings
    ) -> SignInSettings:
        """The authorization-code consumer; its id and secret fall back to global.git.bitbucket.
        Server/DC: https://confluence.atlassian.com/bitbucketserver/bitbucket-oauth-2-0-provider-api-1108483661.html
        """
        auth, oauth = self.auth, _section(self.git, "oauth")
        if auth.get("enabled") is not True:
            return SignInSettings()
        if not _section(self.relay_values, "identity"):
            self.warnings.append(
                f"{AUTH}.enabled: sign-in stays off until {RELAY}.identity (redirectUrl, audience) "
                "names the platform page that receives the signed identity"
            )
            return SignInSettings()
        product: Product = auth.get("type") or bitbucket.product
        version = oauth.get("version") or SignInSettings.version
        link = self.application_link(bitbucket) if version == "1.0a" else None
        section, prefix = (
            (auth, AUTH)
            if auth.get("clientId") or auth.get("clientIdSecret")
            else (
                self.git,
                GIT,
            )
        )
        client_id = next(
            iter(split_list(self.secrets.from_section(section, "clientId", prefix))), None
        )
        client_secret = self.secrets.from_section(section, "clientSecret", prefix)
        client_secret = next(iter(split_list(client_secret)), None)
        for name, value in (("clientId", client_id), ("clientSecret", client_secret)):
            if version == "2.0" and not value and not self.problems.about(f"{prefix}.{name}"):
                self.problems.add(f"{AUTH}.{name}", "is required when sign-in is enabled")
        base = bitbucket.url or "https://bitbucket.invalid"
        authorize_url = oauth.get("authorizeUrl") or (
            DEFAULT_AUTHORIZE_URL if product == "cloud" else f"{base}/rest/oauth2/latest/authorize"
        )
        self.require_https(oauth.get("authorizeUrl"), f"{GIT}.oauth.authorizeUrl")
        redirect_uri = oauth.get("redirectUri") or (
            f"{relay.public_url.rstrip('/')}{SIGN_IN_CALLBACK}" if relay.public_url else None
        )
        if redirect_uri is None:
            self.problems.add(
                f"{GIT}.oauth.redirectUri",
                f"is required when sign-in is enabled (or set {RELAY}.publicUrl)",
            )
        elif not redirect_uri.rstrip("/").endswith(SIGN_IN_CALLBACK):
            self.problems.add(f"{GIT}.oauth.redirectUri", f"must end with {SIGN_IN_CALLBACK}")
        if not team_sync.workspace_whitelist:
            self.problems.add(
                f"{AUTH}.teamSync.workspaceWhitelist",
                "is required when sign-in is enabled: only members of these workspaces sign in",
            )
        default_scopes = ("account", "email") if product == "cloud" else ("PUBLIC_REPOS",)
        return SignInSettings(
            enabled=True,
            product=product,
            client_id=client_id,
            client_secret=Secret(client_secret) if client_secret else None,
            scopes=tuple(auth.get("scopes") or default_scopes),
            connect_scopes=tuple(oauth.get("scopes") or ()),
            version=version,
            redirect_uri=redirect_uri,
            authorize_url=authorize_url,
            token_url=bitbucket.token_url,
            api_url=bitbucket.api_url,
            application_link=link,
        )

    def application_link(self, bitbucket: BitbucketSettings) -> ApplicationLink | None:
        """`oauth.version: "1.0a"`: consumerKey and privateKey of a Server/DC application link;
        https://developer.atlassian.com/server/jira/platform/oauth/ (the same provider)."""
        if bitbucket.product != "server":
            self.problems.add(f"{GIT}.oauth.version", '"1.0a" is for Server/DC application links')
            return None
        key = self.git.get("consumerKey")
        private_key = self.secrets.from_section(self.git, "privateKey", GIT)
        for name, value in (("consumerKey", key), ("privateKey", private_key)):
            if not value and not self.problems.about(f"{GIT}.{name}"):
                self.problems.add(f"{GIT}.{name}", 'is required with oauth.version "1.0a"')
        if not key or not private_key:
            return None
        servlet = f"{bitbucket.url}/plugins/servlet/oauth"
        return ApplicationLink(
            consumer_key=key,
            private_key=Secret(private_key),
            request_token_url=f"{servlet}/request-token",
            authorize_url=f"{servlet}/authorize",
            access_token_url=f"{servlet}/access-token",
        )

    def identity(self, required: bool) -> IdentitySettings:
        """`global.relay.identity`; the signing key may come later from the development files."""
        values = _section(self.relay_values, "identity")
        prefix = f"{RELAY}.identity"
        key = self.secrets.from_section(values, "signingKey", prefix)
        if required:
            for name in ("redirectUrl", "audience"):
                if not values.get(name):
                    self.problems.add(f"{prefix}.{name}", "is required when sign-in is enabled")
        return IdentitySettings(
            redirect_url=values.get("redirectUrl"),
            audience=values.get("audience"),
            signing_key=Secret(key) if key else None,
        )

    # --- global.relay -------------------------------------------------------------------

    def relay(self) -> RelaySettings:
        values = self.relay_values
        api_tokens = self.secrets.from_list(values.get("api_tokens"), f"{RELAY}.apiTokens")
        env_token = self.secrets.from_env("BBRELAY_API_TOKEN")  # one token, commas and all
        api_tokens += [env_token.strip()] if env_token and env_token.strip() else []
        environment: Environment = values.get("environment") or RelaySettings.environment
        self.environment = environment
        self.check_strength(
            unique(api_tokens), self.source("BBRELAY_API_TOKEN", f"{RELAY}.apiTokens")
        )
        keys = self.encryption_keys()
        values = {
            k: v for k, v in values.items() if not k.startswith("encryptionKey") and k != "identity"
        }
        relay = RelaySettings(
            **given(
                {
                    **values,
                    "api_tokens": [Secret(token) for token in unique(api_tokens)],
                    "encryption_keys": [Secret(key) for key in keys],
                    "recovery": built(RecoverySchema, values.get("recovery")),
                    "spool": built(SpoolSchema, values.get("spool")),
                }
            )
        )
        if values.get("log_format") is None and relay.environment == "development":
            relay = dataclasses.replace(relay, log_format="console")
        return relay

    def encryption_keys(self) -> list[str]:
        """`BBRELAY_ENCRYPTION_KEY`, else `encryptionKey(Secret)`: Fernet keys, the first seals."""
        key = self.source("BBRELAY_ENCRYPTION_KEY", f"{RELAY}.encryptionKey")
        text = self.secrets.from_env("BBRELAY_ENCRYPTION_KEY") or self.secrets.from_section(
            self.relay_values, "encryptionKey", RELAY
        )
        keys = split_list(text)
        for index, value in enumerate(keys):
            if not is_encryption_key(value):
                self.problems.add(
                    key,
                    f"value {index + 1} is not a Fernet key (32 url-safe base64 bytes); "
                    + HOW_TO_MAKE_A_KEY,
                )
                return []
        if len(keys) > 2:
            self.problems.add(key, f"has {len(keys)} keys; give the new one and at most one old")
        return keys
