"""Where secret values come from: the file, `{name, key}` references, `BBRELAY_*_FILE`, dev files.

Problems name the key and the file, never the content.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from shared.config.fields import SecretRef
from shared.config.schema import Problems
from shared.private_files import PRIVATE_FILE_MODE, make_private_dir

DEFAULT_SECRETS_DIR = "/var/run/secrets/bbrelay"


def split_list(text: str | None) -> list[str]:
    """Comma- (or, from files, line-) separated items, trimmed, empty ones dropped."""
    return [item.strip() for item in (text or "").replace("\n", ",").split(",") if item.strip()]


def unique(items: Iterable[str]) -> list[str]:
    """`items` without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))


class SecretSource:
    """Resolves secret-valued keys against the secrets directory and the environment."""

    def __init__(self, env: Mapping[str, str], problems: Problems) -> None:
        self.env = env
        self.problems = problems
        self.directory = Path(env.get("BBRELAY_SECRETS_DIR") or DEFAULT_SECRETS_DIR)

    def read_file(self, file: Path, key: str) -> str | None:
        """The file's content without its trailing newline; a problem under `key` otherwise."""
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.add(key, f"secret file not found: {file}")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            self.problems.add(key, f"cannot read secret file {file}: {reason}")
            return None
        value = text.rstrip("\r\n")
        if not value:
            self.problems.add(key, f"secret file is empty: {file}")
            return None
        return value

    def resolve(self, item: str | SecretRef, key: str) -> str | None:
        """A literal secret, or the content of `<secrets dir>/<name>/<key>`."""
        if isinstance(item, SecretRef):
            return self.read_file(self.directory / item.name / item.key, key)
        return item

    def from_section(self, section: Mapping[str, Any], name: str, prefix: str) -> str | None:
        """`name`, or `<name>Secret: {name, key}`, from `section` (never both)."""
        literal, ref = section.get(name), section.get(f"{name}Secret")
        if literal is not None and ref is not None:
            self.problems.add(f"{prefix}.{name}Secret", f"give {name} or {name}Secret, not both")
            return None
        if ref is not None:
            return self.resolve(ref, f"{prefix}.{name}Secret")
        return cast(str | None, literal)

    def from_list(self, items: list[Any] | None, key: str) -> list[str]:
        """Each item resolved; nothing when the schema already faulted the list."""
        if not items or self.problems.touched(key):
            return []
        resolved = (self.resolve(item, f"{key}[{index}]") for index, item in enumerate(items))
        return [value for value in resolved if value]

    def from_env(self, name: str) -> str | None:
        """`$name`, or the content of the file `$name_FILE` names (never both)."""
        file_name = f"{name}_FILE"
        value, file = self.env.get(name), self.env.get(file_name)
        if value and file:
            self.problems.add(file_name, f"set {name} or {file_name}, not both")
            return None
        if file:
            return self.read_file(Path(file), file_name)
        return value or None


def new_secret() -> str:
    """A fresh random webhook secret for development."""
    return secrets.token_urlsafe(32)


def read_or_create_dev_secret(file: Path, make: Callable[[], str]) -> str:
    """The secret in `file`, created by `make` (mode 0600, its directory 0700) if absent; safe
    when processes start together. Raises OSError when it cannot be read or written."""
    if not file.exists():
        make_private_dir(file.parent)
        draft = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(make() + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(draft, file)  # atomic: the first process to link wins
        finally:
            draft.unlink(missing_ok=True)
    value = file.read_text(encoding="utf-8").strip()
    if not value:
        raise OSError(0, f"{file} is empty; delete it to have a new secret generated")
    return value
