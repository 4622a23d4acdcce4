"""Environment variables that override values-file keys, each checked by that key's own field.

A variable set to something invalid is reported under its own name and the file's value stays;
secret-valued variables (which may also come from `<NAME>_FILE`) are read by `SecretSource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from marshmallow import Schema, ValidationError

from shared.config.fields import Duration, Integer, Text
from shared.config.schema import GitBitbucketSchema, OAuthSchema, Problems, RelaySchema
from shared.config.secrets import SecretSource

# variable: (section, key); sections are named as in `overrides`' result.
OVERRIDES: dict[str, tuple[str, str]] = {
    "BBRELAY_BITBUCKET_TYPE": ("git", "type"),
    "BBRELAY_BITBUCKET_URL": ("git", "url"),
    "BBRELAY_API_URL": ("git", "apiUrl"),
    "BBRELAY_BITBUCKET_USERNAME": ("git", "username"),
    "BBRELAY_TOKEN_URL": ("oauth", "tokenUrl"),
    "BBRELAY_ENV": ("relay", "environment"),
    "BBRELAY_LOG_FORMAT": ("relay", "log_format"),
    "BBRELAY_LOG_LEVEL": ("relay", "log_level"),
    "BBRELAY_PUBLIC_URL": ("relay", "public_url"),
    "BBRELAY_VAR_DIR": ("relay", "var_dir"),
}
_SCHEMAS: dict[str, type[Schema]] = {
    "git": GitBitbucketSchema,
    "oauth": OAuthSchema,
    "relay": RelaySchema,
}
# Process settings no values file holds: variable -> (`RelaySettings` field, how it is read).
ONLY_IN_ENVIRONMENT: dict[str, tuple[str, Any]] = {
    "BBRELAY_RETRY_BASE_DELAY": ("retry_base_delay", Duration()),
    "BBRELAY_WORKER_METRICS_PORT": ("worker_metrics_port", Integer()),
    "BBRELAY_WORKER_METRICS_ADDRESS": ("worker_metrics_address", Text()),
    "PROMETHEUS_MULTIPROC_DIR": ("metrics_dir", Text()),  # prometheus_client reads it too
}
REDIS_URL_VARIABLES = ("BBRELAY_REDIS_URL", "REDIS_URL")  # the first set and valid wins


def overrides(
    env: Mapping[str, str], problems: Problems, secrets: SecretSource
) -> dict[str, dict[str, Any]]:
    """The valid values the environment sets, by section and key."""
    found: dict[str, dict[str, Any]] = {section: {} for section in _SCHEMAS}
    for name, (section, key) in OVERRIDES.items():
        value = checked(name, env.get(name), _SCHEMAS[section]().fields[key], problems)
        if value is not None:
            found[section][key] = value
    for name, (key, field) in ONLY_IN_ENVIRONMENT.items():
        value = checked(name, env.get(name), field, problems)
        if value is not None:
            found["relay"][key] = value
    redis_url = RelaySchema().fields["redis_url"]
    texts = (secrets.from_env(REDIS_URL_VARIABLES[0]), env.get(REDIS_URL_VARIABLES[1]))
    for name, text in zip(REDIS_URL_VARIABLES, texts, strict=True):
        value = checked(name, text, redis_url, problems)
        if value is not None:
            found["relay"]["redis_url"] = value
            break
    return found


def checked(name: str, text: str | None, field: Any, problems: Problems) -> Any:
    """`text` (from `$name`) as `field` reads it; unset → None, invalid → a problem and None."""
    if not text:
        return None
    try:
        return field.deserialize(text)
    except ValidationError as exc:
        problems.add(name, "; ".join(map(str, cast(list[str], exc.messages))))
        return None
