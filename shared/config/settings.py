"""The validated, frozen shape of the service's configuration (loaded by `shared.config`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.secret import Secret

Product = Literal["cloud", "server"]

DEFAULT_CLOUD_API_URL = "https://api.bitbucket.org/2.0"
DEFAULT_TOKEN_URL = "https://bitbucket.org/site/oauth2/access_token"  # noqa: S105 (a URL)
DEFAULT_AUTHORIZE_URL = "https://bitbucket.org/site/oauth2/authorize"
SIGN_IN_CALLBACK = "/auth/bitbucket/callback"


@dataclass(frozen=True)
class Consumer:
    """An OAuth consumer (client credentials) that Bitbucket counts requests against."""

    client_id: str
    client_secret: Secret


@dataclass(frozen=True)
class RateLimit:
    requests_per_hour: int = 1000  # assumed until Bitbucket announces the hour's limit
    burst_size: int = 50
    ceiling: int | None = None  # requestsPerHour when the operator set it: never exceeded
    reserved_for_jobs: float = 0.5  # the share of the bucket background work cannot take


@dataclass(frozen=True)
class Timeouts:
    """Seconds."""

    connect: float = 30.0
    read: float = 60.0
    write: float = 30.0


@dataclass(frozen=True)
class TLS:
    """How one outgoing target's certificate is checked; default: the system trust store."""

    verify: bool = True
    ca_certificate: str | None = None  # a PEM file's path, or PEM text; replaces the store


@dataclass(frozen=True)
class AccessLists:
    """Glob patterns; an empty allow list allows everything not blocked."""

    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookSettings:
    events: tuple[str, ...] = ()
    active: bool = True
    scope: Literal["repository", "workspace", "project"] = "repository"
    skip_cert_verification: bool = False  # Cloud sends it as is; DC as sslVerificationRequired


@dataclass(frozen=True)
class DataChangeTrigger:
    enabled: bool = False
    branch: str = "main"
    variables: dict[str, str] = field(default_factory=dict, repr=False)  # values may be secrets
    repositories: tuple[str, ...] = ()  # globs the trigger may run on; empty: the access lists
    allowed_variables: tuple[str, ...] = ()  # names a request may set


@dataclass(frozen=True)
class PipelinesSettings:
    enabled: bool = False
    data_change: DataChangeTrigger = field(default_factory=DataChangeTrigger)
    custom_variables: dict[str, str] = field(default_factory=dict, repr=False)  # may be secrets
    fallback_poll: float = 600.0  # the first look at a run whose commit-status webhook is late
    poll_interval: float = 15.0  # the look after that; later looks back off from it
    max_poll_interval: float = 3600.0  # the cap the looks back off to
    max_follow: float = 24 * 3600.0  # a run followed this long is given up (job STOPPED)
    secured_variables: tuple[str, ...] = ()  # names sent secured in every run


@dataclass(frozen=True)
class BuildStatusSettings:
    enabled: bool = True
    contexts: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    description: str = ""


@dataclass(frozen=True)
class PipelineRunner:
    selector: dict[str, str] | None = None
    variables: dict[str, str] = field(default_factory=dict, repr=False)  # values may be secrets
    secured: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpRunner:
    url: str
    secret: Secret  # signs the job body and derives the job's status token
    timeout: float = 3600.0
    tls: TLS = field(default_factory=TLS)  # the platform's, never Bitbucket's `ssl`


@dataclass(frozen=True)
class JobRule:
    """One entry of `jobs`: which events start which job (DESIGN §7)."""

    name: str
    on: tuple[str, ...]
    context: str
    runner: Literal["pipeline", "http"]
    branches: tuple[str, ...] = ("*",)
    repositories: tuple[str, ...] = ("*",)
    pipeline: PipelineRunner | None = None
    http: HttpRunner | None = None
    forks: bool = False  # pull requests from forks start this job too (untrusted code)


@dataclass(frozen=True)
class ReconcileSettings:
    """`global.git.bitbucket.reconcile`: the pass that finds pushes Bitbucket never delivered."""

    enabled: bool | None = None  # None: on when credentials exist
    interval: float = 600.0
    budget_share: float = 0.1  # of the consumer's hourly request budget


@dataclass(frozen=True)
class RepositoryPermissions:
    """`permissions`: what the relay may write, by default and per repository (`ws/repo`);
    each block maps `repository`, `pullrequest`, `pipeline` to read, write or admin."""

    default: dict[str, str] = field(default_factory=dict)
    repositories: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamSink:
    """A platform URL that receives signed JSON bodies (team diffs, inventory changes)."""

    url: str
    secret: Secret  # signs every body sent
    tls: TLS = field(default_factory=TLS)  # the sink's, never Bitbucket's `ssl`


@dataclass(frozen=True)
class InventorySettings:
    """`global.git.bitbucket.inventory`: the graph of repositories, people and pull requests."""

    enabled: bool = False
    workspaces: tuple[str, ...] = ()  # none: team sync's whitelist, else the allow lists' names
    interval: float = 21600.0
    pull_requests_since: float = 86400.0  # a pass lists pull requests updated this long back
    budget_share: float = 0.25  # of the consumer's hourly request budget, per pass
    sink: TeamSink | None = None


@dataclass(frozen=True)
class BitbucketSettings:
    """`global.git.bitbucket`: where Bitbucket is and how to talk to it."""

    product: Product = "cloud"
    enabled: bool = True
    url: str | None = None
    api_url: str = DEFAULT_CLOUD_API_URL
    token_url: str = DEFAULT_TOKEN_URL
    consumers: tuple[Consumer, ...] = ()
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    webhook_secrets: tuple[Secret, ...] = ()
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    timeout: Timeouts = field(default_factory=Timeouts)
    tls: TLS = field(default_factory=TLS)
    repositories: AccessLists = field(default_factory=AccessLists)
    workspaces: AccessLists = field(default_factory=AccessLists)
    pipelines: PipelinesSettings = field(default_factory=PipelinesSettings)
    build_status: BuildStatusSettings = field(default_factory=BuildStatusSettings)
    jobs: tuple[JobRule, ...] = ()
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    permissions: RepositoryPermissions | None = None  # absent: no write is gated
    inventory: InventorySettings = field(default_factory=InventorySettings)

    @property
    def has_credentials(self) -> bool:
        return bool(self.consumers or self.token or (self.username and self.password))

    @property
    def reconciles(self) -> bool:
        """The reconciler runs: enabled, or not configured and credentials exist."""
        enabled = self.reconcile.enabled
        return self.has_credentials if enabled is None else enabled and self.has_credentials


@dataclass(frozen=True)
class TeamSyncSettings:
    """`global.auth.bitbucket.teamSync`."""

    enabled: bool = False
    workspace_whitelist: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamsSettings:
    """`global.teams.bitbucket`."""

    mapping: dict[str, str] = field(default_factory=dict)
    default_role: str = "viewer"
    sync_interval: float = 3600.0
    role_order: tuple[str, ...] = ("admin", "member", "viewer")
    max_removal_ratio: float = 0.5
    sink: TeamSink | None = None


@dataclass(frozen=True)
class ApplicationLink:
    """A Server/DC application link with OAuth 1.0a (RSA-SHA1): the consumer key registered in
    the incoming link, the private key whose public half it holds, and DC's three endpoints."""

    consumer_key: str
    private_key: Secret  # PEM
    request_token_url: str
    authorize_url: str
    access_token_url: str


@dataclass(frozen=True)
class SignInSettings:
    """`global.auth.bitbucket` with `global.git.bitbucket.oauth`: the authorization-code consumer
    people sign in with (Cloud: a confidential client; Server/DC: with PKCE)."""

    enabled: bool = False
    product: Product = "cloud"
    client_id: str | None = None
    client_secret: Secret | None = None
    scopes: tuple[str, ...] = ()
    connect_scopes: tuple[str, ...] = ()  # global.git.bitbucket.oauth.scopes: Connect Bitbucket
    version: Literal["2.0", "1.0a"] = "2.0"
    redirect_uri: str | None = None  # ends with SIGN_IN_CALLBACK
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    api_url: str = DEFAULT_CLOUD_API_URL
    application_link: ApplicationLink | None = None  # version 1.0a


@dataclass(frozen=True)
class IdentitySettings:
    """`global.relay.identity`: where a signed-in person is handed to, with a signed JWT."""

    redirect_url: str | None = None
    audience: str | None = None
    signing_key: Secret | None = None  # an RSA private key, PEM


@dataclass(frozen=True)
class RecoverySettings:
    """`global.relay.recovery`: the deadlines after which the sweep re-drives work."""

    delivery_deadline: float = 60.0  # a delivery not processed by then is sent again
    start_deadline: float = 180.0  # a job STARTING this long is looked for, then started again
    follow_up_lease: float = 120.0  # a due follow-up not acknowledged by then is sent again
    sweep_interval: float = 5.0  # how often one worker looks for work past its deadline


@dataclass(frozen=True)
class SpoolSettings:
    """`global.relay.spool`: where verified deliveries wait while Redis is unreachable."""

    dir: str | None = None  # None: `spool/` inside `global.relay.varDir`
    max_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class RelaySettings:
    """`global.relay`: the service's own settings."""

    public_url: str | None = None
    api_tokens: tuple[Secret, ...] = ()
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)  # may hold a password
    environment: Literal["development", "production"] = "production"
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    var_dir: str = "./var"
    dedupe_window: float = 86400.0
    max_body_bytes: int = 256 * 1024
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    generated_webhook_secret: bool = False
    encryption_keys: tuple[Secret, ...] = ()  # seal secrets kept in Redis; the first seals
    rotated_secret_lifetime: float = 7 * 86400.0  # how long a rotate-secret secret is accepted
    retry_base_delay: float = 2.0  # seconds; the first back-off of a retried Bitbucket call
    worker_metrics_port: int | None = None  # a worker serves /metrics here when set
    worker_metrics_address: str = "127.0.0.1"
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR: processes' samples are merged

    @property
    def spool_dir(self) -> str:
        return self.spool.dir or os.path.join(self.var_dir, "spool")


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with, validated and frozen."""

    bitbucket: BitbucketSettings = field(default_factory=BitbucketSettings)
    team_sync: TeamSyncSettings = field(default_factory=TeamSyncSettings)
    teams: TeamsSettings = field(default_factory=TeamsSettings)
    sign_in: SignInSettings = field(default_factory=SignInSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    monitoring: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    source: str | None = None

    @property
    def dry_run(self) -> bool:
        """No Bitbucket credentials: outgoing calls are logged, not sent."""
        return not self.bitbucket.has_credentials
