"""Sign in with Bitbucket: authorization code through Authlib, then a signed identity for the
platform (a 302 to its page with the JWT in the fragment), and the JWKS that verifies it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import structlog
from authlib.common.errors import AuthlibBaseError
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from flask.typing import ResponseReturnValue

from receiver.auth import token_accepted
from receiver.signed_in_user import live_groups, read_user
from shared.bitbucket.connected import Connection, ConnectionStore
from shared.config.settings import Settings
from shared.connect_link import CONNECT_PATH, ticket_accepted
from shared.identity import IdentitySigner
from shared.sealing import Sealer
from shared.teams.membership import membership
from shared.teams.store import TeamStore

log = structlog.get_logger(__name__)

bp = Blueprint("sign_in", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><p>{{ message }}</p>
<p><a href="{{ url_for('sign_in.login') }}">Sign in with Bitbucket again</a></p></body></html>
"""


def _page(status: int, title: str, message: str, reason: str) -> ResponseReturnValue:
    """A page a person can act on; nothing is stored."""
    log.warning("sign_in.refused", reason=reason, status=status)
    body = render_template_string(PAGE, title=title, message=message)
    return body, status, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


CONNECTED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bitbucket connected</title></head>
<body><h1>Bitbucket connected</h1><p>The relay now calls Bitbucket as {{ user }}
(scopes: {{ scopes }}). `bbrelay check` shows it; `bbrelay connect --revoke` disconnects.</p>
</body></html>
"""


def _sealer() -> Sealer:
    return Sealer(_settings().relay.encryption_keys)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["bbrelay.settings"]
    return settings


def _remote() -> Any:
    return current_app.extensions["bbrelay.oauth"]


def platform_next(value: str | None, redirect_url: str) -> str | None:
    """`value` when it points at the platform's own origin (absolute, or a path); else None."""
    if not value:
        return None
    target, platform = urlsplit(value), urlsplit(redirect_url)
    if not target.scheme and not target.netloc:
        return value if value.startswith("/") and not value.startswith("//") else None
    same = (target.scheme, target.netloc) == (platform.scheme, platform.netloc)
    return value if same else None


def _authorize(purpose: str, target: str | None, scopes: tuple[str, ...]) -> ResponseReturnValue:
    """To Bitbucket's consent page; the state (with `purpose`, `target`) kept for the callback."""
    settings = _settings()
    remote = _remote()
    redirect_uri = settings.sign_in.redirect_uri
    if settings.sign_in.application_link is not None:  # OAuth 1.0a: scopes live in the link
        found = remote.create_authorization_url(redirect_uri)
    else:
        found = remote.create_authorization_url(redirect_uri, scope=" ".join(scopes))
    session.permanent = True
    remote.save_authorize_data(redirect_uri=redirect_uri, next=target, purpose=purpose, **found)
    return redirect(found["url"])


@bp.get("/auth/bitbucket/login")
def login() -> ResponseReturnValue:
    settings = _settings()
    target = platform_next(request.args.get("next"), settings.identity.redirect_url or "")
    return _authorize("login", target, settings.sign_in.scopes)


@bp.get(CONNECT_PATH)
def connect() -> ResponseReturnValue:
    """Connect Bitbucket: an administrator (with `bbrelay connect`'s link or an API token)
    authorizes the relay to act as them; the tokens become the relay's own credential."""
    settings = _settings()
    header = request.headers.get("Authorization")
    if not ticket_accepted(settings, request.args.get("ticket")) and not token_accepted(
        settings, header
    ):
        return _page(
            401,
            "Connect link not valid",
            "This link is missing, expired (links last 10 minutes) or was changed. Run "
            "`bbrelay connect` on a machine with the relay's configuration for a new one.",
            "connect_unauthorized",
        )
    sign_in = settings.sign_in
    return _authorize("connect", None, sign_in.connect_scopes or sign_in.scopes)


@bp.get("/auth/bitbucket/callback")
def callback() -> ResponseReturnValue:
    remote = _remote()
    state = request.args.get("state") or request.args.get("oauth_token")  # 1.0a: the token
    if not state:
        return _page(
            400,
            "Sign-in link incomplete",
            "Bitbucket's answer carried no state. Start the sign-in again from the platform.",
            "state_missing",
        )
    if not session:
        return _page(
            400,
            "Sign-in cookie missing",
            "This browser has no sign-in cookie: cookies may be blocked, or the sign-in was "
            "started in another browser or more than 10 minutes ago. Allow cookies for this "
            "site and sign in again.",
            "no_cookie",
        )
    data = remote.framework.get_state_data(session, state)
    if data is None:
        return _page(
            400,
            "Sign-in link not valid",
            "This sign-in link was already used, has expired, or was changed. "
            "Start the sign-in again.",
            "state_invalid",
        )
    error = request.args.get("error") or _oauth1_refusal()
    if error:
        remote.framework.clear_state_data(session, state)
        if error == "access_denied":
            return _page(
                403,
                "Access not granted",
                "You declined access at Bitbucket, so you are not signed in. Sign in again "
                "and choose Grant access to continue.",
                "access_denied",
            )
        return _page(
            400,
            "Bitbucket refused the sign-in",
            f"Bitbucket answered {error!r}. Ask your administrator to check the "
            "OAuth consumer's callback URL and permissions, then sign in again.",
            "authorize_error",
        )
    try:
        token = remote.authorize_access_token()
    except AuthlibBaseError as exc:
        return _page(
            400,
            "Sign-in code not accepted",
            "Bitbucket did not accept the sign-in code: it expired, was already used, or the "
            "callback URL does not match the consumer's. Sign in again; if this persists, ask "
            "your administrator to check global.git.bitbucket.oauth.redirectUri.",
            f"token_refused:{exc.error}",
        )
    except requests.RequestException as exc:
        return _page(
            502,
            "Bitbucket unreachable",
            "Bitbucket could not be reached to finish the sign-in. Try again in a minute.",
            f"token_unreachable:{type(exc).__name__}",
        )
    if data.get("purpose") == "connect":
        return _connected(token)
    return _hand_off(token, data.get("next"))


def _oauth1_refusal() -> str | None:
    """An OAuth 1.0a provider's refusal: `oauth_problem`, or the verifier "denied" (Atlassian)."""
    problem = request.args.get("oauth_problem")
    if request.args.get("oauth_verifier") == "denied" or problem == "permission_denied":
        return "access_denied"
    return problem


def _connected(token: dict[str, Any]) -> ResponseReturnValue:
    """Store the administrator's tokens, sealed, as the relay's own Bitbucket credential."""
    settings = _settings()
    try:
        user = read_user(_remote(), token, settings)
    except requests.RequestException as exc:
        return _page(
            502,
            "Bitbucket unreachable",
            "Bitbucket could not tell who you are. Run `bbrelay connect` again in a minute.",
            f"user_unreadable:{type(exc).__name__}",
        )
    now = time.time()
    who = user.username or user.subject
    ConnectionStore(current_app.extensions["bbrelay.redis"], _sealer()).save(
        Connection.from_token(token, who, connected_at=now, now=now)
    )
    log.info("connect.stored", user=who)
    body = render_template_string(
        CONNECTED_PAGE, user=who, scopes=token.get("scopes") or token.get("scope") or ""
    )
    return body, 200, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


def _hand_off(token: dict[str, Any], target: str | None) -> ResponseReturnValue:
    settings = _settings()
    remote = _remote()
    store: TeamStore = current_app.extensions["bbrelay.teams"]
    try:
        user = read_user(remote, token, settings)
        found = membership(
            user.member_id,
            settings.team_sync.workspace_whitelist,
            settings.teams,
            store.snapshot,
            lambda: live_groups(remote, token, settings, user),
        )
    except requests.RequestException as exc:
        return _page(
            502,
            "Bitbucket unreachable",
            "Bitbucket could not tell who you are. Try signing in again in a minute.",
            f"user_unreadable:{type(exc).__name__}",
        )
    if found is None:
        return _page(
            403,
            "Not a member",
            "Your Bitbucket account is not a member of any workspace this platform admits. "
            "Ask a workspace administrator to add you, then sign in again.",
            "no_workspace",
        )
    signer: IdentitySigner = current_app.extensions["bbrelay.identity"]
    claims: dict[str, Any] = {
        "name": user.name,
        "preferred_username": user.username,
        "workspaces": list(found.workspaces),
        "role": found.role,
    }
    if user.email:
        claims["email"] = user.email
    id_token = signer.issue(user.subject, claims)
    log.info("sign_in.succeeded", user=user.subject, role=found.role, workspaces=found.workspaces)
    fragment = {"id_token": id_token} | ({"next": target} if target else {})
    response = redirect(f"{settings.identity.redirect_url}#{urlencode(fragment)}")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/.well-known/jwks.json")
def jwks() -> ResponseReturnValue:
    signer: IdentitySigner = current_app.extensions["bbrelay.identity"]
    return jsonify(signer.jwks())
