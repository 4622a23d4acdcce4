"""BitbucketClient: verbs named after the API, for Cloud and Server/DC alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from shared.bitbucket import metrics, paths
from shared.bitbucket.errors import BitbucketRejected, ForbiddenHost
from shared.bitbucket.models import (
    Branch,
    BuildStatus,
    Group,
    Pipeline,
    UpdatedRepository,
    User,
    Webhook,
    WebhookSpec,
)
from shared.bitbucket.transport import origin
from shared.config.settings import Product

CLOUD_PAGE_SIZE = 100
CLOUD_PULL_REQUEST_PAGE_SIZE = 50  # Cloud's largest page of pull requests
# A repository listing's fields: what the reconciler compares and what the inventory keeps.
REPOSITORY_FIELDS = (
    "next,values.full_name,values.updated_on,values.uuid,values.name,values.is_private,"
    "values.project.uuid,values.project.key,values.project.name"
)
# Pull requests with their people in the page: no call per pull request.
PULL_REQUEST_FIELDS = (
    "next,values.id,values.title,values.state,values.author,values.reviewers,"
    "values.participants,values.source,values.destination,values.created_on,"
    "values.updated_on,values.comment_count,values.task_count"
)
PULL_REQUEST_STATES = ("OPEN", "MERGED", "DECLINED", "SUPERSEDED")
SERVER_PAGE_SIZE = 1000
# A reconcile pass stops at the first branch older than its last look: small pages, most
# repositories answer in one.
SERVER_BRANCH_PAGE_SIZE = 25
MAX_PAGES = 1000
# DC team reads outside /admin, which refuses HTTP access tokens (BSERV-10482).
SERVER_GROUPS_PATH = "/api/latest/groups"
SERVER_USERS_PATH = "/api/latest/users"

# The variable every relay-triggered run carries (not secured, so it reads back): the job's id.
JOB_ID_VARIABLE = "BBRELAY_JOB_ID"
# Looking for a job's run reads at most this many of the commit's newest runs, and none that
# Bitbucket stamped more than CLOCK_SKEW seconds before the job was created.
FIND_PAGE_SIZE = 50
FIND_MAX_PAGES = 2
CLOCK_SKEW = 300.0


class Sends(Protocol):
    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response: ...


class NotSupported(Exception):
    """A verb the configured Bitbucket product does not have (Pipelines on DC)."""


class BitbucketClient:
    """Typed calls to one Bitbucket; `sender` takes bucket tokens and maps errors."""

    def __init__(
        self,
        product: Product,
        api_url: str,
        sender: Sends,
        *,
        max_pages: int = MAX_PAGES,
        base_url: str | None = None,
    ) -> None:
        self.product: Product = product
        self.api_url = api_url.rstrip("/")
        # DC's own address (`url`), for the servlets outside /rest; else the API's, less /rest.
        self.base_url = (base_url or self.api_url.split("/rest", 1)[0]).rstrip("/")
        self.sender = sender
        self.max_pages = max_pages
        self._api_origin = origin(self.api_url)

    # -- account ---------------------------------------------------------------------------

    def current_user(self) -> User:
        if self.product == "cloud":
            return User.from_cloud(self._get_json("/user", "user"))
        whoami = f"{self.base_url}/plugins/servlet/applinks/whoami"
        response = self.sender.send("GET", whoami, "user")
        name = response.text.strip()
        return User(id=name, name=name, display_name=name)

    # -- commits and build statuses -----------------------------------------------------------

    def resolve_commit(self, repository: str, sha: str) -> str:
        """The full 40-hex hash of a (possibly short) commit hash."""
        data = self._get_json(paths.commit(self.product, repository, sha), "commits")
        return str(data.get("hash") or data.get("id") or sha)

    def post_build_status(self, repository: str, sha: str, status: BuildStatus) -> None:
        """Create or update the status `status.key` on a commit."""
        if self.product == "cloud":
            path = f"{paths.commit('cloud', repository, sha)}/statuses/build"
            self._send("POST", path, "statuses", json=status.cloud_body())
        else:
            path = f"{paths.commit('server', repository, sha)}/builds"
            self._send("POST", path, "statuses", json=status.server_body())
        metrics.STATUSES_POSTED.labels(status.state).inc()

    def build_capabilities(self) -> frozenset[str]:
        """The DC server's CI capability names, e.g. `richBuildStatus`, `cancelledStatus`.

        `GET /rest/api/latest/build/capabilities` answers `{"buildStatus": [names]}` (as
        Atlassian's Jenkins plugin reads it, BitbucketCICapabilities); Cloud has none to ask.
        """
        if self.product == "cloud":
            return frozenset()
        data = self._get_json("/api/latest/build/capabilities", "statuses")
        return frozenset(str(name) for name in data.get("buildStatus") or ())

    # -- pipelines (Cloud only) ------------------------------------------------------------

    def trigger_pipeline(
        self, repository: str, target: Mapping[str, Any], variables: list[dict[str, Any]]
    ) -> Pipeline:
        """Start a Pipelines run; `target` is a pipeline_ref_target or pipeline_commit_target.

        https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pipelines/#api-repositories-workspace-repo-slug-pipelines-post
        """
        path = f"{self._pipelines(repository)}/"
        body = {"target": dict(target), "variables": variables}
        return Pipeline.from_cloud(self._send("POST", path, "pipelines", json=body).json())

    def get_pipeline(self, repository: str, uuid: str) -> Pipeline:
        path = f"{self._pipelines(repository)}/{paths.quote(uuid, safe='')}"
        return Pipeline.from_cloud(self._get_json(path, "pipelines"))

    def find_pipeline_for_job(
        self,
        repository: str,
        commit: str | None,
        job_id: str,
        *,
        created_after: float | None = None,
    ) -> Pipeline | None:
        """The run started for `job_id` (its JOB_ID_VARIABLE), if one exists; else None.

        Lists the commit's runs newest first (`target.commit.hash`, `sort=-created_on`), at most
        FIND_MAX_PAGES pages, and stops at the first run created before `created_after` (epoch
        seconds, less CLOCK_SKEW): a run older than the job cannot be its run. A listed run
        whose answer lacks `variables` is read once by uuid.
        https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pipelines/#api-repositories-workspace-repo-slug-pipelines-get
        """
        params: dict[str, Any] = {"sort": "-created_on", "pagelen": FIND_PAGE_SIZE}
        if commit:
            params["target.commit.hash"] = commit
        oldest = (
            None
            if created_after is None
            else datetime.fromtimestamp(created_after - CLOCK_SKEW, UTC)
        )
        path = f"{self._pipelines(repository)}/"
        for page in self._cloud_pages(path, "pipelines", params, FIND_MAX_PAGES):
            for item in page.get("values") or ():
                run = Pipeline.from_cloud(item)
                if oldest and run.created_on and run.created_on < oldest:
                    return None
                if run.variables is None:
                    run = self.get_pipeline(repository, run.uuid)
                if run.variable(JOB_ID_VARIABLE) == job_id:
                    return run
        return None

    def stop_pipeline(self, repository: str, uuid: str) -> None:
        path = f"{self._pipelines(repository)}/{paths.quote(uuid, safe='')}/stopPipeline"
        self._send("POST", path, "pipelines")

    def _pipelines(self, repository: str) -> str:
        if self.product != "cloud":
            raise NotSupported("Bitbucket Pipelines exists only on Bitbucket Cloud")
        return f"{paths.repository('cloud', repository)}/pipelines"

    # -- members, permissions and groups -----------------------------------------------------

    def iter_workspace_members(self, workspace: str) -> Iterator[User]:
        path = f"{paths.workspace(workspace)}/members"
        for item in self._iter_cloud(path, "members"):
            yield User.from_cloud(item.get("user") or {})

    def iter_workspace_permissions(self, workspace: str) -> Iterator[tuple[User, str]]:
        """Each member with owner or member (collaborator was removed in June 2022)."""
        path = f"{paths.workspace(workspace)}/permissions"
        for item in self._iter_cloud(path, "members"):
            yield User.from_cloud(item.get("user") or {}), str(item.get("permission", ""))

    def iter_groups(self, workspace: str) -> Iterator[Group]:
        """Cloud: the 1.0 groups API (members included); DC: group names (no members).

        DC reads the non-admin `GET /rest/api/latest/groups` (a page of names, LICENSED_USER):
        DC refuses HTTP access tokens on `/rest/api/latest/admin/*` (BSERV-10482).
        """
        if self.product == "cloud":
            for item in self._get_json_any(
                f"{self._v1()}/groups/{paths.quote(workspace)}", "groups"
            ):
                members = tuple(User.from_cloud(m) for m in item.get("members") or ())
                yield Group(str(item.get("slug", "")), str(item.get("name", "")), members)
            return
        for item in self._iter_server(SERVER_GROUPS_PATH, "groups"):
            name = str(item.get("name", "") if isinstance(item, dict) else item)
            yield Group(name, name)

    def iter_group_members(self, workspace: str, group: str) -> Iterator[User]:
        if self.product == "cloud":
            url = f"{self._v1()}/groups/{paths.quote(workspace)}/{paths.quote(group)}/members"
            for item in self._get_json_any(url, "groups"):
                yield User.from_cloud(item)
            return
        for item in self._iter_server(SERVER_USERS_PATH, "groups", {"group": group}):
            yield User.from_server(item)

    def iter_users(self) -> Iterator[User]:
        """DC: every user with its active flag (the non-admin `GET /rest/api/latest/users`)."""
        for item in self._iter_server(SERVER_USERS_PATH, "users"):
            yield User.from_server(item)

    def webhook_event_keys(self) -> frozenset[str]:
        """DC: the event keys this server offers to webhooks.

        `GET /rest/webhooks/latest/capabilities` answers `{"application-webhooks": [keys]}` (as
        Atlassian's Jenkins plugin reads it, BitbucketWebhookSupportedEvents).
        """
        url = f"{self.base_url}/rest/webhooks/latest/capabilities"
        data = self._get_json(url, "hooks")
        return frozenset(str(key) for key in data.get("application-webhooks") or ())

    def _v1(self) -> str:
        return self.api_url.removesuffix("/2.0") + "/1.0"

    # -- repositories and webhooks -----------------------------------------------------------

    def iter_repositories(self, owner: str) -> Iterator[str]:
        """Full names of a Cloud workspace's (DC project's) repositories."""
        if self.product == "cloud":
            for item in self._iter_cloud(f"/repositories/{paths.quote(owner, safe='')}", "repos"):
                yield str(item.get("full_name", ""))
            return
        for item in self._iter_server(f"{paths.project(owner)}/repos", "repos"):
            project = (item.get("project") or {}).get("key", owner)
            yield f"{project}/{item.get('slug', '')}"

    def repository_pages_updated_since(
        self, workspace: str, since: datetime
    ) -> Iterator[list[UpdatedRepository]]:
        """Pages of a Cloud workspace's repositories updated after `since`, newest first; only
        the fields the reconciler reads (BBQL `q=`, `sort=`, partial response `fields=`).
        https://developer.atlassian.com/cloud/bitbucket/rest/intro/#filtering
        https://developer.atlassian.com/cloud/bitbucket/rest/intro/#partial-response
        """
        path = f"/repositories/{paths.quote(workspace, safe='')}"
        stamp = since.astimezone(UTC).isoformat()
        params = {
            "q": f"updated_on > {stamp}",
            "sort": "-updated_on",
            "pagelen": CLOUD_PAGE_SIZE,
            "fields": REPOSITORY_FIELDS,
        }
        for page in self._cloud_pages(path, "repos", params, self.max_pages):
            yield [UpdatedRepository.from_cloud(item) for item in page.get("values") or ()]

    def pull_request_pages(
        self, repository: str, since: datetime
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of a Cloud repository's pull requests in every state updated after `since`,
        with author, reviewers and participants (role, approved) in the page. Cloud lists only
        OPEN ones unless each state is asked for.
        https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pullrequests/#api-repositories-workspace-repo-slug-pullrequests-get
        """
        path = f"{paths.repository('cloud', repository)}/pullrequests"
        stamp = since.astimezone(UTC).isoformat()
        params = {
            "q": f'updated_on > "{stamp}"',
            "state": list(PULL_REQUEST_STATES),
            "pagelen": CLOUD_PULL_REQUEST_PAGE_SIZE,
            "fields": PULL_REQUEST_FIELDS,
        }
        for page in self._cloud_pages(path, "repos", params, self.max_pages):
            yield list(page.get("values") or ())

    def server_repository_pages(self, project: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of a DC project's repositories (`start`/`limit`), each with its project.
        https://developer.atlassian.com/server/bitbucket/rest/v819/api-group-project/#api-api-latest-projects-projectkey-repos-get
        """
        yield from self._server_pages(f"{paths.project(project)}/repos", "repos", {})

    def server_pull_request_pages(self, repository: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of a DC repository's pull requests in every state, most recently updated first,
        with author, reviewers and participants (`approved`) in the page.
        https://developer.atlassian.com/server/bitbucket/rest/v819/api-group-pull-requests/#api-api-latest-projects-projectkey-repos-repositoryslug-pull-requests-get
        """
        path = f"{paths.repository('server', repository)}/pull-requests"
        params = {"state": "ALL", "order": "NEWEST", "limit": CLOUD_PULL_REQUEST_PAGE_SIZE}
        yield from self._server_pages(path, "repos", params)

    def branch_pages(self, repository: str) -> Iterator[list[Branch]]:
        """Pages of a Cloud repository's branches with their heads' hash and date.
        https://developer.atlassian.com/cloud/bitbucket/rest/api-group-refs/#api-repositories-workspace-repo-slug-refs-branches-get
        """
        path = f"{paths.repository('cloud', repository)}/refs/branches"
        params = {
            "pagelen": CLOUD_PAGE_SIZE,
            "fields": "next,values.name,values.target.hash,values.target.date",
        }
        for page in self._cloud_pages(path, "repos", params, self.max_pages):
            yield [Branch.from_cloud(item) for item in page.get("values") or ()]

    def server_branch_pages(
        self, repository: str, page_size: int = SERVER_BRANCH_PAGE_SIZE
    ) -> Iterator[list[Branch]]:
        """Pages of a DC repository's branches, most recently modified first, with each
        head's commit metadata (`orderBy=MODIFICATION`, `details=true`).
        ("Get branches")
        https://developer.atlassian.com/server/bitbucket/rest/v906/api-group-repository/
        """
        path = f"{paths.repository('server', repository)}/branches"
        params = {"orderBy": "MODIFICATION", "details": "true"}
        for page in self._server_pages(path, "repos", params, page_size):
            yield [Branch.from_server(item) for item in page]

    def list_hooks(self, scope: str, target: str) -> list[Webhook]:
        """Hooks of a repository ('repository'), Cloud workspace or DC project."""
        path = self._hooks_path(scope, target)
        if self.product == "cloud":
            return [Webhook.from_cloud(item) for item in self._iter_cloud(path, "hooks")]
        return [Webhook.from_server(item) for item in self._iter_server(path, "hooks")]

    def create_hook(self, scope: str, target: str, spec: WebhookSpec) -> Webhook:
        path = self._hooks_path(scope, target)
        return self._hook_answer(self._send("POST", path, "hooks", json=self._hook_body(spec)))

    def update_hook(self, scope: str, target: str, hook_id: str, spec: WebhookSpec) -> Webhook:
        path = f"{self._hooks_path(scope, target)}/{paths.quote(hook_id, safe='')}"
        return self._hook_answer(self._send("PUT", path, "hooks", json=self._hook_body(spec)))

    def _hooks_path(self, scope: str, target: str) -> str:
        if scope == "repository":
            noun = "hooks" if self.product == "cloud" else "webhooks"
            return f"{paths.repository(self.product, target)}/{noun}"
        if scope == "workspace" and self.product == "cloud":
            return f"{paths.workspace(target)}/hooks"
        if scope == "project" and self.product == "server":
            return f"{paths.project(target)}/webhooks"
        raise NotSupported(f"{self.product} has no {scope} webhooks")

    def _hook_body(self, spec: WebhookSpec) -> dict[str, Any]:
        return spec.cloud_body() if self.product == "cloud" else spec.server_body()

    def _hook_answer(self, response: httpx.Response) -> Webhook:
        data = response.json()
        return Webhook.from_cloud(data) if self.product == "cloud" else Webhook.from_server(data)

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.api_url}{path_or_url}"

    def _send(
        self,
        method: str,
        path: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        return self.sender.send(method, self._url(path), group, params=params, json=json)

    def _get_json(
        self, path: str, group: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        data = self._get_json_any(path, group, params)
        if not isinstance(data, dict):
            raise BitbucketRejected.refused(200, "expected a JSON object", "GET", path)
        return data

    def _get_json_any(self, path: str, group: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self._send("GET", path, group, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise BitbucketRejected.refused(
                response.status_code, "answer is not JSON", "GET", path
            ) from exc

    def _iter_cloud(self, path: str, group: str) -> Iterator[dict[str, Any]]:
        """Every item of a Cloud list, at most `max_pages` pages."""
        page: dict[str, Any] = {}
        for page in self._cloud_pages(path, group, {"pagelen": CLOUD_PAGE_SIZE}, self.max_pages):
            yield from page.get("values") or ()
        if page.get("next"):
            raise BitbucketRejected.refused(200, f"more than {self.max_pages} pages", "GET", path)

    def _cloud_pages(
        self, path: str, group: str, params: Mapping[str, Any], max_pages: int
    ) -> Iterator[dict[str, Any]]:
        """Up to `max_pages` pages, following Cloud's `next` links on our own host only."""
        url = self._url(path)
        query: Mapping[str, Any] | None = params
        for _ in range(max_pages):
            page = self._get_json(url, group, query)
            yield page
            url = page.get("next") or ""
            if not url:
                return
            if origin(url) != self._api_origin:
                raise ForbiddenHost(f"refusing a next link to {origin(url)}")
            query = None

    def _iter_server(
        self, path: str, group: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        for values in self._server_pages(path, group, params or {}):
            yield from values

    def _server_pages(
        self, path: str, group: str, params: Mapping[str, Any], limit: int = SERVER_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page's values, following DC's `isLastPage`/`nextPageStart`, at most `max_pages`
        pages (one call each)."""
        start = 0
        for _ in range(self.max_pages):
            page = self._get_json(path, group, {"limit": limit, **params, "start": start})
            yield list(page.get("values") or ())
            if page.get("isLastPage", True) or page.get("nextPageStart") is None:
                return
            start = int(page["nextPageStart"])
        raise BitbucketRejected.refused(200, f"more than {self.max_pages} pages", "GET", path)
