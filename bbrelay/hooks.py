"""`bbrelay hooks list | install [--dry-run] | rotate-secret`: the relay's own Bitbucket webhooks.

Ours are the hooks whose URL is `<publicUrl>/api/webhooks/bitbucket`; hooks pointing anywhere
else belong to other services and are never touched.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import structlog

from shared.access import is_allowed
from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import Webhook, WebhookSpec
from shared.config.settings import Settings
from shared.jobs.planning import STATUS_EVENT_KEYS
from shared.permissions import Refusal, refusal
from shared.webhook_secrets import CACHE_SECONDS, SecretRing

log = structlog.get_logger(__name__)

RECEIVER_PATH = "/api/webhooks/bitbucket"
DESCRIPTION = "Bitbucket Relay"
DEFAULT_EVENTS = {
    "cloud": ("repo:push", "pullrequest:created", "pullrequest:updated",
              "pullrequest:fulfilled", "pullrequest:rejected"),
    "server": ("repo:refs_changed", "pr:opened", "pr:from_ref_updated", "pr:merged",
               "pr:declined"),
}  # fmt: skip


class HooksError(Exception):
    """The hook setup cannot go ahead; the message says what to configure."""


@dataclass
class HookState:
    """One target's hook: what we found and what it needs."""

    target: str
    hook: Webhook | None
    needs: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        if self.hook is None:
            return "create"
        return "update" if self.needs else "ok"


def receiver_url(settings: Settings) -> str:
    public = settings.relay.public_url
    if not public:
        raise HooksError(
            "set global.relay.publicUrl (BBRELAY_PUBLIC_URL): where Bitbucket reaches us"
        )
    return public.rstrip("/") + RECEIVER_PATH


def wanted_events(settings: Settings) -> tuple[str, ...]:
    configured = settings.bitbucket.webhooks.events
    events = set(configured or DEFAULT_EVENTS[settings.bitbucket.product])
    cloud = settings.bitbucket.product == "cloud"
    if cloud and any(rule.runner == "pipeline" for rule in settings.bitbucket.jobs):
        events |= STATUS_EVENT_KEYS  # Pipelines' own statuses finish pipeline jobs
    return tuple(sorted(events))


def events_not_offered(client: BitbucketClient, settings: Settings) -> list[str]:
    """Configured event keys this DC server does not offer (its webhook capabilities)."""
    if settings.bitbucket.product != "server":
        return []
    offered = client.webhook_event_keys()
    return [key for key in wanted_events(settings) if key not in offered]


def refuse_events_not_offered(client: BitbucketClient, settings: Settings) -> None:
    """HooksError naming the keys this server does not offer, and the ones it does."""
    missing = events_not_offered(client, settings)
    if missing:
        offered = ", ".join(sorted(client.webhook_event_keys()))
        raise HooksError(
            f"this Bitbucket does not offer {', '.join(missing)}; remove them from "
            f"webhooks.events (it offers: {offered})"
        )


def current_secret(settings: Settings, ring: SecretRing) -> str:
    """The secret hooks should sign with: the newest rotated one, else the first configured."""
    newest = ring.newest()
    if newest:
        return newest
    if not settings.bitbucket.webhook_secrets:
        raise HooksError(
            "no webhook secret configured: set webhookSecret or BBRELAY_WEBHOOK_SECRET"
        )
    return settings.bitbucket.webhook_secrets[0].reveal()


def targets(client: BitbucketClient, settings: Settings) -> list[str]:
    """Repositories (or workspaces/projects) to hook, from the allow lists; globs listed."""
    bitbucket = settings.bitbucket
    scope = bitbucket.webhooks.scope
    patterns = bitbucket.repositories.allow if scope == "repository" else bitbucket.workspaces.allow
    lists = bitbucket.repositories if scope == "repository" else bitbucket.workspaces
    if not patterns:
        key = "repositories" if scope == "repository" else "workspaces"
        raise HooksError(f"list the {scope} targets in {key}.allowList to set up hooks")
    found: list[str] = []
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            found.append(pattern)
            continue
        owner, _, _ = pattern.partition("/")
        if scope != "repository" or any(c in owner for c in "*?["):
            raise HooksError(f"cannot list {pattern!r}: name the workspace or project literally")
        names = client.iter_repositories(owner)
        found += [n for n in names if fnmatchcase(n.lower(), pattern.lower())]
    return sorted({t for t in found if is_allowed(t, lists)})


def survey(client: BitbucketClient, settings: Settings) -> list[HookState]:
    """Our hook on each target (or None) and what it lacks."""
    url, events = receiver_url(settings), set(wanted_events(settings))
    scope = settings.bitbucket.webhooks.scope
    states = []
    for target in targets(client, settings):
        ours = [hook for hook in client.list_hooks(scope, target) if hook.url == url]
        state = HookState(target, ours[0] if ours else None)
        if state.hook is not None:
            hook = state.hook
            if set(hook.events) != events:
                state.needs.append(f"events {sorted(hook.events)} -> {sorted(events)}")
            if hook.active != settings.bitbucket.webhooks.active:
                state.needs.append(f"active {hook.active} -> {settings.bitbucket.webhooks.active}")
            if not hook.secret_set:
                state.needs.append("a secret")
            skip = settings.bitbucket.webhooks.skip_cert_verification
            if hook.ssl_verification_required == skip:
                state.needs.append(_cert_change(settings, skip))
        states.append(state)
    return states


def _cert_change(settings: Settings, skip: bool) -> str:
    """The certificate check change in the product's own field: Cloud's
    `skip_cert_verification`, DC's `sslVerificationRequired` (its opposite)."""
    if settings.bitbucket.product == "server":
        return f"sslVerificationRequired {skip} -> {not skip}"
    return f"skip_cert_verification {not skip} -> {skip}"


def spec(settings: Settings, secret: str) -> WebhookSpec:
    return WebhookSpec(
        url=receiver_url(settings),
        events=wanted_events(settings),
        description=DESCRIPTION,
        secret=secret,
        active=settings.bitbucket.webhooks.active,
        ssl_verification_required=not settings.bitbucket.webhooks.skip_cert_verification,
    )


def install(
    client: BitbucketClient, settings: Settings, ring: SecretRing, *, dry_run: bool
) -> list[str]:
    """Create or update our hook where needed; the lines to print."""
    scope = settings.bitbucket.webhooks.scope
    wanted = spec(settings, current_secret(settings, ring))
    refuse_events_not_offered(client, settings)
    lines = []
    for state in survey(client, settings):
        verb = {"create": "create", "update": "update", "ok": "unchanged"}[state.action]
        why = f" ({'; '.join(state.needs)})" if state.needs else ""
        if state.action != "ok" and (refused := _refused(settings, state.target)):
            lines.append(f"{state.target}: {verb} refused: {refused}")
            continue
        if state.action != "ok" and not dry_run:
            if state.hook is None:
                client.create_hook(scope, state.target, wanted)
            else:
                client.update_hook(scope, state.target, state.hook.id, wanted)
        prefix = "would " if dry_run and state.action != "ok" else ""
        lines.append(f"{state.target}: {prefix}{verb}{why}")
    if lines and all(line.endswith("unchanged") for line in lines):
        lines.append("every hook is already as configured; nothing changed")
    return lines


def rotate_secret(
    client: BitbucketClient, settings: Settings, ring: SecretRing
) -> tuple[str, list[str]]:
    """A new secret: accepted first, then given to every hook of ours; returns it and the lines."""
    new = secrets.token_urlsafe(32)
    ring.add(new)
    time.sleep(CACHE_SECONDS + 1.0)  # every receiver now accepts it, before any hook uses it
    scope = settings.bitbucket.webhooks.scope
    wanted = spec(settings, new)
    lines = []
    for state in survey(client, settings):
        if state.hook is None:
            lines.append(f"{state.target}: no hook of ours (run `bbrelay hooks install`)")
            continue
        if refused := _refused(settings, state.target):
            lines.append(f"{state.target}: keeps its old secret: {refused}")
            continue
        client.update_hook(scope, state.target, state.hook.id, wanted)
        lines.append(f"{state.target}: now signs with the new secret")
    return new, lines


def _refused(settings: Settings, target: str) -> Refusal | None:
    """`permissions`' refusal of a hook change on `target`, logged; None when allowed."""
    found = refusal(settings.bitbucket.permissions, target, "webhook")
    if found is not None:
        log.warning("permissions.write_refused", **found.log_fields)
    return found
