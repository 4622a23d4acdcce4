"""The fake Bitbucket's authorization-code side: consent page, single-use codes, user tokens.

Cloud: `/site/oauth2/authorize` and the consumer's callback, confidential client with `state`
(https://developer.atlassian.com/cloud/bitbucket/oauth-2/). Server/DC:
`/rest/oauth2/latest/authorize` and `/token` with PKCE S256
(https://confluence.atlassian.com/bitbucketserver/bitbucket-oauth-2-0-provider-api-1108483661.html).
"""

from __future__ import annotations

import base64
import hashlib
import html
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tests.fakes.bitbucket_server import Answer, FakeBitbucket

CLOUD_AUTHORIZE = "/site/oauth2/authorize"
SERVER_AUTHORIZE = "/rest/oauth2/latest/authorize"
SERVER_TOKEN = "/rest/oauth2/latest/token"


@dataclass
class Client:
    secret: str
    callback: str  # the registered callback; a redirect_uri must start with it


@dataclass
class Grant:
    client_id: str
    user: str
    redirect_uri: str | None
    challenge: str | None
    expires_at: float
    used: bool = False


class AuthorizationServer:
    """Who is logged in at the fake's web UI, the consumers registered, codes and tokens."""

    def __init__(self, fake: FakeBitbucket) -> None:
        self.fake = fake
        self.clients: dict[str, Client] = {}
        self.logged_in: str | None = None  # a user key: Cloud uuid, DC slug
        self.emails: dict[str, str] = {}  # user key -> primary confirmed address
        self.code_lifetime = 60.0
        self.grants: dict[str, Grant] = {}
        self.user_tokens: dict[str, str] = {}  # access token -> user key
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # refresh -> (client id, user)
        self.caller = threading.local()  # the user whose token the current request carries

    def register(self, client_id: str, secret: str, callback: str) -> None:
        self.clients[client_id] = Client(secret, callback)

    def grants_issued(self) -> int:
        with self.fake.lock:
            return len(self.grants)

    # -- the browser side ------------------------------------------------------------------

    def authorize(self, method: str, query: dict[str, str], form: dict[str, str]) -> Answer:
        """GET: the consent page. POST (its form): a redirect with a code, or access_denied."""
        params = query if method == "GET" else form
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return html_page(400, "Invalid client", "This OAuth consumer does not exist.")
        redirect_uri = params.get("redirect_uri") or client.callback
        if not redirect_uri.startswith(client.callback):
            return html_page(400, "Invalid redirect_uri", "The redirect URI is not the consumer's.")
        pkce = self.fake.product == "server"
        if pkce and params.get("code_challenge_method") != "S256":
            return html_page(400, "PKCE required", "code_challenge with method S256 is required.")
        if self.logged_in is None:
            return html_page(401, "Log in", "No one is logged in to the fake Bitbucket.")
        if method == "GET":
            return consent_page(params, self.logged_in, params.get("client_id", ""))
        answer = {"state": params.get("state", "")}
        if form.get("decision") != "allow":
            answer["error"] = "access_denied"
        else:
            code = uuid.uuid4().hex
            with self.fake.lock:
                self.grants[code] = Grant(
                    client_id=params["client_id"],
                    user=self.logged_in,
                    redirect_uri=params.get("redirect_uri"),
                    challenge=params.get("code_challenge") if pkce else None,
                    expires_at=time.time() + self.code_lifetime,
                )
            answer["code"] = code
        joiner = "&" if "?" in redirect_uri else "?"
        return 302, "", {"Location": f"{redirect_uri}{joiner}{urlencode(answer)}"}

    # -- the token endpoint ---------------------------------------------------------------

    def token(self, client_id: str, secret: str, form: dict[str, str]) -> Answer:
        client = self.clients.get(client_id)
        if client is None or client.secret != secret:
            return 401, {"error": "invalid_client"}, {}
        if form.get("grant_type") == "refresh_token":
            return self._refresh(client_id, form)
        with self.fake.lock:
            grant = self.grants.get(form.get("code", ""))
            problem = self._refused(grant, client_id, form)
            if grant is None or problem:
                return 400, {"error": "invalid_grant", "error_description": problem}, {}
            grant.used = True
        return self._issue(client_id, grant.user)

    def _refused(self, grant: Grant | None, client_id: str, form: dict[str, str]) -> str:
        if grant is None or grant.client_id != client_id:
            return "unknown code"
        if grant.used:
            return "code already used"
        if grant.expires_at < time.time():
            return "code expired"
        if grant.redirect_uri is not None and form.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri does not match the authorization request"
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "").encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if digest.decode() != grant.challenge:
                return "code_verifier does not match code_challenge"
        return ""

    def _refresh(self, client_id: str, form: dict[str, str]) -> Answer:
        with self.fake.lock:
            owner = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if owner is None or owner[0] != client_id:
            return 400, {"error": "invalid_grant", "error_description": "unknown refresh"}, {}
        return self._issue(client_id, owner[1])

    def _issue(self, client_id: str, user: str) -> Answer:
        access, refresh = f"utok-{uuid.uuid4().hex}", f"rtok-{uuid.uuid4().hex}"
        lifetime = self.fake.token_lifetime
        with self.fake.lock:
            self.fake.issued[access] = (client_id, time.time() + lifetime)
            self.user_tokens[access] = user
            self.refresh_tokens[refresh] = (client_id, user)
            scopes = self.fake.scopes.get(client_id, "")
        answer = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(lifetime),
            "refresh_token": refresh,
            "scopes": scopes,
        }
        return 200, answer, {}

    def user_of(self, authorization: str | None) -> str | None:
        token = (authorization or "").removeprefix("Bearer ")
        with self.fake.lock:
            return self.user_tokens.get(token)


def html_page(status: int, title: str, message: str) -> Answer:
    body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
    return status, body, {"Content-Type": "text/html; charset=utf-8"}


def consent_page(params: dict[str, str], user: str, client: str) -> Answer:
    """The consent form: `params` go back with the decision (Grant access or Cancel)."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    body = f"""<!doctype html><title>Authorize access</title>
<h1>Fake Bitbucket: authorize {html.escape(client)}?</h1>
<p>Logged in as {html.escape(user)}.</p>
<form method="post">{hidden}
<button id="grant" name="decision" value="allow">Grant access</button>
<button id="deny" name="decision" value="deny">Cancel</button></form>"""
    return 200, body, {"Content-Type": "text/html; charset=utf-8"}


def user_document(fake: FakeBitbucket, key: str) -> dict[str, Any] | None:
    """The user's document from any directory of the fake."""
    with fake.lock:
        for directory in fake.directories.values():
            if key in directory.users:
                return dict(directory.users[key])
    return None
