"""Send one request: take a bucket token, sign it, map the answer to the error tree.

Nothing here retries except one token refresh after a 401; every other retry is Celery's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from shared.bitbucket import metrics
from shared.bitbucket.auth import Credential, OAuthCredential
from shared.bitbucket.errors import (
    AuthFailed,
    BitbucketRejected,
    BitbucketUnavailable,
    BucketEmpty,
    ForbiddenHost,
    LimiterUnavailable,
    RateLimited,
)
from shared.ratelimit import ConsumerPool, RateLimiterUnavailable

log = structlog.get_logger(__name__)

BUCKET_GROUP = "api"
# Scaled rate limits: sent to access tokens on most /2.0/repositories/* endpoints.
# https://www.atlassian.com/blog/bitbucket/introducing-scaled-rate-limits-for-bitbucket-cloud-api
LIMIT_HEADER = "X-RateLimit-Limit"  # the hour's total (not what is left)
RESOURCE_HEADER = "X-RateLimit-Resource"  # the resource group the limit is for ("api")
NEAR_LIMIT_HEADER = "X-RateLimit-NearLimit"  # "true" when little of the hour is left


def origin(url: str) -> str:
    """`scheme://host[:port]`, lowercased, as URLs are compared before any call."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Sender:
    """Sends requests to the configured Bitbucket hosts as one of the pooled consumers."""

    def __init__(
        self,
        http: httpx.Client,
        credentials: Sequence[Credential],
        pool: ConsumerPool,
        *,
        allowed_origins: frozenset[str],
        max_inline_wait: float = 1.0,
        reserve: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`reserve`: the share of each consumer's bucket this sender leaves for others (team
        sync's sender leaves `rateLimit.reservedForJobs` to statuses and triggers)."""
        if not credentials:
            raise ValueError("no Bitbucket credentials: use the dry-run sender instead")
        self.http = http
        self.credentials = {credential.identity: credential for credential in credentials}
        self.pool = pool
        self.allowed_origins = allowed_origins
        self.max_inline_wait = max_inline_wait
        self.leave = pool.bucket.reserve(reserve)
        self.sleep = sleep
        self._announced: dict[tuple[str, str], tuple[int | None, bool]] = {}

    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        self.check_host(url)
        for attempt in (1, 2):
            credential = self._take_token()
            authorization = credential.authorization()
            response = self._send_once(
                method, url, group, credential.identity, authorization, params, json
            )
            refreshable = isinstance(credential, OAuthCredential)
            if response.status_code == 401 and attempt == 1 and refreshable:
                log.info("bitbucket.token_refused", consumer=credential.identity)
                credential.invalidate(authorization)
                continue
            return self._check(response, credential, method, group)
        raise AssertionError("unreachable")

    def check_host(self, url: str) -> None:
        """Only the configured origins: scheme and host both, so https never becomes http."""
        target = origin(url)
        if target not in self.allowed_origins:
            raise ForbiddenHost(f"refusing to call {target}: not a configured Bitbucket origin")

    def _take_token(self) -> Credential:
        waited = 0.0
        while True:
            try:
                consumer, decision = self.pool.acquire(BUCKET_GROUP, leave=self.leave)
            except RateLimiterUnavailable as exc:
                raise LimiterUnavailable(f"token bucket unavailable, call not made: {exc}") from exc
            if consumer is not None:
                metrics.BUCKET_TOKENS.labels(consumer).set(decision.tokens_left)
                if waited:
                    metrics.BUCKET_WAIT_SECONDS.observe(waited)
                return self.credentials[consumer]
            if decision.wait > self.max_inline_wait:
                metrics.BUCKET_WAITS.labels("deferred").inc()
                raise BucketEmpty(
                    f"no API budget left for {decision.wait:.1f}s", retry_after=decision.wait
                )
            metrics.BUCKET_WAITS.labels("waited").inc()
            self.sleep(decision.wait)
            waited += decision.wait

    def _send_once(
        self,
        method: str,
        url: str,
        group: str,
        consumer: str,
        authorization: str,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self.http.request(
                method, url, params=params, json=json, headers={"Authorization": authorization}
            )
        except httpx.TransportError as exc:
            metrics.API_REQUESTS.labels(group, "0", consumer).inc()
            metrics.API_ERRORS.labels(group, "transport", consumer).inc()
            raise BitbucketUnavailable(f"{method} {group}: {type(exc).__name__}") from exc
        finally:
            metrics.API_LATENCY.labels(group).observe(time.perf_counter() - started)
        metrics.API_REQUESTS.labels(group, str(response.status_code), consumer).inc()
        return response

    def _check(
        self, response: httpx.Response, credential: Credential, method: str, group: str
    ) -> httpx.Response:
        status = response.status_code
        path = response.request.url.path
        self._learn_limit(response, credential.identity)
        if status < 400:
            return response
        if status == 429:
            metrics.RATE_LIMITED.labels(credential.identity).inc()
            metrics.API_ERRORS.labels(group, "rate_limited", credential.identity).inc()
            pause = self.pool.backoff(credential.identity, retry_after(response), BUCKET_GROUP)
            log.warning("bitbucket.rate_limited", consumer=credential.identity, pause=pause)
            raise RateLimited(f"Bitbucket answered 429 to {method} {path}", retry_after=pause)
        if status >= 500:
            metrics.API_ERRORS.labels(group, "server_error", credential.identity).inc()
            raise BitbucketUnavailable(f"Bitbucket answered {status} to {method} {path}")
        metrics.API_ERRORS.labels(group, "rejected", credential.identity).inc()
        message = error_message(response)
        if status == 401:
            raise AuthFailed(
                f"Bitbucket refused the credentials of {credential.identity} for {method} "
                f"{path}: {message}"
            )
        raise BitbucketRejected.refused(status, message, method, path)

    def _learn_limit(self, response: httpx.Response, consumer: str) -> None:
        """Follow the limit Bitbucket announces; a Redis write only when it changes."""
        announced = rate_limit_headers(response)
        if announced is None:
            return
        resource, limit, near = announced
        if self._announced.get((consumer, resource)) == (limit, near):
            return
        self.pool.bucket.announce(consumer, resource, limit, near)
        self._announced[(consumer, resource)] = (limit, near)
        in_force = self.pool.bucket.per_hour(consumer, resource)
        metrics.RATE_LIMIT_PER_HOUR.labels(consumer, resource).set(in_force)
        log.info(
            "bitbucket.rate_limit", consumer=consumer, resource=resource, limit=limit, near=near
        )


def rate_limit_headers(response: httpx.Response) -> tuple[str, int | None, bool] | None:
    """(resource, the hour's limit, near the limit) when Bitbucket sent its headers."""
    headers = response.headers
    if LIMIT_HEADER not in headers and NEAR_LIMIT_HEADER not in headers:
        return None
    try:
        limit = int(headers[LIMIT_HEADER]) if LIMIT_HEADER in headers else None
    except ValueError:
        limit = None
    near = headers.get(NEAR_LIMIT_HEADER, "").strip().lower() == "true"
    return headers.get(RESOURCE_HEADER) or BUCKET_GROUP, limit, near


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header, delay-seconds or HTTP-date (RFC 9110 10.2.3)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_message(response: httpx.Response) -> str:
    """Bitbucket's own words: Cloud `error.message`, DC `errors[].message`, else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
    return str(body)[:300]
