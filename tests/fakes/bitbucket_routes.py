"""The fake Bitbucket's endpoints for Cloud (2.0 and the 1.0 groups API) and Server/DC."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from shared.bitbucket.models import SERVER_LATEST_COMMIT
from tests.fakes.bitbucket_oauth import user_document
from tests.fakes.bitbucket_server import (
    Answer,
    FakeBitbucket,
    PatternRoutes,
    PipelineRun,
    View,
    error_document,
    not_found,
)

_build_numbers = itertools.count(1)
_hook_ids = itertools.count(1)


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{", "(?P<").replace("}", ">[^/]+)"))


def _repo(params: dict[str, str]) -> str:
    owner = params.get("ws") or params["project"]
    return f"{owner}/{params['repo']}".lower()


# -- commits and statuses -----------------------------------------------------------------


def resolve_commit(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    with fake.lock:
        known = fake.commits.get(_repo(params), set())
    full = [sha for sha in known if sha.startswith(params["sha"].lower())]
    if len(full) != 1:
        return not_found(fake.product, f"Commit {params['sha']} not found")
    if fake.product == "cloud":
        return 200, {"type": "commit", "hash": full[0]}, {}
    return 200, {"id": full[0], "displayId": full[0][:11]}, {}


def post_status(fake: FakeBitbucket, params: dict[str, str], _: Any, body: Any) -> Answer:
    if not isinstance(body, dict) or not body.get("key") or not body.get("state"):
        return 400, error_document(fake.product, "key and state are required"), {}
    if fake.product == "cloud" and (len(body["key"]) > 40 or not body.get("url")):
        return 400, error_document(fake.product, "key longer than 40 or url missing"), {}
    cancelled = fake.product == "server" and body["state"] == "CANCELLED"
    if cancelled and "cancelledStatus" not in fake.capabilities:
        return 400, error_document(fake.product, "CANCELLED is not supported"), {}
    with fake.lock:
        fake.posted_statuses.setdefault((_repo(params), params["sha"]), []).append(dict(body))
    if fake.product == "server":
        return 204, None, {}
    return 201, {"type": "build", **body, "commit": {"hash": params["sha"]}}, {}


def list_statuses(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    latest: dict[str, dict[str, Any]] = {}
    for status in fake.statuses(_repo(params), params["sha"]):
        latest[status["key"]] = status
    return 200, cloud_page(fake, list(latest.values()), query, "statuses"), {}


def capabilities(fake: FakeBitbucket, *_: Any) -> Answer:
    return 200, {"buildStatus": list(fake.capabilities)}, {}


# -- pipelines ----------------------------------------------------------------------------


def trigger_pipeline(fake: FakeBitbucket, params: dict[str, str], _: Any, body: Any) -> Answer:
    if not isinstance(body, dict) or "target" not in body:
        return 400, error_document(fake.product, "target is required"), {}
    run = PipelineRun(
        uuid=f"{{{uuid.uuid4()}}}",
        build_number=next(_build_numbers),
        repository=_repo(params),
        body=body,
    )
    with fake.lock:
        fake.pipelines[run.uuid] = run
    fake.run_started(run)
    return 201, run.document(), {}


def list_pipelines(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    """Runs of a repository, filtered by `target.commit.hash`, sorted by `created_on`."""
    sort = query.get("sort", "created_on")
    if sort.lstrip("-") != "created_on":
        return 400, error_document(fake.product, f"Invalid sort attribute provided {sort!r}"), {}
    commit = query.get("target.commit.hash")
    with fake.lock:
        runs = [
            run
            for run in fake.pipelines.values()
            if run.repository == _repo(params) and (commit is None or run.commit == commit)
        ]
    runs.sort(key=lambda run: (run.created_on, run.build_number), reverse=sort.startswith("-"))
    path = f"/2.0/repositories/{params['ws']}/{params['repo']}/pipelines/"
    return 200, cloud_page(fake, [run.document() for run in runs], query, path), {}


def get_pipeline(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    with fake.lock:
        run = fake.pipelines.get(params["uuid"])
        if run is None:
            return not_found(fake.product, "pipeline not found")
        run.gets += 1
        if run.state != "COMPLETED":
            run.state = "IN_PROGRESS"
            if run.gets >= fake.pipeline_gets_to_finish:
                run.state, run.result = "COMPLETED", fake.pipeline_result
        return 200, run.document(), {}


def stop_pipeline(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    with fake.lock:
        run = fake.pipelines.get(params["uuid"])
        if run is None:
            return not_found(fake.product, "pipeline not found")
        run.state, run.result = "COMPLETED", "STOPPED"
    return 204, None, {}


# -- users, members, groups ---------------------------------------------------------------


def _caller(fake: FakeBitbucket) -> str | None:
    """The user whose own (authorization-code) token the request carries, if any."""
    return getattr(fake.authorization.caller, "user", None)


def current_user(fake: FakeBitbucket, *_: Any) -> Answer:
    user = _caller(fake)
    if user is not None:
        return 200, user_document(fake, user), {}
    return (
        200,
        {"type": "user", "uuid": "{relay}", "nickname": "relay", "display_name": "Relay"},
        {},
    )


def whoami(fake: FakeBitbucket, *_: Any) -> Answer:
    return 200, _caller(fake) or "relay", {}


def user_emails(fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any) -> Answer:
    """Cloud `GET /2.0/user/emails` (the `email` scope)."""
    email = fake.authorization.emails.get(_caller(fake) or "")
    items = [{"type": "email", "email": email, "is_primary": True, "is_confirmed": True}]
    return 200, cloud_page(fake, items if email else [], query, "/2.0/user/emails"), {}


def user_workspace_permissions(
    fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any
) -> Answer:
    """Cloud `GET /2.0/user/permissions/workspaces`: the caller's memberships."""
    user = _caller(fake) or ""
    items = [
        _cloud_member(fake, ws, user, permission=True)
        for ws, directory in sorted(fake.directories.items())
        if user in directory.users
    ]
    return 200, cloud_page(fake, items, query, "/2.0/user/permissions/workspaces"), {}


def server_user(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    """DC `GET /rest/api/latest/users/{slug}`."""
    document = user_document(fake, params["slug"])
    if document is None:
        return not_found(fake.product, f"User {params['slug']} does not exist")
    return 200, document, {}


def server_user_groups(
    fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any
) -> Answer:
    """DC `GET /rest/api/latest/admin/users/more-members?context={slug}`: the user's groups."""
    directory = fake.directory()
    user = query.get("context", "")
    groups = [
        {"name": g} for g, group in sorted(directory.groups.items()) if user in group["members"]
    ]
    return 200, server_page(fake, groups, query), {}


def _cloud_member(fake: FakeBitbucket, ws: str, user_id: str, permission: bool) -> dict[str, Any]:
    directory = fake.directory(ws)
    item: dict[str, Any] = {"user": directory.users[user_id], "workspace": {"slug": ws}}
    if permission:
        item["type"] = "workspace_membership"
        item["permission"] = directory.permissions.get(user_id, "member")
    return item


def workspace_members(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    ws = params["ws"]
    ids = sorted(fake.directory(ws).users)
    items = [_cloud_member(fake, ws, i, permission=False) for i in ids]
    return 200, cloud_page(fake, items, query, f"/2.0/workspaces/{ws}/members"), {}


def workspace_permissions(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    ws = params["ws"]
    ids = sorted(fake.directory(ws).users)
    items = [_cloud_member(fake, ws, i, permission=True) for i in ids]
    return 200, cloud_page(fake, items, query, f"/2.0/workspaces/{ws}/permissions"), {}


def cloud_groups(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    if fake.groups_status:
        return fake.groups_status, error_document(fake.product, "gone"), {}
    directory = fake.directory(params["ws"])
    groups = [
        {
            "slug": slug,
            "name": group["name"],
            "permission": group.get("permission"),
            "members": [directory.users[m] for m in group["members"]],
        }
        for slug, group in sorted(directory.groups.items())
    ]
    return 200, groups, {}


def cloud_group_members(fake: FakeBitbucket, params: dict[str, str], *_: Any) -> Answer:
    if fake.groups_status:
        return fake.groups_status, error_document(fake.product, "gone"), {}
    directory = fake.directory(params["ws"])
    group = directory.groups.get(params["slug"])
    if group is None:
        return not_found(fake.product, "group not found")
    return 200, [directory.users[m] for m in group["members"]], {}


def server_groups(fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any) -> Answer:
    """DC `GET /rest/api/latest/groups`: a page of group names (plain strings)."""
    return 200, server_page(fake, sorted(fake.directory().groups), query), {}


def server_group_members(
    fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any
) -> Answer:
    directory = fake.directory()
    group = directory.groups.get(query.get("context", ""))
    if group is None:
        return not_found(fake.product, "group not found")
    return 200, server_page(fake, [directory.users[m] for m in group["members"]], query), {}


def server_users(fake: FakeBitbucket, _: dict[str, str], query: dict[str, str], __: Any) -> Answer:
    """DC `GET /rest/api/latest/users`, `?group=` for one group's members."""
    if "group" in query:
        return server_group_members(fake, _, {**query, "context": query["group"]}, __)
    directory = fake.directory()
    return 200, server_page(fake, [directory.users[i] for i in sorted(directory.users)], query), {}


def webhook_capabilities(fake: FakeBitbucket, *_: Any) -> Answer:
    return 200, {"application-webhooks": list(fake.webhook_events)}, {}


# -- repositories --------------------------------------------------------------------------


def list_repositories(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    owner = (params.get("ws") or params["project"]).lower()
    with fake.lock:
        names = sorted(n for n in fake.repositories if n.lower().split("/")[0] == owner)
        updated = {n: fake.updated_on.get(n.lower(), 0.0) for n in names}
    if fake.product == "cloud":
        since = _updated_after(query.get("q"))
        if since is not None:
            names = [n for n in names if updated[n] > since]
        if query.get("sort") == "-updated_on":
            names.sort(key=lambda n: updated[n], reverse=True)
        items = [{**fake.repository_fields(n), "updated_on": _iso(updated[n])} for n in names]
        return 200, cloud_page(fake, items, query, f"/2.0/repositories/{params['ws']}"), {}
    items = [fake.server_repository_fields(n) for n in names]
    return 200, server_page(fake, items, query), {}


_UPDATED_AFTER = re.compile(r'^\s*updated_on\s*>\s*"?([^"]+?)"?\s*$')


def _updated_after(q: str | None) -> float | None:
    """The only BBQL the fake understands: `updated_on > <ISO time>` (quoted or not)."""
    if not q:
        return None
    match = _UPDATED_AFTER.match(q)
    if match is None:
        raise ValueError(f"the fake does not understand q={q!r}")
    return datetime.fromisoformat(match.group(1)).timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def list_branches(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    repository = _repo(params)
    with fake.lock:
        heads = sorted(fake.branches.get(repository, {}).items())
    items = [
        {
            "type": "branch",
            "name": name,
            "target": {"type": "commit", "hash": sha, "date": _iso(at)},
        }
        for name, (sha, at) in heads
    ]
    path = f"/2.0/repositories/{params['ws']}/{params['repo']}/refs/branches"
    return 200, cloud_page(fake, items, query, path), {}


def server_branches(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    """DC branches: ALPHABETICAL by default, MODIFICATION (head commit newest first) when
    asked; `details=true` adds the head's commit under `metadata`."""
    with fake.lock:
        heads = sorted(fake.branches.get(_repo(params), {}).items())
    if query.get("orderBy") == "MODIFICATION":
        heads.sort(key=lambda item: item[1][1], reverse=True)
    details = query.get("details") == "true"
    items = [_server_branch(name, sha, at, details) for name, (sha, at) in heads]
    return 200, server_page(fake, items, query), {}


def _server_branch(name: str, sha: str, at: float, details: bool) -> dict[str, Any]:
    branch: dict[str, Any] = {
        "id": f"refs/heads/{name}",
        "displayId": name,
        "type": "BRANCH",
        "latestCommit": sha,
        "latestChangeset": sha,
        "isDefault": name == "main",
    }
    if details:
        person = {"name": "relay", "emailAddress": "relay@example.com"}
        branch["metadata"] = {
            SERVER_LATEST_COMMIT: {
                "id": sha,
                "displayId": sha[:11],
                "author": person,
                "authorTimestamp": int(at * 1000),
                "committer": person,
                "committerTimestamp": int(at * 1000),
                "message": "pushed",
                "parents": [],
            }
        }
    return branch


def list_pull_requests(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    """Cloud lists only OPEN pull requests unless `state` is given (the fake keeps one value of
    a repeated parameter, so any `state` lists every state)."""
    since = _updated_after(query.get("q"))
    with fake.lock:
        found = list(fake.pull_requests.get(_repo(params), ()))
    if "state" not in query:
        found = [pr for pr in found if pr["state"] == "OPEN"]
    if since is not None:
        found = [pr for pr in found if datetime.fromisoformat(pr["updated_on"]).timestamp() > since]
    path = f"/2.0/repositories/{params['ws']}/{params['repo']}/pullrequests"
    return 200, cloud_page(fake, found, {**query, "pagelen": query.get("pagelen", "10")}, path), {}


def list_server_pull_requests(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    """DC lists OPEN pull requests unless `state=ALL`; `order=NEWEST` puts the most recently
    updated first."""
    with fake.lock:
        found = list(fake.pull_requests.get(f"{params['project']}/{params['repo']}".lower(), ()))
    if query.get("state", "OPEN") != "ALL":
        found = [pr for pr in found if pr["state"] == query.get("state", "OPEN")]
    newest_first = query.get("order", "NEWEST") == "NEWEST"
    found.sort(key=lambda pr: int(pr["updatedDate"]), reverse=newest_first)
    return 200, server_page(fake, found, query), {}


# -- webhooks -----------------------------------------------------------------------------


def _scope(path_params: dict[str, str]) -> str:
    return "/".join(f"{k}={v.lower()}" for k, v in sorted(path_params.items()) if k != "uid")


def list_hooks(
    fake: FakeBitbucket, params: dict[str, str], query: dict[str, str], _: Any
) -> Answer:
    with fake.lock:
        hooks = list(fake.hooks.get(_scope(params), {}).values())
    public = [_public_hook(fake, hook) for hook in hooks]
    if fake.product == "cloud":
        return 200, cloud_page(fake, public, query, "hooks"), {}
    return 200, server_page(fake, public, query), {}


def create_hook(fake: FakeBitbucket, params: dict[str, str], _: Any, body: Any) -> Answer:
    if not isinstance(body, dict) or not body.get("url"):
        return 400, error_document(fake.product, "url is required"), {}
    hook_id = f"{{{uuid.uuid4()}}}" if fake.product == "cloud" else str(next(_hook_ids))
    hook = {**body, "uuid" if fake.product == "cloud" else "id": hook_id}
    with fake.lock:
        fake.hooks.setdefault(_scope(params), {})[hook_id] = hook
    return 201, _public_hook(fake, hook), {}


def update_hook(fake: FakeBitbucket, params: dict[str, str], _: Any, body: Any) -> Answer:
    with fake.lock:
        hooks = fake.hooks.get(_scope(params), {})
        hook = hooks.get(params["uid"])
        if hook is None:
            return not_found(fake.product, "webhook not found")
        hook.update(body if isinstance(body, dict) else {})
    return 200, _public_hook(fake, hook), {}


def _public_hook(fake: FakeBitbucket, hook: dict[str, Any]) -> dict[str, Any]:
    """Bitbucket never shows a hook's secret: Cloud says `secret_set`, DC hides the value."""
    public = {k: v for k, v in hook.items() if k != "secret"}
    if fake.product == "cloud":
        public["secret_set"] = bool(hook.get("secret"))
        public["type"] = "webhook_subscription"
        public.setdefault("skip_cert_verification", False)
    else:
        configuration = dict(hook.get("configuration") or {})
        if "secret" in configuration:
            configuration["secret"] = "********"
        public["configuration"] = configuration
    return public


# -- paging -------------------------------------------------------------------------------


def cloud_page(
    fake: FakeBitbucket, items: list[Any], query: dict[str, str], path: str
) -> dict[str, Any]:
    size = min(int(query.get("pagelen", "10")), fake.max_page)
    page = int(query.get("page", "1"))
    chunk = items[(page - 1) * size : page * size]
    document: dict[str, Any] = {
        "pagelen": size,
        "size": len(items),
        "page": page,
        "values": chunk,
    }
    if page * size < len(items) and path.startswith("/"):
        following = urlencode({**query, "pagelen": size, "page": page + 1})
        document["next"] = f"{fake.base_url}{path}?{following}"
    return document


def server_page(fake: FakeBitbucket, items: list[Any], query: dict[str, str]) -> dict[str, Any]:
    limit = min(int(query.get("limit", "25")), fake.max_page)
    start = int(query.get("start", "0"))
    chunk = items[start : start + limit]
    last = start + limit >= len(items)
    document: dict[str, Any] = {
        "size": len(chunk),
        "limit": limit,
        "start": start,
        "isLastPage": last,
        "values": chunk,
    }
    if not last:
        document["nextPageStart"] = start + limit
    return document


_CLOUD_REPO = "/2.0/repositories/{ws}/{repo}"
_SERVER_REPO = "/rest/api/latest/projects/{project}/repos/{repo}"

CLOUD: PatternRoutes = [
    ("GET", _p("/2.0/user"), current_user),
    ("GET", _p("/2.0/user/emails"), user_emails),
    ("GET", _p("/2.0/user/permissions/workspaces"), user_workspace_permissions),
    ("GET", _p(_CLOUD_REPO + "/commit/{sha}"), resolve_commit),
    ("POST", _p(_CLOUD_REPO + "/commit/{sha}/statuses/build"), post_status),
    ("GET", _p(_CLOUD_REPO + "/commit/{sha}/statuses"), list_statuses),
    ("POST", _p(_CLOUD_REPO + "/pipelines/?"), trigger_pipeline),
    ("GET", _p(_CLOUD_REPO + "/pipelines/?"), list_pipelines),
    ("GET", _p(_CLOUD_REPO + "/pipelines/{uuid}"), get_pipeline),
    ("POST", _p(_CLOUD_REPO + "/pipelines/{uuid}/stopPipeline"), stop_pipeline),
    ("GET", _p("/2.0/workspaces/{ws}/members"), workspace_members),
    ("GET", _p("/2.0/workspaces/{ws}/permissions"), workspace_permissions),
    ("GET", _p("/1.0/groups/{ws}"), cloud_groups),
    ("GET", _p("/1.0/groups/{ws}/{slug}/members"), cloud_group_members),
    ("GET", _p("/2.0/repositories/{ws}"), list_repositories),
    ("GET", _p(_CLOUD_REPO + "/refs/branches"), list_branches),
    ("GET", _p(_CLOUD_REPO + "/pullrequests"), list_pull_requests),
    ("GET", _p(_CLOUD_REPO + "/hooks"), list_hooks),
    ("POST", _p(_CLOUD_REPO + "/hooks"), create_hook),
    ("PUT", _p(_CLOUD_REPO + "/hooks/{uid}"), update_hook),
    ("GET", _p("/2.0/workspaces/{ws}/hooks"), list_hooks),
    ("POST", _p("/2.0/workspaces/{ws}/hooks"), create_hook),
    ("PUT", _p("/2.0/workspaces/{ws}/hooks/{uid}"), update_hook),
]
SERVER: PatternRoutes = [
    ("GET", _p("/plugins/servlet/applinks/whoami"), whoami),
    ("GET", _p(_SERVER_REPO + "/commits/{sha}"), resolve_commit),
    ("POST", _p(_SERVER_REPO + "/commits/{sha}/builds"), post_status),
    ("GET", _p("/rest/api/latest/build/capabilities"), capabilities),
    ("GET", _p("/rest/api/latest/groups"), server_groups),
    ("GET", _p("/rest/api/latest/users"), server_users),
    ("GET", _p("/rest/api/latest/users/{slug}"), server_user),
    ("GET", _p("/rest/api/latest/admin/users/more-members"), server_user_groups),
    ("GET", _p("/rest/webhooks/latest/capabilities"), webhook_capabilities),
    ("GET", _p("/rest/api/latest/projects/{project}/repos"), list_repositories),
    ("GET", _p(_SERVER_REPO + "/branches"), server_branches),
    ("GET", _p(_SERVER_REPO + "/pull-requests"), list_server_pull_requests),
    ("GET", _p(_SERVER_REPO + "/webhooks"), list_hooks),
    ("POST", _p(_SERVER_REPO + "/webhooks"), create_hook),
    ("PUT", _p(_SERVER_REPO + "/webhooks/{uid}"), update_hook),
    ("GET", _p("/rest/api/latest/projects/{project}/webhooks"), list_hooks),
    ("POST", _p("/rest/api/latest/projects/{project}/webhooks"), create_hook),
    ("PUT", _p("/rest/api/latest/projects/{project}/webhooks/{uid}"), update_hook),
]
ROUTES: dict[str, list[tuple[str, re.Pattern[str], View]]] = {"cloud": CLOUD, "server": SERVER}
