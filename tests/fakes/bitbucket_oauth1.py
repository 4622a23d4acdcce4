"""The fake Server/DC's OAuth 1.0a application links: request token, authorize, access token,
every step and every API call checked for an RSA-SHA1 signature by the link's public key.
https://developer.atlassian.com/server/jira/platform/oauth/ (Atlassian's shared provider)
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from authlib.oauth1.rfc5849.signature import verify_rsa_sha1
from authlib.oauth1.rfc5849.wrapper import OAuth1Request

from tests.fakes.bitbucket_oauth import consent_page, html_page

if TYPE_CHECKING:
    from tests.fakes.bitbucket_server import Answer, FakeBitbucket

PREFIX = "/plugins/servlet/oauth/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class RequestToken:
    consumer: str
    callback: str
    secret: str
    verifier: str | None = None
    user: str | None = None


class _LinkClient:
    """What Authlib's signature check asks of a client: its RSA public key."""

    def __init__(self, public_key: str) -> None:
        self.public_key = public_key

    def get_rsa_public_key(self) -> str:
        return self.public_key


class ApplicationLinks:
    def __init__(self, fake: FakeBitbucket) -> None:
        self.fake = fake
        self.links: dict[str, str] = {}  # consumer key -> public key, PEM
        self.request_tokens: dict[str, RequestToken] = {}
        self.access_tokens: dict[str, tuple[str, str]] = {}  # token -> (consumer, user)
        self.refused_signatures = 0
        self.lock = threading.Lock()

    def register(self, consumer_key: str, public_key: str) -> None:
        self.links[consumer_key] = public_key

    def verified(self, method: str, uri: str, body: bytes, headers: dict[str, str]) -> str | None:
        """The consumer key of a request correctly signed RSA-SHA1 by a registered link."""
        try:
            request = OAuth1Request(method, uri, body.decode() or None, headers)
        except ValueError:
            return None
        key = self.links.get(request.client_id or "")
        if key is None or request.signature_method != "RSA-SHA1":
            return None
        request.client = _LinkClient(key)
        if not verify_rsa_sha1(request):
            with self.lock:
                self.refused_signatures += 1
            return None
        return request.client_id

    def caller(self, uri: str, method: str, body: bytes, headers: dict[str, str]) -> str | None:
        """The user an API call acts for: a signed request with a known access token."""
        consumer = self.verified(method, uri, body, headers)
        token = OAuth1Request(method, uri, body.decode() or None, headers).token
        with self.lock:
            owner = self.access_tokens.get(token or "")
        return owner[1] if consumer and owner and owner[0] == consumer else None

    def serve(
        self, method: str, path: str, uri: str, body: bytes, headers: dict[str, str], params: dict
    ) -> Answer:
        step = path.removeprefix(PREFIX)
        if step == "authorize":
            return self._authorize(method, params)
        consumer = self.verified(method, uri, body, headers)
        if consumer is None:
            return 401, "oauth_problem=signature_invalid", FORM
        request = OAuth1Request(method, uri, body.decode() or None, headers)
        if step == "request-token":
            token = RequestToken(consumer, request.redirect_uri or "", uuid.uuid4().hex)
            name = f"req-{uuid.uuid4().hex}"
            with self.lock:
                self.request_tokens[name] = token
            answer = {"oauth_token": name, "oauth_token_secret": token.secret}
            return 200, urlencode(answer | {"oauth_callback_confirmed": "true"}), FORM
        if step == "access-token":
            with self.lock:
                found = self.request_tokens.pop(request.token or "", None)
            verifier = request.oauth_params.get("oauth_verifier")
            if found is None or found.user is None or found.verifier != verifier:
                return 401, "oauth_problem=token_rejected", FORM
            access = f"acc-{uuid.uuid4().hex}"
            with self.lock:
                self.access_tokens[access] = (consumer, found.user)
            return 200, urlencode({"oauth_token": access, "oauth_token_secret": ""}), FORM
        return 404, "no such step", FORM

    def _authorize(self, method: str, params: dict[str, str]) -> Answer:
        with self.lock:
            token = self.request_tokens.get(params.get("oauth_token", ""))
        if token is None:
            return html_page(400, "Invalid request token", "Unknown or used oauth_token.")
        user = self.fake.authorization.logged_in
        if user is None:
            return html_page(401, "Log in", "No one is logged in to the fake Bitbucket.")
        if method == "GET":
            return consent_page({"oauth_token": params["oauth_token"]}, user, token.consumer)
        verifier = "denied"
        if params.get("decision") == "allow":
            verifier = uuid.uuid4().hex
            with self.lock:
                token.verifier, token.user = verifier, user
        answer = urlencode({"oauth_token": params["oauth_token"], "oauth_verifier": verifier})
        joiner = "&" if "?" in token.callback else "?"
        return 302, "", {"Location": f"{token.callback}{joiner}{answer}"}
