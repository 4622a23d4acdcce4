"""The link `bbrelay connect` prints: `/auth/bitbucket/connect` with a short-lived ticket signed
with the relay's API tokens, so only someone holding one can start Connect Bitbucket."""

from __future__ import annotations

from itsdangerous import BadData, URLSafeTimedSerializer

from shared.config.settings import SIGN_IN_CALLBACK, Settings

TICKET_LIFETIME = 600  # seconds
CONNECT_PATH = "/auth/bitbucket/connect"
_SALT = "bbrelay connect bitbucket"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    keys = [token.reveal() for token in settings.relay.api_tokens]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def public_base(settings: Settings) -> str:
    callback = settings.sign_in.redirect_uri or ""
    return (settings.relay.public_url or callback.removesuffix(SIGN_IN_CALLBACK)).rstrip("/")


def connect_link(settings: Settings) -> str:
    """A link an administrator opens in a browser within TICKET_LIFETIME seconds."""
    ticket = _serializer(settings).dumps("connect")
    return f"{public_base(settings)}{CONNECT_PATH}?ticket={ticket}"


def ticket_accepted(settings: Settings, ticket: str | None) -> bool:
    if not ticket or not settings.relay.api_tokens:
        return False
    try:
        return bool(_serializer(settings).loads(ticket, max_age=TICKET_LIFETIME) == "connect")
    except BadData:
        return False
