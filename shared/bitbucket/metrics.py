"""Prometheus metrics of outgoing Bitbucket calls and of the token bucket."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "bbrelay_bitbucket_api_requests_total",
    "Bitbucket API calls, by endpoint group, HTTP status (0: no answer) and consumer.",
    ["group", "status", "consumer"],
)
API_ERRORS = Counter(
    "bbrelay_bitbucket_api_errors_total",
    "Bitbucket API calls that failed: 5xx, 429, other 4xx, or no answer; by consumer.",
    ["group", "kind", "consumer"],
)
API_LATENCY = Histogram(
    "bbrelay_bitbucket_api_request_duration_seconds",
    "Time of one Bitbucket API call.",
    ["group"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RATE_LIMITED = Counter(
    "bbrelay_bitbucket_rate_limited_total",
    "429 answers from Bitbucket, by consumer.",
    ["consumer"],
)
STATUSES_POSTED = Counter(
    "bbrelay_build_statuses_posted_total",
    "Commit build statuses Bitbucket accepted, by state.",
    ["state"],
)
BUCKET_WAITS = Counter(
    "bbrelay_bucket_waits_total",
    "Calls that found no token and waited or were retried later, by consumer pool.",
    ["outcome"],
)
BUCKET_WAIT_SECONDS = Histogram(
    "bbrelay_bucket_wait_seconds",
    "How long a call had to wait for a token.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0),
)
RATE_LIMIT_PER_HOUR = Gauge(
    "bbrelay_bitbucket_rate_limit_per_hour",
    "The hourly limit a consumer's bucket follows, as Bitbucket announced it (capped by a "
    "configured requestsPerHour), by consumer and resource.",
    ["consumer", "resource"],
    multiprocess_mode="mostrecent",
)
BUCKET_TOKENS = Gauge(
    "bbrelay_bucket_tokens",
    "Tokens left in a consumer's bucket after its last call.",
    ["consumer"],
    multiprocess_mode="mostrecent",
)
