"""Authlib's httpx OAuth 2.0 client, imported without its httpx2 deprecation notice.

Authlib now prefers the httpx2 package; this service is built on httpx, which Authlib still
supports, so the notice is silenced here rather than in every process's log.
"""

import warnings

import authlib.deprecate  # noqa: F401 - installs Authlib's own "always" filter first

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client

__all__ = ["OAuth2Client"]
