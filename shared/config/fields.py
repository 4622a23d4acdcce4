"""Marshmallow fields for values-file settings, with messages that never echo a secret."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, types

from shared.config.durations import parse_duration

_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


class SecretRef(NamedTuple):
    """A Kubernetes-style reference: the file `<secrets dir>/<name>/<key>`."""

    name: str
    key: str


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class BaseField(fields.Field[Any]):
    """Base field: None means "not given"; `secret=True` keeps the value out of messages."""

    # marshmallow merges these class-level dicts along the MRO; they are never mutated.
    default_error_messages: types.ErrorMessages = {  # noqa: RUF012
        "required": "is required",
        "null": "must have a value",
    }

    def __init__(self, *, secret: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(**kwargs)
        self.secret = secret

    def fail(self, message: str, value: Any) -> ValidationError:
        """An error saying what was expected and, unless secret, what was given."""
        got = "" if self.secret else f", got {_describe(value)}"
        return ValidationError(message + got)


class Text(BaseField):
    """A string; an empty string counts as not given (Helm's way of unsetting a value)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.fail("must be a string", value)
        if value == "":
            if self.required:
                raise ValidationError("must not be empty")
            return None
        return value


class Url(Text):
    """A URL with one of `schemes` and, except for unix sockets, a host."""

    def __init__(self, *, schemes: tuple[str, ...] = ("http", "https"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schemes = schemes

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in self.schemes or (parts.scheme != "unix" and not parts.netloc):
            wanted = " or ".join(f"{scheme}://" for scheme in self.schemes)
            raise self.fail(f"must be a {wanted} URL", value)
        return text


class Choice(Text):
    """One of a few words, compared case-insensitively."""

    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        for choice in self.choices:
            if text.lower() == choice.lower():
                return choice
        raise ValidationError(f"must be one of: {', '.join(self.choices)} (got {text!r})")


class Integer(BaseField):
    """An integer (a quoted one too), at least `minimum`."""

    def __init__(self, *, minimum: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail("must be an integer", value)
        if value < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}, got {value}")
        return value


class Number(BaseField):
    """A number between `low` and `high` inclusive."""

    def __init__(self, *, low: float, high: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise self.fail("must be a number", value) from None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise self.fail("must be a number", value)
        if not self.low <= number <= self.high:
            raise ValidationError(f"must be between {self.low:g} and {self.high:g}, got {number}")
        return float(number)


class Boolean(BaseField):
    """true or false (YAML's yes/no/on/off too, also when quoted)."""

    _WORDS: ClassVar[dict[str, bool]] = {
        "true": True,
        "yes": True,
        "on": True,
        "false": False,
        "no": False,
        "off": False,
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in self._WORDS:
            return self._WORDS[value.lower()]
        raise self.fail("must be true or false", value)


class Duration(BaseField):
    """A positive duration in seconds: 30s, 15m, 1h, 1d, 500ms, 1h30m or a number of seconds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if seconds <= 0:
            raise ValidationError("must be longer than 0 seconds")
        return seconds


def _secret_ref(value: Any) -> SecretRef:
    """`{name, key}` naming a file under the secrets directory; no paths, nothing else."""
    usage = "must be {name: <secret name>, key: <key in it>}"
    if not isinstance(value, Mapping) or set(value) != {"name", "key"}:
        raise ValidationError(usage)
    name, key = value["name"], value["key"]
    for part in (name, key):
        if not isinstance(part, str) or not _SAFE_NAME.fullmatch(part) or part in {".", ".."}:
            raise ValidationError(f"{usage}, each a plain name (letters, digits, . _ -)")
    return SecretRef(name, key)


class SecretRefField(BaseField):
    """`<key>Secret: {name, key}`: the value lives in a file under the secrets directory."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _secret_ref(value)


class TextList(BaseField):
    """A list of non-empty strings; with `refs=True` an item may be a `{name, key}` reference."""

    def __init__(self, *, refs: bool = False, empty: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refs = refs
        self.empty = empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise self.fail("must be a list", value)
        if not value and self.empty:
            raise ValidationError(self.empty)
        items: list[str | SecretRef] = []
        errors: dict[int, list[str]] = {}
        for index, item in enumerate(value):
            try:
                items.append(self._item(item))
            except ValidationError as exc:
                errors[index] = [str(message) for message in _messages(exc)]
        if errors:
            raise ValidationError(errors)
        return items

    def _item(self, item: Any) -> str | SecretRef:
        if self.refs and isinstance(item, Mapping):
            return _secret_ref(item)
        if isinstance(item, str) and item:
            return item
        expected = "a non-empty string" + (" or {name, key}" if self.refs else "")
        raise self.fail(f"must be {expected}", item)


class TextMap(BaseField):
    """Names to strings; numbers and booleans are written as YAML would print them."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail("must be a mapping of names to strings", value)
        result: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, int | float):
                item = str(item)
            if not isinstance(key, str) or not isinstance(item, str):
                errors[str(key)] = [str(self.fail("must be a string", item))]
            else:
                result[key] = item
        if errors:
            raise ValidationError(errors)
        return result


class AnyMapping(BaseField):
    """Accepted as it is (keys from the Studio guide that the relay does not act on)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail("must be a mapping", value)
        return dict(value)


def _messages(exc: ValidationError) -> list[Any]:
    messages = exc.messages
    return messages if isinstance(messages, list) else [messages]
