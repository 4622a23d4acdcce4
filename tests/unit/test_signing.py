"""Outgoing signatures: a stamped body signature and the per-job token, as golden vectors."""

from __future__ import annotations

from shared.signing import job_token, signed_headers, token_matches

# Computed with: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac sink-secret
STAMPED = "sha256=1d013bcdfc7ff7d5b19373d330069954ccf868f20e7c02abf87b2e7bc6f0666f"
# Computed with: printf 'review-1' | openssl dgst -sha256 -hmac platform-secret
REVIEW_1_TOKEN = "aa9b21f8c08295a08c5816989966476f2d95f31e6a6a03d225daec9ac11aa41a"


def test_a_body_is_signed_with_its_timestamp() -> None:
    headers = signed_headers("sink-secret", b'{"a":1}', now=1_700_000_000.7)
    assert headers == {"X-Relay-Timestamp": "1700000000", "X-Relay-Signature": STAMPED}


def test_the_same_body_at_another_time_has_another_signature() -> None:
    later = signed_headers("sink-secret", b'{"a":1}', now=1_700_000_001)
    assert later["X-Relay-Signature"] != STAMPED


def test_a_job_token_is_the_hmac_of_its_id_and_matches_only_that_job() -> None:
    assert job_token("platform-secret", "review-1") == REVIEW_1_TOKEN
    assert token_matches("platform-secret", "review-1", REVIEW_1_TOKEN)
    assert not token_matches("platform-secret", "review-2", REVIEW_1_TOKEN)
    assert not token_matches("another-secret", "review-1", REVIEW_1_TOKEN)
    assert not token_matches("platform-secret", "review-1", None)
