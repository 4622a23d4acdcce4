"""X-Hub-Signature verification against Bitbucket's own signed delivery."""

from __future__ import annotations

import hashlib
import hmac

from receiver.signature import sign, verify
from shared.secret import Secret
from tests.conftest import SIGNED_DIGEST, SIGNED_SECRET, fixture_bytes

BODY = fixture_bytes("cloud/repo-push-signed.json")
SECRET = Secret(SIGNED_SECRET)


def test_accepts_bitbuckets_signed_delivery_with_its_known_digest() -> None:
    assert verify([SECRET], BODY, SIGNED_DIGEST)


def test_sign_reproduces_the_known_digest() -> None:
    assert sign(SECRET, BODY) == SIGNED_DIGEST


def test_rejects_a_body_changed_by_one_byte() -> None:
    assert not verify([SECRET], BODY + b" ", SIGNED_DIGEST)


def test_rejects_a_digest_changed_by_one_character() -> None:
    tampered = SIGNED_DIGEST[:-1] + ("0" if SIGNED_DIGEST[-1] != "0" else "1")
    assert not verify([SECRET], BODY, tampered)


def test_rejects_body_signed_with_another_secret() -> None:
    assert not verify([Secret("another")], BODY, SIGNED_DIGEST)


def test_accepts_a_signature_made_with_the_second_of_two_secrets() -> None:
    assert verify([Secret("new-secret"), SECRET], BODY, SIGNED_DIGEST)


def test_accepts_sha1_only_when_it_verifies() -> None:
    good = "sha1=" + hmac.new(SIGNED_SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert verify([SECRET], BODY, good)
    assert not verify([SECRET], BODY, "sha1=" + "0" * 40)


def test_accepts_an_uppercase_hex_digest() -> None:
    assert verify([SECRET], BODY, SIGNED_DIGEST.upper().replace("SHA256", "sha256"))


def test_rejects_missing_empty_and_malformed_headers() -> None:
    for header in (None, "", "sha256", "sha256=", "md5=" + "0" * 32, "f205c729821c6954"):
        assert not verify([SECRET], BODY, header), header


def test_rejects_a_non_hex_digest_of_the_right_length() -> None:
    assert not verify([SECRET], BODY, "sha256=" + "z" * 64)


def test_rejects_everything_when_no_secret_is_configured() -> None:
    assert not verify([], BODY, SIGNED_DIGEST)
