"""Drive a bucket as a greedy caller on a simulated clock and find its busiest rolling window."""

from __future__ import annotations

from shared.ratelimit import TokenBucket


def greedy_admissions(bucket: TokenBucket, start: float, seconds: float) -> list[float]:
    """Take every token the moment it exists; the times of the admitted calls."""
    now = start
    admitted_at: list[float] = []
    while now < start + seconds:
        decision = bucket.try_acquire("consumer-a", "api", now=now)
        if decision.admitted:
            admitted_at.append(now)
        else:
            now += decision.wait + 1e-3
    return admitted_at


def busiest_window(times: list[float], window: float) -> int:
    """The most events in any half-open window of `window` seconds."""
    left = 0
    worst = 0
    for right, at in enumerate(times):
        while times[left] <= at - window:
            left += 1
        worst = max(worst, right - left + 1)
    return worst
