"""A fake Bitbucket (Cloud or Server/DC) over real HTTP on 127.0.0.1, for integration tests.

It serves what the relay calls, in the documented shapes (see tests/fixtures/bitbucket/*/api/):
OAuth client-credentials tokens, commits, build statuses, Pipelines, members, permissions,
groups and webhooks. It keeps its own rolling per-consumer budget and answers 429 past it, can
inject errors, slow answers and dropped connections, and records every request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.event_keys import SERVER_EVENT_KEYS
from tests.fakes.bitbucket_oauth import (
    CLOUD_AUTHORIZE,
    SERVER_AUTHORIZE,
    SERVER_TOKEN,
    AuthorizationServer,
)
from tests.fakes.bitbucket_oauth1 import PREFIX as OAUTH1_PREFIX
from tests.fakes.bitbucket_oauth1 import ApplicationLinks
from tests.fakes.budget import RollingBudget
from tests.fakes.faults import Fault, Faults
from tests.fakes.pipeline_statuses import StatusWebhooks
from tests.fakes.serving import QuietHandler, serve, stop

Answer = tuple[int, Any, dict[str, str]]
TOKEN_PATH = "/site/oauth2/access_token"
NEAR_LIMIT_SHARE = 0.2  # X-RateLimit-NearLimit: true with less than a fifth of the hour left


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    consumer: str | None
    status: int
    at: float


@dataclass
class PipelineRun:
    """A run as triggered; its document is Cloud's `pipeline` object, secured values blanked."""

    uuid: str
    build_number: int
    repository: str
    body: dict[str, Any]
    created_on: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "PENDING"
    result: str | None = None
    gets: int = 0

    @property
    def commit(self) -> str | None:
        return ((self.body.get("target") or {}).get("commit") or {}).get("hash")

    def document(self) -> dict[str, Any]:
        state: dict[str, Any] = {"name": self.state, "type": "pipeline_state"}
        if self.result:
            state["result"] = {"name": self.result}
        return {
            "type": "pipeline",
            "uuid": self.uuid,
            "build_number": self.build_number,
            "state": state,
            "target": self.body.get("target", {}),
            "created_on": self.created_on.isoformat(),
            "variables": [_public_variable(v) for v in self.body.get("variables") or ()],
        }


def _public_variable(variable: dict[str, Any]) -> dict[str, Any]:
    public = {"type": "pipeline_variable", **variable}
    if public.get("secured"):
        public["value"] = ""
    return public


@dataclass
class Directory:
    """Members and groups of one Cloud workspace (or of the whole DC server)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> user document
    permissions: dict[str, str] = field(default_factory=dict)  # id -> owner/member/collaborator
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> {name, members}


class FakeBitbucket:
    """Start with `with FakeBitbucket("cloud") as bb:`; point the relay at `bb.api_url`."""

    def __init__(
        self,
        product: str = "cloud",
        *,
        budget_per_hour: int | None = None,
        budget_window: float = 3600.0,
        token_lifetime: float = 7200.0,
        consumers: dict[str, str] | None = None,
        tokens: set[str] | None = None,
        basic_users: dict[str, str] | None = None,
        scopes: str = "account repository pullrequest webhook pipeline team",
    ) -> None:
        self.product = product
        self.budget = RollingBudget(budget_per_hour, budget_window)
        self.token_lifetime = token_lifetime
        self.consumers = dict(consumers or {"client-1": "secret-1"})
        self.static_tokens = set(tokens or ())
        self.basic_users = dict(basic_users or {})
        self.scopes = {client_id: scopes for client_id in self.consumers}
        self.faults = Faults()
        self.lock = threading.RLock()
        self.issued: dict[str, tuple[str, float]] = {}  # token -> (client id, expires at)
        self.token_requests = 0
        self.recorded: list[Recorded] = []
        self.commits: dict[str, set[str]] = {}
        self.posted_statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pipelines: dict[str, PipelineRun] = {}
        self.pipeline_result = "SUCCESSFUL"
        self.pipeline_gets_to_finish = 1
        self.pipeline_duration: float | None = None  # a run ends by itself after this long
        self.status_webhooks: StatusWebhooks | None = None  # Pipelines' own commit statuses
        self.capabilities = ["richBuildStatus", "cancelledStatus", "unknownStatus"]
        self.webhook_events = sorted(SERVER_EVENT_KEYS - {"diagnostics:ping"})
        self.directories: dict[str, Directory] = {}
        self.groups_status: int | None = None  # 404/410: the 1.0 groups API is gone
        self.hooks: dict[str, dict[str, dict[str, Any]]] = {}  # scope path -> id -> hook
        self.repositories: set[str] = set()  # full names: workspace/slug or PROJECT/slug
        self.updated_on: dict[str, float] = {}  # full name -> when a push last changed it
        self.branches: dict[str, dict[str, tuple[str, float]]] = {}  # repo -> name -> (sha, date)
        self.projects: dict[str, dict[str, Any]] = {}  # repository full name -> its project
        self.pull_requests: dict[str, list[dict[str, Any]]] = {}  # repository -> Cloud PRs
        self.max_page = 100 if product == "cloud" else 1000
        self.authorization = AuthorizationServer(self)
        self.application_links = ApplicationLinks(self)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeBitbucket:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = serve(handler)
        return self

    def stop(self) -> None:
        stop(self._server)

    def __enter__(self) -> FakeBitbucket:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/2.0" if self.product == "cloud" else f"{self.base_url}/rest"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    # -- controls ------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, path: str = "*", method: str | None = None
    ) -> None:
        self.faults.add(Fault("status", path, method, n, status=status))

    def drop_next(self, n: int = 1, path: str = "*", method: str | None = None) -> None:
        self.faults.add(Fault("drop", path, method, n))

    def delay(self, seconds: float, path: str = "*", n: int | None = None) -> None:
        self.faults.add(Fault("delay", path, None, n, seconds=seconds))

    def fail_page(self, path: str, page: int, status: int = 500) -> None:
        self.faults.add(Fault("status", path, "GET", None, status=status, page=page))

    def clear_faults(self) -> None:
        self.faults.clear()

    def add_commit(self, repository: str, sha: str) -> None:
        with self.lock:
            self.commits.setdefault(repository.lower(), set()).add(sha)

    def push(self, repository: str, branch: str, sha: str, at: float | None = None) -> None:
        """A push Bitbucket saw (no webhook sent): the branch head moves, `updated_on` too."""
        at = time.time() if at is None else at
        with self.lock:
            self.repositories.add(repository)
            self.commits.setdefault(repository.lower(), set()).add(sha)
            self.branches.setdefault(repository.lower(), {})[branch] = (sha, at)
            self.updated_on[repository.lower()] = at

    def repository_fields(self, repository: str) -> dict[str, Any]:
        """A Cloud repository as a listing shows it, with a uuid made from its name."""
        digest = hashlib.sha256(repository.lower().encode()).hexdigest()
        return {
            "type": "repository",
            "full_name": repository,
            "uuid": "{" + str(uuid.UUID(digest[:32])) + "}",
            "name": repository.partition("/")[2],
            "is_private": True,
            "project": self.projects.get(repository.lower()),
        }

    def server_repository_fields(self, repository: str) -> dict[str, Any]:
        """A DC repository as `GET /rest/api/latest/projects/{p}/repos` shows it, with ids made
        from its name and its project's key."""
        key, _, slug = repository.partition("/")
        return {
            "slug": slug,
            "id": _number(repository),
            "name": slug,
            "scmId": "git",
            "state": "AVAILABLE",
            "forkable": True,
            "project": {"key": key, "id": _number(key), "name": key, "type": "NORMAL"},
            "public": False,
        }

    def delete_branch(self, repository: str, branch: str, at: float | None = None) -> None:
        with self.lock:
            self.branches.get(repository.lower(), {}).pop(branch, None)
            self.updated_on[repository.lower()] = time.time() if at is None else at

    def revoke_all(self) -> None:
        with self.lock:
            self.issued.clear()

    def expire_tokens(self) -> None:
        with self.lock:
            self.issued = {t: (c, 0.0) for t, (c, _) in self.issued.items()}

    def finish_pipeline(self, pipeline_uuid: str, result: str = "SUCCESSFUL") -> None:
        with self.lock:
            run = self.pipelines[pipeline_uuid]
            run.state, run.result = "COMPLETED", result
        self.post_run_status(run, result)

    def run_started(self, run: PipelineRun) -> None:
        """Post the run's INPROGRESS status; end it after `pipeline_duration` when set."""
        self.post_run_status(run, "INPROGRESS")
        if self.pipeline_duration is not None:
            timer = threading.Timer(
                self.pipeline_duration, self.finish_pipeline, (run.uuid, self.pipeline_result)
            )
            timer.daemon = True
            timer.start()

    def post_run_status(self, run: PipelineRun, state: str) -> None:
        """Pipelines' own build status on the run's commit, as a webhook to the relay."""
        if self.status_webhooks is None or run.commit is None:
            return
        branch = (run.body.get("target") or {}).get("ref_name") or ""
        self.status_webhooks.send_later(run.repository, run.commit, branch, run.build_number, state)

    def directory(self, name: str = "") -> Directory:
        with self.lock:
            return self.directories.setdefault(name.lower(), Directory())

    # -- what happened -------------------------------------------------------------------

    def requests_to(self, path: str = "*", method: str | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.recorded
                if fnmatchcase(r.path, path) and (method is None or r.method == method)
            ]

    def statuses(self, repository: str, sha: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.posted_statuses.get((repository.lower(), sha), []))

    def triggered(self) -> list[PipelineRun]:
        with self.lock:
            return sorted(self.pipelines.values(), key=lambda run: run.build_number)

    def responses_with(self, status: int) -> int:
        with self.lock:
            return sum(1 for r in self.recorded if r.status == status)

    # -- serving -------------------------------------------------------------------------

    def consumer_of(self, authorization: str | None) -> str | None:
        """The identity a request counts against; None when the credentials are not valid."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        with self.lock:
            if scheme.lower() == "bearer":
                if value in self.static_tokens:
                    return f"token:{value[:6]}"
                issued = self.issued.get(value)
                if issued and issued[1] > time.time():
                    return issued[0]
                return None
            if scheme.lower() == "basic":
                user, _, password = base64.b64decode(value).decode().partition(":")
                return user if self.basic_users.get(user) == password else None
        return None

    def scaled_limit_headers(self, consumer: str, path: str) -> dict[str, str]:
        """Cloud's scaled-limit headers: sent to access tokens on /2.0/repositories/* only.
        https://www.atlassian.com/blog/bitbucket/introducing-scaled-rate-limits-for-bitbucket-cloud-api
        """
        limit = self.budget.limit
        if limit is None or not consumer.startswith("token:"):
            return {}
        if not path.startswith("/2.0/repositories/"):
            return {}
        near = limit - self.budget.used(consumer) < NEAR_LIMIT_SHARE * limit
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Resource": "api",
            "X-RateLimit-NearLimit": "true" if near else "false",
        }

    def issue_token(self, authorization: str | None, form: dict[str, str]) -> Answer:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        if form.get("grant_type") in ("authorization_code", "refresh_token"):
            return self.authorization.token(client_id, secret, form)
        with self.lock:
            self.token_requests += 1
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}, {}
            if self.consumers.get(client_id) != secret:
                return 400, {"error": "invalid_client", "error_description": "bad secret"}, {}
            token = f"tok-{uuid.uuid4().hex}"
            self.issued[token] = (client_id, time.time() + self.token_lifetime)
            scopes = self.scopes.get(client_id, "")
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.token_lifetime),
            "scopes": scopes,
            "refresh_token": "unused",
        }
        return 200, answer, {}

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        from tests.fakes.bitbucket_routes import ROUTES

        for route_method, pattern, view in ROUTES[self.product]:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return view(self, match.groupdict(), query, body)
        return not_found(self.product, f"no route for {method} {path}")


def not_found(product: str, message: str) -> Answer:
    return 404, error_document(product, message), {}


def error_document(product: str, message: str) -> dict[str, Any]:
    if product == "cloud":
        return {"type": "error", "error": {"message": message}}
    return {"errors": [{"context": None, "message": message, "exceptionName": None}]}


class _Handler(QuietHandler):
    fake: FakeBitbucket

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        authorization = self.headers.get("Authorization")
        form = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()}
        if path in (TOKEN_PATH, SERVER_TOKEN) and method == "POST":
            self._answer(*fake.issue_token(authorization, form))
            return
        if path in (CLOUD_AUTHORIZE, SERVER_AUTHORIZE):
            self._answer(*fake.authorization.authorize(method, query, form))
            return
        uri = f"{fake.base_url}{self.path}"
        headers = dict(self.headers.items())
        if path.startswith(OAUTH1_PREFIX):
            params = query | form
            self._answer(*fake.application_links.serve(method, path, uri, raw, headers, params))
            return
        body = _json_or_text(raw)
        if (authorization or "").lower().startswith("oauth "):
            user = fake.application_links.caller(uri, method, raw, headers)
            consumer = f"link:{user}" if user else None
        else:
            user = fake.authorization.user_of(authorization)
            consumer = fake.consumer_of(authorization)
        fake.authorization.caller.user = user
        page = _page_number(query, fake.product, fake.max_page)
        answer = self._respond(method, path, query, body, consumer, page)
        # Recorded before the answer is sent: a client that has its answer sees the record.
        with fake.lock:
            fake.recorded.append(
                Recorded(method, path, query, body, consumer, answer[0], time.monotonic())
            )
        if answer[0]:
            self._answer(*answer)

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        consumer: str | None,
        page: int | None,
    ) -> Answer:
        """What to answer; status 0 when the connection is to be dropped instead."""
        fake = self.fake
        if consumer is None:
            return 401, error_document(fake.product, "Unauthorized"), {}
        if not fake.budget.admit(consumer):
            headers = {"Retry-After": "1"} if fake.product == "server" else {}
            return 429, error_document(fake.product, "Rate limit exceeded"), headers
        faults = {fault.kind: fault for fault in fake.faults.take(method, path, page)}
        if "delay" in faults:
            time.sleep(faults["delay"].seconds)
        if "drop" in faults:
            self.close_connection = True
            return 0, None, {}
        if "status" in faults:
            status = faults["status"].status
            return status, error_document(fake.product, f"injected {status}"), {}
        status, answer, headers = fake.route(method, path, query, body)
        if fake.product == "cloud":
            headers = {**headers, "X-OAuth-Scopes": fake.scopes.get(consumer, "")}
            headers |= fake.scaled_limit_headers(consumer, path)
        return status, answer, headers

    def _answer(self, status: int, answer: Any, headers: dict[str, str]) -> None:
        data = b"" if answer is None else _encode(answer)
        self.send_response(status)
        kind = "text/plain" if isinstance(answer, str) else "application/json"
        self.send_header("Content-Type", headers.pop("Content-Type", kind))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


def _encode(answer: Any) -> bytes:
    return answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _page_number(query: dict[str, str], product: str, max_page: int) -> int | None:
    """1-based page number of a paged listing, for fail_page."""
    if product == "cloud":
        return int(query.get("page", "1"))
    if "start" not in query:
        return None
    limit = min(int(query.get("limit", "25")), max_page)
    return int(query["start"]) // max(1, limit) + 1


@contextmanager
def running(product: str = "cloud", **options: Any) -> Iterator[FakeBitbucket]:
    with FakeBitbucket(product, **options) as fake:
        yield fake


View = Callable[[FakeBitbucket, dict[str, str], dict[str, str], Any], Answer]
PatternRoutes = list[tuple[str, re.Pattern[str], View]]


def _number(name: str) -> int:
    """A stable DC numeric id for a name."""
    return int(hashlib.sha256(name.lower().encode()).hexdigest()[:7], 16)
