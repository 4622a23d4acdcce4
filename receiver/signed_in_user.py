"""Who signed in, read with their own access token through Authlib's remote app.

Cloud: `/2.0/user`, `/2.0/user/emails` (with the `email` scope) and, for workspaces team sync
has not read, `/2.0/user/permissions/workspaces`
(https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/). Server/DC: `whoami`,
`/rest/api/latest/users/{slug}` and the user's groups
(https://developer.atlassian.com/server/bitbucket/rest/v906/api-group-permission-management/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared.config.settings import Settings
from shared.teams.membership import ANY_WORKSPACE

MAX_PAGES = 10


@dataclass(frozen=True)
class SignedInUser:
    subject: str  # the JWT `sub`: Cloud account_id (uuid when absent), DC user id
    member_id: str  # the id team sync keys its snapshot by: Cloud uuid, DC user id
    name: str
    username: str
    email: str | None


def _json(remote: Any, url: str, token: Mapping[str, Any]) -> Any:
    response = remote.get(url, token=dict(token))
    response.raise_for_status()
    return response.json()


def read_user(remote: Any, token: Mapping[str, Any], settings: Settings) -> SignedInUser:
    api = settings.sign_in.api_url
    if settings.sign_in.product == "cloud":
        user = _json(remote, f"{api}/user", token)
        email = _cloud_email(remote, token, api) if "email" in settings.sign_in.scopes else None
        return SignedInUser(
            subject=str(user.get("account_id") or user["uuid"]),
            member_id=str(user["uuid"]),
            name=str(user.get("display_name") or user.get("nickname") or ""),
            username=str(user.get("nickname") or ""),
            email=email,
        )
    whoami = remote.get(f"{_server_base(settings)}/plugins/servlet/applinks/whoami", token=token)
    whoami.raise_for_status()
    slug = whoami.text.strip()
    user = _json(remote, f"{api}/api/latest/users/{quote(slug, safe='')}", token)
    return SignedInUser(
        subject=str(user["id"]),
        member_id=str(user["id"]),
        name=str(user.get("displayName") or user.get("name") or slug),
        username=str(user.get("slug") or slug),
        email=user.get("emailAddress") or None,
    )


def _server_base(settings: Settings) -> str:
    return settings.bitbucket.url or settings.sign_in.api_url.removesuffix("/rest")


def _cloud_email(remote: Any, token: Mapping[str, Any], api: str) -> str | None:
    """The primary confirmed address, when the consumer was granted `email`."""
    response = remote.get(f"{api}/user/emails", token=dict(token))
    if response.status_code in (401, 403):
        return None
    response.raise_for_status()
    for item in response.json().get("values", ()):
        if item.get("is_primary") and item.get("is_confirmed"):
            return str(item["email"])
    return None


def live_groups(
    remote: Any, token: Mapping[str, Any], settings: Settings, user: SignedInUser
) -> dict[str, Sequence[str]]:
    """The person's groups per workspace (Cloud: their workspace permission), or for the whole
    server (DC; empty when their token may not list groups, so the default role applies)."""
    api = settings.sign_in.api_url
    if settings.sign_in.product == "cloud":
        found: dict[str, Sequence[str]] = {}
        url: str | None = f"{api}/user/permissions/workspaces?pagelen=100"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page = _json(remote, url, token)
            for item in page.get("values", ()):
                found[str(item["workspace"]["slug"]).lower()] = [str(item["permission"])]
            url = page.get("next")
        return found
    context = quote(user.username, safe="")
    response = remote.get(
        f"{api}/api/latest/admin/users/more-members?context={context}&limit=1000", token=token
    )
    if response.status_code in (401, 403):
        return {ANY_WORKSPACE: []}
    response.raise_for_status()
    return {ANY_WORKSPACE: [str(group["name"]) for group in response.json().get("values", ())]}
