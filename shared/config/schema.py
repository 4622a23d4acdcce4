"""Marshmallow schemas for the values file, and their errors as one line per dotted key.

The layout is DataChain Studio's Helm values (`global.git.bitbucket`, `global.auth.bitbucket`,
`global.teams.bitbucket`, `monitoring.bitbucket`) and the relay's own `global.relay`. Every level
refuses unknown keys, so that a typo or a key in the wrong place surfaces; Studio's keys the relay
does not use are declared like any other and ignored. A section that is one settings dataclass
declares its keys once, in snake_case (read from the file in camelCase), and its `post_load` builds
the dataclass; a key not given keeps the dataclass's default. `shared.config.build` assembles the
rest, where keys span sections, the environment or secret files.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

from shared.config.fields import (
    AnyMapping,
    Boolean,
    Choice,
    Duration,
    Integer,
    Number,
    SecretRefField,
    Text,
    TextList,
    TextMap,
    Url,
)
from shared.config.settings import (
    TLS,
    AccessLists,
    BuildStatusSettings,
    DataChangeTrigger,
    InventorySettings,
    PipelinesSettings,
    RateLimit,
    ReconcileSettings,
    RecoverySettings,
    RepositoryPermissions,
    SpoolSettings,
    TeamSyncSettings,
    Timeouts,
    WebhookSettings,
)

UNKNOWN_KEY = "unknown key"


def _nested(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    kwargs.setdefault("allow_none", True)
    return fields.Nested(schema, **kwargs)


class NestedList(fields.List[Any]):
    """A list of sections whose valid data keeps every index (a faulty item as its valid part),
    so that later checks name the right item."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise ValidationError("must be a list")
        items: list[dict[str, Any]] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                items.append(self.inner.deserialize(item, **kwargs))
            except ValidationError as exc:
                items.append(exc.valid_data if isinstance(exc.valid_data, dict) else {})
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors, valid_data=items)
        return items


def _nested_list(schema: type[Schema]) -> NestedList:
    return NestedList(fields.Nested(schema), allow_none=True)


class Section(Schema):
    """A mapping of the values file: every key must be known."""

    error_messages: dict[str, str] = {  # noqa: RUF012 (marshmallow merges, never mutates)
        "unknown": UNKNOWN_KEY,
        "type": "must be a mapping of keys to values",
    }

    builds: ClassVar[type[Any] | None] = None  # the settings dataclass post_load makes, if any

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        """A snake_case attribute is read from the file's camelCase key."""
        if field_obj.data_key is None and "_" in field_name.strip("_"):
            head, *rest = field_name.split("_")
            field_obj.data_key = head + "".join(word.title() for word in rest)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.build(data)

    def build(self, data: Mapping[str, Any]) -> Any:
        """The section's dataclass from loaded values (also from the valid part of faulty ones);
        a key the dataclass has no field for is one of Studio's, accepted and not used."""
        if self.builds is None:
            return dict(data)
        names = {field.name for field in dataclasses.fields(self.builds)}
        return self.builds(**given({key: data[key] for key in data if key in names}))


def given(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the keys given (lists as tuples); the rest keep their defaults."""
    return {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in data.items()
        if value is not None and value != []
    }


def built(schema: type[Section], value: Any) -> Any:
    """`value` as loaded for `schema`: its dataclass, even when the section was partly faulty."""
    if isinstance(value, Mapping) or value is None:
        return schema().build(value or {})
    return value


# --- global.git.bitbucket ---------------------------------------------------------------


class ConsumerSchema(Section):
    clientId = Text()  # an identifier (in logs, metric labels, keys), not a secret
    clientIdSecret = SecretRefField()
    clientSecret = Text(secret=True)
    clientSecretSecret = SecretRefField()


class OAuthSchema(Section):
    version = Choice(("2.0", "1.0a"))  # the sign-in flow; 1.0a: a DC application link
    scopes = TextList()  # what Connect Bitbucket asks for (default: the sign-in scopes)
    redirectUri = Url()  # the sign-in callback, ending /auth/bitbucket/callback
    authorizeUrl = Url()
    tokenUrl = Url()


class WebhooksSchema(Section):
    builds = WebhookSettings
    auto_setup = Boolean()  # Studio's; not used here (hooks: `bbrelay hooks install`)
    events = TextList()
    active = Boolean()
    skip_cert_verification = Boolean()
    scope = Choice(("repository", "workspace", "project"))


class RateLimitSchema(Section):
    builds = RateLimit
    requests_per_hour = Integer()
    burst_size = Integer()
    reserved_for_jobs = Number(low=0.0, high=0.9)

    def build(self, data: Mapping[str, Any]) -> Any:
        """A `requestsPerHour` the operator wrote is also the ceiling announced limits keep to."""
        limit = super().build(data)
        given_rate = data.get("requests_per_hour")
        return dataclasses.replace(limit, ceiling=given_rate) if given_rate else limit

    @validates_schema
    def _burst_below_rate(self, data: dict[str, Any], **kwargs: Any) -> None:
        limit = RateLimit(**given(data))
        if limit.burst_size >= limit.requests_per_hour:
            raise ValidationError(
                f"must be less than requestsPerHour ({limit.requests_per_hour}), "
                f"got {limit.burst_size}",
                "burstSize" if "burst_size" in data else "requestsPerHour",
            )


class TimeoutSchema(Section):
    builds = Timeouts
    connect = Duration()
    read = Duration()
    write = Duration()


class SslSchema(Section):
    builds = TLS
    verify = Boolean()
    ca_certificate = Text()


class AccessListSchema(Section):
    builds = AccessLists
    allow = TextList(data_key="allowList")
    block = TextList(data_key="blockList")


class DataChangeSchema(Section):
    builds = DataChangeTrigger
    enabled = Boolean()
    branch = Text()
    variables = TextMap(secret=True)
    repositories = TextList()
    allowed_variables = TextList()


class TriggersSchema(Section):
    data_change = _nested(DataChangeSchema)


class PipelinesSchema(Section):
    builds = PipelinesSettings
    enabled = Boolean()
    triggers = _nested(TriggersSchema)
    custom_variables = TextMap(secret=True)
    secured_variables = TextList()
    fallback_poll = Duration()
    poll_interval = Duration()
    max_poll_interval = Duration()
    max_follow = Duration()

    def build(self, data: Mapping[str, Any]) -> Any:
        """`triggers.dataChange` is the dataclass's `data_change`."""
        values = dict(data)
        change = (values.pop("triggers", None) or {}).get("data_change")
        return PipelinesSettings(data_change=built(DataChangeSchema, change), **given(values))


class BuildStatusSchema(Section):
    builds = BuildStatusSettings
    enabled = Boolean()
    contexts = TextMap()
    url = Url()
    description = Text()


class SelectorSchema(Section):
    type = Choice(("custom", "branches", "tags", "bookmarks", "pull-requests", "default"))
    pattern = Text()

    @validates_schema
    def _pattern_unless_default(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("type") is None:
            raise ValidationError("is required", "type")
        if data["type"] != "default" and not data.get("pattern"):
            raise ValidationError(f"is required for selector type {data['type']}", "pattern")


class PipelineRunnerSchema(Section):
    selector = _nested(SelectorSchema)
    variables = TextMap(secret=True)
    secured = TextList()


class HttpRunnerSchema(Section):
    url = Url(required=True)
    secret = Text(secret=True)
    secretSecret = SecretRefField()
    timeout = Duration()
    tls = _nested(SslSchema)


class JobSchema(Section):
    name = Text(required=True)
    on = TextList(required=True, empty="must name at least one event key or alias")
    branches = TextList()
    repositories = TextList()
    context = Text(required=True)
    runner = Choice(("pipeline", "http"), required=True)
    forks = Boolean()
    pipeline = _nested(PipelineRunnerSchema)
    http = _nested(HttpRunnerSchema)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _runner_section(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        runner = data.get("runner")
        if runner is None or not isinstance(original, Mapping):
            return
        errors: dict[str, list[str]] = {}
        if runner == "http" and original.get("http") is None:
            errors["http"] = ["is required for runner: http (at least url)"]
        other = "pipeline" if runner == "http" else "http"
        if original.get(other) is not None:
            errors[other] = [f"is only used with runner: {other}"]
        if errors:
            raise ValidationError(errors)


class ReconcileSchema(Section):
    builds = ReconcileSettings
    enabled = Boolean()
    interval = Duration()
    budget_share = Number(low=0.0, high=1.0)


PERMISSION_LEVELS = ("read", "write", "admin")


class PermissionBlockSchema(Section):
    repository = Choice(PERMISSION_LEVELS)  # build statuses, hooks
    pullrequest = Choice(PERMISSION_LEVELS)
    pipeline = Choice(PERMISSION_LEVELS)  # pipeline triggers
    issues = Choice(PERMISSION_LEVELS)  # Studio's; the relay writes no issues


class PermissionsSchema(Section):
    builds = RepositoryPermissions
    default = _nested(PermissionBlockSchema)
    repositories = fields.Dict(keys=Text(), values=fields.Nested(PermissionBlockSchema))


class SinkSchema(Section):
    url = Url(required=True)
    secret = Text(secret=True)
    secretSecret = SecretRefField()
    tls = _nested(SslSchema)


class InventorySchema(Section):
    builds = InventorySettings
    enabled = Boolean()
    workspaces = TextList()
    interval = Duration()
    pull_requests_since = Duration()
    budget_share = Number(low=0.0, high=1.0)
    sink = _nested(SinkSchema)


class GitBitbucketSchema(Section):
    enabled = Boolean()
    type = Choice(("cloud", "server"))
    url = Url()
    apiUrl = Url()
    clientId = Text()  # an identifier (in logs, metric labels, keys), not a secret
    clientIdSecret = SecretRefField()
    clientSecret = Text(secret=True)
    clientSecretSecret = SecretRefField()
    consumers = _nested_list(ConsumerSchema)
    token = Text(secret=True)
    tokenSecret = SecretRefField()
    username = Text()
    password = Text(secret=True)
    passwordSecret = SecretRefField()
    webhookSecret = Text(secret=True)
    webhookSecretSecret = SecretRefField()
    webhookSecrets = TextList(refs=True, secret=True)
    oauth = _nested(OAuthSchema)
    consumerKey = Text()  # OAuth 1.0a application link (Server/DC); an identifier
    consumerSecret = Text(secret=True)  # Studio's; RSA-SHA1 signs with privateKey instead
    consumerSecretSecret = SecretRefField()
    privateKey = Text(secret=True)  # PEM, for RSA-SHA1
    privateKeySecret = SecretRefField()
    webhooks = _nested(WebhooksSchema)
    rate_limit = _nested(RateLimitSchema)
    timeout = _nested(TimeoutSchema)
    ssl = _nested(SslSchema)
    repositories = _nested(AccessListSchema)
    workspaces = _nested(AccessListSchema)
    permissions = _nested(PermissionsSchema)  # gates every write (shared/permissions.py)
    pipelines = _nested(PipelinesSchema)
    build_status = _nested(BuildStatusSchema)
    jobs = _nested_list(JobSchema)
    reconcile = _nested(ReconcileSchema)
    inventory = _nested(InventorySchema)


# --- global.auth.bitbucket, global.teams.bitbucket, global.relay ----------------------------


class TeamSyncSchema(Section):
    builds = TeamSyncSettings
    enabled = Boolean()
    workspace_whitelist = TextList()


class AuthBitbucketSchema(Section):
    enabled = Boolean()
    type = Choice(("cloud", "server"))
    url = Url()
    clientId = Text()  # an identifier (in logs, metric labels, keys), not a secret
    clientIdSecret = SecretRefField()
    clientSecret = Text(secret=True)
    clientSecretSecret = SecretRefField()
    scopes = TextList()
    teamSync = _nested(TeamSyncSchema)


class TeamsBitbucketSchema(Section):
    mapping = TextMap()
    default_role = Text()
    sync_interval = Duration()
    role_order = TextList()
    max_removal_ratio = Number(low=0.0, high=1.0)
    sink = _nested(SinkSchema)


class RecoverySchema(Section):
    builds = RecoverySettings
    delivery_deadline = Duration()
    start_deadline = Duration()
    follow_up_lease = Duration()
    sweep_interval = Duration()


class SpoolSchema(Section):
    builds = SpoolSettings
    dir = Text()
    max_bytes = Integer()


class IdentitySchema(Section):
    redirectUrl = Url()
    audience = Text()
    signingKey = Text(secret=True)  # an RSA private key, PEM
    signingKeySecret = SecretRefField()


class RelaySchema(Section):
    public_url = Url()
    api_tokens = TextList(refs=True, secret=True)
    redis_url = Url(schemes=("redis", "rediss", "unix"), secret=True)
    environment = Choice(("development", "production"))
    log_format = Choice(("json", "console"))
    log_level = Choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    var_dir = Text()
    dedupe_window = Duration()
    max_body_bytes = Integer()
    recovery = _nested(RecoverySchema)
    encryptionKey = Text(secret=True)  # Fernet keys, comma-separated: the first seals
    encryptionKeySecret = SecretRefField()
    rotated_secret_lifetime = Duration()
    spool = _nested(SpoolSchema)
    identity = _nested(IdentitySchema)


# --- the structure around them (Studio's layout) -------------------------------------------


class GitSchema(Section):
    bitbucket = _nested(GitBitbucketSchema)


class AuthSchema(Section):
    bitbucket = _nested(AuthBitbucketSchema)


class TeamsSchema(Section):
    bitbucket = _nested(TeamsBitbucketSchema)


class GlobalSchema(Section):
    git = _nested(GitSchema)
    auth = _nested(AuthSchema)
    teams = _nested(TeamsSchema)
    relay = _nested(RelaySchema)


class MonitoringSchema(Section):
    bitbucket = AnyMapping()  # dashboards and alerts belong to the platform; kept as given


class ValuesSchema(Section):
    global_ = _nested(GlobalSchema, data_key="global")
    monitoring = _nested(MonitoringSchema)


def validate_values(raw: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """The loaded values (what was valid, even when something was not) and the problems found."""
    schema = ValuesSchema()
    try:
        return schema.load(raw), Problems()
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return valid, Problems(flatten_errors(messages, schema))


class Problems:
    """Problems as (key, message), in the order found; one line each in the final message.

    Later checks stay quiet about keys the schema already faulted, so a bad value is reported
    once, as what it is, not again as a consequence.
    """

    def __init__(self, found: list[tuple[str, str]] | None = None) -> None:
        self._items = list(found or ())
        self._schema_keys = {key for key, _ in self._items}

    def add(self, key: str, message: str) -> None:
        if key not in self._schema_keys:
            self._items.append((key, message))

    def about(self, key: str) -> bool:
        """Whether a problem was recorded for `key`, its `<key>Secret` or its `<KEY>_FILE`."""
        return any(found in (key, key + "Secret", key + "_FILE") for found, _ in self._items)

    def touched(self, prefix: str) -> bool:
        """Whether the schema faulted `prefix` or anything under it."""
        return any(
            key == prefix or key.startswith((prefix + ".", prefix + "["))
            for key in self._schema_keys
        )

    def lines(self) -> list[str]:
        """One "key: why" line per problem, grouped by key."""
        return [f"{key}: {message}" for key, message in sorted(self._items, key=lambda p: p[0])]

    def __bool__(self) -> bool:
        return bool(self._items)


def flatten_errors(
    messages: Mapping[Any, Any], schema: Schema | None, prefix: str = ""
) -> list[tuple[str, str]]:
    """Marshmallow's nested messages as (dotted key, message) pairs, suggesting known keys."""
    problems: list[tuple[str, str]] = []
    for key, value in messages.items():
        path = _join(prefix, key)
        if isinstance(value, Mapping):
            child = schema if isinstance(key, int) else _child_schema(schema, str(key))
            problems.extend(flatten_errors(value, child, path))
            continue
        for message in value if isinstance(value, list) else [value]:
            if isinstance(message, Mapping):
                problems.extend(flatten_errors(message, schema, path))
            elif message == UNKNOWN_KEY:
                problems.append((path, UNKNOWN_KEY + _suggestion(schema, str(key))))
            else:
                problems.append((path, str(message)))
    return problems


def _join(prefix: str, key: Any) -> str:
    if key == "_schema":
        return prefix or "(top level)"
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def _keys(schema: Schema) -> dict[str, fields.Field[Any]]:
    return {field.data_key or name: field for name, field in schema.fields.items()}


def _child_schema(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    field: Any = _keys(schema).get(key)
    while isinstance(field, fields.List):
        field = field.inner
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        return field.schema
    return None


def _suggestion(schema: Schema | None, key: str) -> str:
    """A known key of the same mapping spelt alike, else the one place the key belongs."""
    if schema is None:
        return ""
    known = list(_keys(schema))
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not close:
        lowered = {name.lower(): name for name in known}
        close = [lowered[key.lower()]] if key.lower() in lowered else []
    if not close:
        places = [path for path in _key_paths(ValuesSchema()) if path.rpartition(".")[2] == key]
        close = places if len(places) == 1 else []
    return f" (did you mean {close[0]}?)" if close else ""


def _key_paths(schema: Schema, prefix: str = "") -> list[str]:
    """Every dotted key of `schema` and of the mappings nested in it (not inside lists)."""
    paths = []
    for key, field in _keys(schema).items():
        path = _join(prefix, key)
        paths.append(path)
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            paths.extend(_key_paths(field.schema, path))
    return paths
