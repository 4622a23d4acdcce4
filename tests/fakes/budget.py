"""A rolling per-consumer request budget, as Bitbucket counts it: a sliding window log."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RollingBudget:
    """At most `limit` requests per consumer in any `window` seconds; None means unlimited."""

    def __init__(self, limit: int | None, window: float = 3600.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.refused = 0

    def admit(self, consumer: str, now: float | None = None) -> bool:
        if self.limit is None:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen[consumer]
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                self.refused += 1
                return False
            seen.append(now)
            return True

    def used(self, consumer: str, now: float | None = None) -> int:
        """Requests of `consumer` in the window ending now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(1 for at in self._seen[consumer] if at > now - self.window)

    def busiest_window(self, consumer: str) -> int:
        """Requests admitted in the busiest window so far (only what is still in the log)."""
        with self._lock:
            times = list(self._seen[consumer])
        left = worst = 0
        for right, at in enumerate(times):
            while times[left] <= at - self.window:
                left += 1
            worst = max(worst, right - left + 1)
        return worst
