"""Faults a test can inject into the fake Bitbucket: errors, dropped connections, slowness."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass
class Fault:
    kind: str  # "status", "drop" or "delay"
    path: str
    method: str | None
    remaining: int | None  # None: until cleared
    status: int = 500
    seconds: float = 0.0
    page: int | None = None

    def matches(self, method: str, path: str, page: int | None) -> bool:
        return (
            fnmatchcase(path, self.path)
            and (self.method is None or self.method == method)
            and (self.page is None or self.page == page)
        )


class Faults:
    """Thread-safe list of pending faults; the first matching one is used up."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, page: int | None) -> list[Fault]:
        """Every fault kind that applies to this request, each used once."""
        taken: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if any(t.kind == fault.kind for t in taken):
                    continue
                if not fault.matches(method, path, page):
                    continue
                taken.append(fault)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        return taken
