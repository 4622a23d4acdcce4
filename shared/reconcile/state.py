"""Where the reconciler stands: baseline, the time listed up to, repositories waiting, last pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

KEY = "bbrelay:reconcile"
PASSES = "bbrelay:reconcile:passes"  # the newest reports, newest first
KEPT_PASSES = 20
PENDING = "bbrelay:reconcile:pending"  # repositories still to look at, scored by updated_on
EXAMINED = "bbrelay:reconcile:examined"  # DC: repository -> when a pass last listed its branches


@dataclass(frozen=True)
class Standing:
    baseline: float | None  # epoch seconds of the first pass; nothing older is started
    since: float | None  # repositories updated after this are still to be listed


class ReconcileState:
    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.redis = client

    def standing(self) -> Standing:
        raw = self.redis.hmget(KEY, ["baseline", "since"])
        baseline, since = (float(value) if value else None for value in raw)
        return Standing(baseline, since)

    def start(self, at: float) -> None:
        """The first pass: nothing before `at` is ever started."""
        self.redis.hset(KEY, mapping={"baseline": f"{at:.6f}", "since": f"{at:.6f}"})

    def listed_up_to(self, at: float) -> None:
        self.redis.hset(KEY, "since", f"{at:.6f}")

    def add_pending(self, repositories: dict[str, float], *, keep_older: bool = False) -> None:
        """Queue repositories by score; `keep_older` leaves a waiting one's score as it is."""
        scores: dict[str | bytes, float] = {name: at for name, at in repositories.items()}
        if scores:
            self.redis.zadd(PENDING, scores, nx=keep_older)

    def waiting_since(self, repository: str) -> float | None:
        score = self.redis.zscore(PENDING, repository)
        return None if score is None else float(score)

    def examined_at(self, repositories: list[str]) -> dict[str, float]:
        """DC: when a pass last listed each repository's branches (absent: never)."""
        if not repositories:
            return {}
        raw = self.redis.hmget(EXAMINED, repositories)
        return {name: float(at) for name, at in zip(repositories, raw, strict=True) if at}

    def examined(self, repository: str, at: float) -> None:
        self.redis.hset(EXAMINED, repository, f"{at:.6f}")

    def pending(self) -> list[str]:
        """Repositories waiting, oldest update first."""
        return [name.decode() for name in self.redis.zrange(PENDING, 0, -1)]

    def done(self, repository: str) -> None:
        self.redis.zrem(PENDING, repository)

    def save_report(self, report: dict[str, Any]) -> None:
        pipe = self.redis.pipeline()
        pipe.lpush(PASSES, json.dumps(report))
        pipe.ltrim(PASSES, 0, KEPT_PASSES - 1)
        pipe.execute()

    def reports(self) -> list[dict[str, Any]]:
        """The last passes' reports, newest first."""
        return [dict(json.loads(raw)) for raw in self.redis.lrange(PASSES, 0, -1)]

    def last_report(self) -> dict[str, Any] | None:
        newest = self.redis.lindex(PASSES, 0)
        return dict(json.loads(newest)) if newest else None
