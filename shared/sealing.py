"""Secrets kept in Redis (OAuth tokens, rotated webhook secrets, job variables) sealed with Fernet.

The relay's encryption keys (`global.relay.encryptionKey`, `BBRELAY_ENCRYPTION_KEY`) form a
MultiFernet: the first key seals, every key opens, so a new key can be put first while values
sealed under the old one are still read (https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.secret import Secret

HOW_TO_MAKE_A_KEY = (
    "make one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class SealBroken(ValueError):
    """A sealed value that none of the keys opens (sealed under a retired key, or tampered)."""


class Sealer:
    """Seals and opens strings with the relay's encryption keys (the first seals)."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        if not keys:
            raise ValueError("a Sealer needs at least one encryption key")
        self._fernet = MultiFernet([Fernet(key.reveal()) for key in keys])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def unseal(self, sealed: str | bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise SealBroken("a sealed value none of the encryption keys opens") from None


def is_encryption_key(value: str) -> bool:
    """Whether `value` is a Fernet key (32 url-safe base64-encoded bytes)."""
    try:
        Fernet(value)
    except ValueError:
        return False
    return True


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()
