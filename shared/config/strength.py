"""Whether a webhook secret or API token is strong enough: long, not an example's placeholder."""

from __future__ import annotations

MIN_SECRET_LENGTH = 24
# The placeholder values of examples/values.yaml and DataChain Studio's example values file.
EXAMPLE_PLACEHOLDERS = frozenset(
    {
        "current-webhook-secret",
        "previous-webhook-secret",
        "an-api-token-for-studio",
        "your-webhook-secret",
    }
)


def weakness(value: str) -> str | None:
    """Why `value` is too weak to guard the relay, or None; never quotes the value."""
    if value in EXAMPLE_PLACEHOLDERS:
        return "is the example file's placeholder; generate one (openssl rand -hex 32)"
    if len(value) < MIN_SECRET_LENGTH:
        return (
            f"is {len(value)} characters; use at least {MIN_SECRET_LENGTH} (openssl rand -hex 32)"
        )
    return None
