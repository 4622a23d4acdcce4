"""Load the values file and the environment into frozen Settings, reporting every problem at once.

The only package that reads `os.environ`; everything else receives `Settings`. The pieces:
`settings` (the frozen dataclasses), `fields` and `schema` (marshmallow validation; a section's
`post_load` builds its dataclass), `environment` (variables that override keys), `secrets` (secret
files and references), `build` (what spans sections), `durations`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.config.build import RELAY, SettingsBuilder
from shared.config.durations import parse_duration
from shared.config.schema import Problems, validate_values
from shared.config.secrets import new_secret, read_or_create_dev_secret
from shared.config.settings import Settings
from shared.identity import new_signing_key
from shared.sealing import HOW_TO_MAKE_A_KEY, new_encryption_key
from shared.secret import Secret

__all__ = ["ConfigError", "load_settings", "parse_duration"]

DEV_SECRET_NAME = "webhook-secret"  # noqa: S105 (a file name)
DEV_ENCRYPTION_KEY_NAME = "encryption-key"
DEV_SIGNING_KEY_NAME = "identity-signing-key"


class ConfigError(Exception):
    """Raised with one message naming every bad key and why; `.problems` holds one line per key."""

    def __init__(self, problems: Iterable[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = source if source is not None else "the environment (no values file)"
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        super().__init__(f"invalid configuration in {where}:{lines}")


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from the values file (`path`, else `$BBRELAY_CONFIG`, else `./values.yaml` when
    present, else none) overridden by the environment; raises ConfigError naming every problem."""
    env = os.environ if environ is None else environ
    source = _values_path(path, env)
    raw = _read_values(source) if source is not None else {}
    values, problems = validate_values(raw)
    settings = SettingsBuilder(values, env, problems).settings(source)
    if not problems:
        settings = _with_dev_secret(settings, problems)
        settings = _with_encryption_key(settings, problems)
        settings = _with_signing_key(settings, problems)
    if problems:
        raise ConfigError(problems.lines(), source)
    return settings


def _values_path(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> str | None:
    if path is not None:
        return os.fspath(path)
    if env.get("BBRELAY_CONFIG"):
        return env["BBRELAY_CONFIG"]
    return "values.yaml" if Path("values.yaml").is_file() else None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader with YAML 1.2 booleans (so a job's `on:` key stays "on", not True),
    refusing a key given twice in one mapping (PyYAML would silently keep the last)."""


_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` keys may be overridden; that is their point
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    data: dict[Any, Any] = {}
    yield data
    data.update(loader.construct_mapping(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_values(source: str) -> dict[str, Any]:
    """The file's top-level mapping; an unreadable or malformed file fails at once."""
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(["no such file"], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"cannot read the file: {reason}"], source) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # Built from the parts, never str(exc): its snippet would show the line, secrets and all.
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError([f"{where}: {exc.problem or exc.context}"], source) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML ({type(exc).__name__})"], source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise ConfigError([f"(top level): must be a mapping of keys to values, got {kind}"], source)
    return data


def _dev_secret(
    settings: Settings, problems: Problems, name: str, what: str, make: Callable[[], str]
) -> Secret | None:
    """`<varDir>/<name>`, made once by `make`; None (and a problem) when varDir cannot keep it."""
    try:
        return Secret(read_or_create_dev_secret(Path(settings.relay.var_dir) / name, make))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problems.add(f"{RELAY}.varDir", f"cannot keep a development {what} there: {reason}")
        return None


def _with_dev_secret(settings: Settings, problems: Problems) -> Settings:
    """In development with no webhook secret, use `<varDir>/webhook-secret` (made once)."""
    if settings.bitbucket.webhook_secrets or settings.relay.environment != "development":
        return settings
    secret = _dev_secret(settings, problems, DEV_SECRET_NAME, "webhook secret", new_secret)
    if secret is None:
        return settings
    return dataclasses.replace(
        settings,
        bitbucket=dataclasses.replace(settings.bitbucket, webhook_secrets=(secret,)),
        relay=dataclasses.replace(settings.relay, generated_webhook_secret=True),
    )


def _with_encryption_key(settings: Settings, problems: Problems) -> Settings:
    """The configured encryption keys; in development `<varDir>/encryption-key` (made once);
    in production none is a problem: secrets kept in Redis must be sealed."""
    if settings.relay.encryption_keys:
        return settings
    key = f"{RELAY}.encryptionKey"
    if settings.relay.environment != "development":
        problems.add(
            key,
            "is required in production (or BBRELAY_ENCRYPTION_KEY, BBRELAY_ENCRYPTION_KEY_FILE, "
            f"encryptionKeySecret): it seals the secrets kept in Redis; {HOW_TO_MAKE_A_KEY}",
        )
        return settings
    secret = _dev_secret(
        settings, problems, DEV_ENCRYPTION_KEY_NAME, "encryption key", new_encryption_key
    )
    if secret is None:
        return settings
    relay = dataclasses.replace(settings.relay, encryption_keys=(secret,))
    return dataclasses.replace(settings, relay=relay)


def _with_signing_key(settings: Settings, problems: Problems) -> Settings:
    """With sign-in on: the configured identity signing key; in development
    `<varDir>/identity-signing-key` (an RSA key, made once); in production none is a problem."""
    if not settings.sign_in.enabled or settings.identity.signing_key:
        return settings
    key = f"{RELAY}.identity.signingKey"
    if settings.relay.environment != "development":
        problems.add(key, "is required when sign-in is enabled (an RSA private key, PEM)")
        return settings
    secret = _dev_secret(settings, problems, DEV_SIGNING_KEY_NAME, "signing key", new_signing_key)
    if secret is None:
        return settings
    identity = dataclasses.replace(settings.identity, signing_key=secret)
    return dataclasses.replace(settings, identity=identity)
