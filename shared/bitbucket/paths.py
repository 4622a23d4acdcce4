"""REST paths of Cloud and Server/DC for a repository, workspace or project."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["commit", "project", "quote", "repository", "split_repository", "workspace"]

from shared.config.settings import Product


def _q(part: str) -> str:
    """One path segment, percent-encoded; `.` and `..` (which quoting leaves as they are and
    the HTTP client would resolve into another path) are refused."""
    if not part.strip("."):
        raise ValueError(f"{part!r} is not a name: it would change the path")
    return quote(part, safe="")


def split_repository(full_name: str) -> tuple[str, str]:
    """'workspace/slug' (Cloud) or 'PROJECT/slug' (DC) into its two parts."""
    owner, _, slug = full_name.partition("/")
    if not owner or not slug:
        raise ValueError(f"repository must be 'owner/slug', got {full_name!r}")
    return owner, slug


def repository(product: Product, full_name: str) -> str:
    owner, slug = split_repository(full_name)
    if product == "cloud":
        return f"/repositories/{_q(owner)}/{_q(slug)}"
    return f"/api/latest/projects/{_q(owner)}/repos/{_q(slug)}"


def commit(product: Product, full_name: str, sha: str) -> str:
    noun = "commit" if product == "cloud" else "commits"
    return f"{repository(product, full_name)}/{noun}/{_q(sha)}"


def workspace(name: str) -> str:
    return f"/workspaces/{_q(name)}"


def project(key: str) -> str:
    return f"/api/latest/projects/{_q(key)}"
