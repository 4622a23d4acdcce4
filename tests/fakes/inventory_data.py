"""A workspace's graph for the fake Cloud: projects, repositories, people, pull requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket

STATES = ("OPEN", "MERGED", "DECLINED")
DAY = 86400.0


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def project(workspace: str, p: int) -> dict[str, Any]:
    return {
        "type": "project",
        "key": f"P{p}",
        "uuid": f"{{project-{p:02d}}}",
        "name": f"Project {p}",
    }


def pull_request(
    fake: FakeBitbucket, repository: str, n: int, users: int, at: float
) -> dict[str, Any]:
    """Pull request n: user n opens it, the next two review it, the first of them approves."""
    author, first, second = (team_data.cloud_user((n + k) % users) for k in range(3))
    end = {"repository": {"type": "repository", "full_name": repository}}
    return {
        "type": "pullrequest",
        "id": n + 1,
        "title": f"Change {n}",
        "state": STATES[n % 3],
        "author": author,
        "reviewers": [first, second],
        "participants": [
            {"type": "participant", "user": first, "role": "REVIEWER", "approved": True},
            {"type": "participant", "user": second, "role": "REVIEWER", "approved": False},
        ],
        "source": {**end, "branch": {"name": f"feature/{n}"}, "commit": {"hash": f"{n:012x}"}},
        "destination": {**end, "branch": {"name": "main"}, "commit": {"hash": "0" * 12}},
        "created_on": _iso(at - 3600),
        "updated_on": _iso(at),
        "comment_count": n % 5,
        "task_count": n % 2,
    }


def seed(
    fake: FakeBitbucket,
    workspace: str,
    *,
    repositories: int,
    projects: int,
    users: int,
    groups: int,
    pull_requests: int,
    active: int,
    now: float,
) -> None:
    """`repositories` in `projects`; `pull_requests` updated in the last day, spread over the
    first `active` repositories, which were pushed to in the last day; the rest a month ago."""
    team_data.seed(fake, workspace, users, groups)
    for r in range(repositories):
        name = f"{workspace}/repo-{r:04d}"
        fake.push(name, "main", f"{r:040x}", at=now - (600 + r if r < active else 30 * DAY))
        with fake.lock:
            fake.projects[name.lower()] = project(workspace, r % projects)
    for n in range(pull_requests):
        name = f"{workspace}/repo-{n % active:04d}"
        document = pull_request(fake, name, n, users, now - 1200 - n)
        with fake.lock:
            fake.pull_requests.setdefault(name.lower(), []).append(document)


def server_pull_request(repository: str, n: int, users: int, at: float) -> dict[str, Any]:
    """Pull request n on DC: user n opens it, the next two review it, the first approves."""
    author, first, second = (team_data.server_user((n + k) % users) for k in range(3))
    key, _, slug = repository.partition("/")
    where = {"slug": slug, "project": {"key": key}}
    state = STATES[n % 3]

    def ref(branch: str, commit: str) -> dict[str, Any]:
        return {
            "id": f"refs/heads/{branch}",
            "displayId": branch,
            "latestCommit": commit,
            "repository": where,
        }

    document: dict[str, Any] = {
        "id": n + 1,
        "version": 0,
        "title": f"Change {n}",
        "state": state,
        "open": state == "OPEN",
        "closed": state != "OPEN",
        "createdDate": int((at - 3600) * 1000),
        "updatedDate": int(at * 1000),
        "fromRef": ref(f"feature/{n}", f"{n:040x}"),
        "toRef": ref("main", "0" * 40),
        "author": {"user": author, "role": "AUTHOR", "approved": False, "status": "UNAPPROVED"},
        "reviewers": [
            {"user": first, "role": "REVIEWER", "approved": True, "status": "APPROVED"},
            {"user": second, "role": "REVIEWER", "approved": False, "status": "UNAPPROVED"},
        ],
        "participants": [],
        "properties": {"commentCount": n % 5, "openTaskCount": n % 2, "resolvedTaskCount": 0},
    }
    if state != "OPEN":
        document["closedDate"] = document["updatedDate"]
    return document


def seed_server(
    fake: FakeBitbucket,
    project: str,
    *,
    repositories: int,
    users: int,
    groups: int,
    pull_requests: int,
    active: int,
    now: float,
) -> None:
    """`repositories` in one DC project; `pull_requests` updated in the last day spread over
    the first `active` repositories, each of which also has one pull request of a month ago."""
    team_data.seed(fake, project, users, groups)
    for r in range(repositories):
        fake.push(f"{project}/repo-{r:04d}", "main", f"{r:040x}", at=now - 30 * DAY)
    for r in range(active):
        name = f"{project}/repo-{r:04d}"
        old = server_pull_request(name, pull_requests + r, users, now - 30 * DAY)
        with fake.lock:
            fake.pull_requests.setdefault(name.lower(), []).append(old)
    for n in range(pull_requests):
        name = f"{project}/repo-{n % active:04d}"
        with fake.lock:
            fake.pull_requests.setdefault(name.lower(), []).append(
                server_pull_request(name, n, users, now - 1200 - n)
            )
