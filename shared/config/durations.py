"""Durations as operators write them in values files: "30s", "15m", "1h30m", "1d", "500ms"."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
HINT = "use e.g. 30s, 15m, 1h, 1d"


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`: a plain number is seconds, else parts like "1h30m"; never negative."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"{text!r} is not a duration ({HINT})")
    if not isinstance(text, str):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text!r} is not a duration ({HINT})")
        return float(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    seconds = 0.0
    position = 0
    for part in _PART.finditer(text):
        if part.start() != position:
            break
        seconds += float(part.group(1)) * _UNITS[part.group(2).lower()]
        position = part.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"{text!r} is not a duration ({HINT})")
    return seconds
