"""`bbrelay check`: one line per check (ok, warn or fail) with what to do about it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import redis
from celery import Celery

from bbrelay import hooks
from bbrelay.reconcile import describe
from bbrelay.scopes import missing_scopes, needed_scopes
from shared.bitbucket.auth import OAuthCredential
from shared.bitbucket.client import SERVER_GROUPS_PATH, SERVER_USERS_PATH, BitbucketClient
from shared.bitbucket.connected import Connection, ConnectionStore
from shared.bitbucket.errors import BitbucketError
from shared.bitbucket.factory import build_client
from shared.bitbucket.transport import BUCKET_GROUP, Sender
from shared.celery_config import celery_config
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.permissions import conflicts
from shared.ratelimit import ConsumerPool
from shared.reconcile.run import PassReport
from shared.reconcile.scope import workspaces_to_reconcile
from shared.reconcile.state import ReconcileState
from shared.redis import connect, redacted_url
from shared.sealing import Sealer
from shared.spool import Spool
from shared.task_names import QUEUE
from shared.teams.store import TeamStore
from shared.teams.sync import workspaces_to_sync
from workers.beat_heartbeat import HEARTBEAT_KEY as BEAT_HEARTBEAT_KEY
from workers.beat_heartbeat import STARTED_KEY as BEAT_STARTED_KEY

BEAT_STALE = 60.0
# A first sync not done yet is normal this long after beat's start (at least one interval).
FIRST_SYNC_GRACE = 60.0


@dataclass(frozen=True)
class Line:
    check: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def ok(check: str, detail: str) -> Line:
    return Line(check, "ok", detail)


def warn(check: str, detail: str, fix: str) -> Line:
    return Line(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str) -> Line:
    return Line(check, "fail", detail, fix)


def connected_line(connection: Connection) -> Line:
    """Who the connected account (Connect Bitbucket) acts as, its scopes, since when."""
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(connection.connected_at))
    scopes = connection.scopes or "(not listed)"
    return ok("connected", f"acts as {connection.user}, scopes {scopes}, connected {since}")


class Checker:
    """Runs every check against one configuration; later checks skip what earlier ones ruled out."""

    def __init__(self, settings: Settings, *, inspect_timeout: float = 1.5) -> None:
        self.settings = settings
        self.inspect_timeout = inspect_timeout
        self.redis = connect(settings.relay.redis_url)
        self.redis_ok = False
        self.client: BitbucketClient | None = None

    def run(self) -> list[Line]:
        lines = [self.config(), *self.permissions(), self.redis_reachable(), self.spool()]
        if not self.redis_ok:
            return lines
        lines += [self.aof(), self.workers(), self.beat()]
        lines += self.bitbucket()
        lines += [self.last_webhook(), *self.team_sync(), self.reconcile()]
        return lines

    def reconcile(self) -> Line:
        """When the last reconcile pass ran and what it found."""
        if not self.settings.bitbucket.reconciles:
            return ok("reconcile", "off")
        if not workspaces_to_reconcile(self.settings):
            fix = "name them in repositories/workspaces.allowList or teamSync.workspaceWhitelist"
            return warn("reconcile", "no workspace to look at", fix)
        last = ReconcileState(self.redis).last_report()
        if last is None:
            every = self.settings.bitbucket.reconcile.interval
            return ok("reconcile", f"no pass has run yet (beat runs one every {every:.0f}s)")
        return ok("reconcile", describe(PassReport(**last))[0])

    def config(self) -> Line:
        settings = self.settings
        mode = "dry-run (no credentials)" if settings.dry_run else "live"
        detail = f"{settings.source or 'defaults'}; {settings.bitbucket.product}; {mode}"
        if settings.dry_run:
            return warn("config", detail, "add Bitbucket credentials to leave dry-run mode")
        return ok("config", detail)

    def permissions(self) -> list[Line]:
        """A warning per enabled feature that `permissions` forbids somewhere."""
        fix = "grant write in permissions, or turn the feature off"
        return [warn("permissions", found, fix) for found in conflicts(self.settings.bitbucket)]

    def redis_reachable(self) -> Line:
        where = redacted_url(self.settings.relay.redis_url)
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            fix = "start Redis or point BBRELAY_REDIS_URL at it"
            return fail("redis", f"{where} unreachable: {exc}", fix)
        self.redis_ok = True
        if next(self.redis.scan_iter(match="bbrelay:*", count=1000), None) is None:
            return warn(
                "redis",
                f"{where} answers but holds no relay data (no bbrelay:* keys)",
                "if the relay runs, this is another Redis: set BBRELAY_REDIS_URL to the relay's",
            )
        return ok("redis", f"{where} answers")

    def spool(self) -> Line:
        """The receiver's spool on this host: deliveries kept while Redis was unreachable."""
        relay = self.settings.relay
        try:
            stats = Spool(relay.spool_dir, relay.spool.max_bytes).stats()
        except OSError as exc:
            return warn("spool", f"{relay.spool_dir} unreadable: {exc}", "check its permissions")
        if not stats.depth:
            return ok("spool", f"{relay.spool_dir} empty")
        detail = (
            f"{stats.depth} deliveries ({stats.bytes} bytes) wait in {relay.spool_dir}, "
            f"the oldest for {stats.oldest_age:.0f}s"
        )
        return warn("spool", detail, "a running receiver drains it once Redis answers")

    def aof(self) -> Line:
        try:
            value = self.redis.config_get("appendonly").get("appendonly")
        except redis.RedisError:
            return warn("redis aof", "CONFIG GET refused; AOF unknown", "check appendonly yes")
        if value == "yes":
            return ok("redis aof", "appendonly yes")
        return warn(
            "redis aof",
            "appendonly no: a Redis restart loses queued tasks and records",
            "run Redis with --appendonly yes",
        )

    def workers(self) -> Line:
        app = Celery("bbrelay-check", set_as_current=False)
        app.conf.update(celery_config(self.settings))
        try:
            replies = app.control.inspect(timeout=self.inspect_timeout).active_queues() or {}
        except Exception as exc:  # kombu raises several kinds for a dead broker
            return fail("workers", f"could not ask: {exc}", "check Redis")
        finally:
            app.close()
        if not replies:
            return fail(
                "workers",
                "no worker answered",
                "start one: `celery -A workers.celery_app:app worker -Q bbrelay`",
            )
        serving = sorted(
            name for name, queues in replies.items() if any(q.get("name") == QUEUE for q in queues)
        )
        detail = ", ".join(
            f"{name} [{', '.join(sorted(q.get('name', '') for q in queues))}]"
            for name, queues in sorted(replies.items())
        )
        if not serving:
            return fail(
                "workers", f"none consumes {QUEUE}: {detail}", f"start workers with -Q {QUEUE}"
            )
        return ok("workers", f"{len(replies)} alive: {detail}")

    def beat(self) -> Line:
        raw = self.redis.get(BEAT_HEARTBEAT_KEY)
        if raw is None:
            return fail(
                "beat", "no heartbeat", "start exactly one `celery -A workers.celery_app:app beat`"
            )
        age = time.time() - float(raw)
        if age > BEAT_STALE:
            return fail("beat", f"last heartbeat {age:.0f}s ago", "restart beat")
        return ok("beat", f"heartbeat {age:.0f}s ago")

    def bitbucket(self) -> list[Line]:
        sealer = Sealer(self.settings.relay.encryption_keys)
        connection = ConnectionStore(self.redis, sealer).load()
        if self.settings.dry_run and connection is None:
            return [warn("bitbucket", "dry-run: not contacted", "add credentials")]
        client = build_client(
            self.settings.bitbucket, self.redis, sealer, sign_in=self.settings.sign_in
        )
        try:
            user = client.current_user()
        except BitbucketError as exc:
            return [fail("bitbucket", str(exc), "check the URL, the network and the credentials")]
        self.client = client
        lines = [ok("bitbucket", f"{self.settings.bitbucket.api_url} as {user.name or user.id}")]
        if connection is not None:
            lines.append(connected_line(connection))
        lines.append(self.scopes(client))
        if self.settings.bitbucket.product == "server" and workspaces_to_sync(self.settings):
            lines.append(self.team_access(client))
        lines += self.hooks(client)
        lines += self.budget(client)
        return lines

    def scopes(self, client: BitbucketClient) -> Line:
        sender = client.sender
        oauth = [
            c for c in getattr(sender, "credentials", {}).values() if isinstance(c, OAuthCredential)
        ]
        if not oauth:
            return ok("scopes", "token or password credentials: scopes are the account's own")
        granted = set(oauth[0].granted_scopes().replace(",", " ").split())
        missing = missing_scopes(needed_scopes(self.settings), granted)
        if missing:
            listed = ", ".join(f"{s} (for {why})" for s, why in sorted(missing.items()))
            return fail(
                "scopes", f"token lacks {listed}", "grant them to the OAuth consumer in Bitbucket"
            )
        return ok("scopes", " ".join(sorted(granted)))

    def team_access(self, client: BitbucketClient) -> Line:
        """DC team sync reads groups and members outside /admin, which refuses HTTP access
        tokens (BSERV-10482); say so here, before a sync fails."""
        where = f"{SERVER_GROUPS_PATH} and {SERVER_USERS_PATH}?group="
        try:
            next(iter(client.iter_groups("")), None)
        except BitbucketError as exc:
            return fail(
                "team access",
                f"team sync reads /rest{where}: {exc}",
                "give the account LICENSED_USER access; an admin endpoint "
                "(/rest/api/latest/admin/*) would refuse an HTTP access token",
            )
        return ok("team access", f"team sync reads /rest{where} (no admin endpoint)")

    def hooks(self, client: BitbucketClient) -> list[Line]:
        try:
            hooks.refuse_events_not_offered(client, self.settings)
        except hooks.HooksError as exc:
            return [fail("hooks", str(exc), "subscribe only to keys this Bitbucket offers")]
        except BitbucketError as exc:
            return [fail("hooks", f"webhook capabilities: {exc}", "check the URL and access")]
        try:
            states = hooks.survey(client, self.settings)
        except hooks.HooksError as exc:
            return [warn("hooks", str(exc), "configure it to have hooks checked")]
        except BitbucketError as exc:
            return [fail("hooks", str(exc), "check the `webhook` scope and the allow lists")]
        lines = []
        for state in states:
            name = f"hook {state.target}"
            if state.hook is None:
                lines.append(fail(name, "missing", "run `bbrelay hooks install`"))
            elif state.needs:
                lines.append(
                    fail(name, "needs " + "; ".join(state.needs), "run `bbrelay hooks install`")
                )
            else:
                lines.append(ok(name, "present, active, subscribed, secret set"))
        return lines or [warn("hooks", "no targets", "list repositories in allowList")]

    def budget(self, client: BitbucketClient) -> list[Line]:
        sender = client.sender
        if not isinstance(sender, Sender):
            return []
        pool: ConsumerPool = sender.pool
        capacity = pool.bucket.capacity
        lines = []
        for consumer in pool.consumers:
            left = pool.bucket.peek(consumer, BUCKET_GROUP)
            per_hour = pool.bucket.per_hour(consumer, BUCKET_GROUP)
            detail = f"{left:.0f} of {capacity} tokens left; {per_hour}/h in force"
            if left >= 1:
                lines.append(ok(f"budget {consumer}", detail))
            else:
                lines.append(warn(f"budget {consumer}", detail, "calls wait for the refill"))
        return lines

    def last_webhook(self) -> Line:
        recent = DeliveryStore(self.redis).recent(1)
        if not recent:
            return warn(
                "last webhook", "none received", "run `bbrelay send-test-event` or check the hooks"
            )
        age = time.time() - float(recent[0].get("received_at", 0))
        return ok(
            "last webhook",
            f"{age:.0f}s ago ({recent[0].get('event_key')}, {recent[0].get('status')})",
        )

    def team_sync(self) -> list[Line]:
        names = workspaces_to_sync(self.settings)
        if not names:
            return [ok("team sync", "off")]
        store = TeamStore(self.redis)
        lines = []
        for workspace in names:
            view = store.view(workspace)
            status = (view or {}).get("status", {})
            if not status.get("last_success"):
                if not status.get("last_error") and self._first_sync_pending():
                    lines.append(
                        warn(
                            f"team sync {workspace}",
                            "not yet: the first sync runs when beat starts",
                            "wait for it; see the worker log if it does not come",
                        )
                    )
                    continue
                error = status.get("last_error") or "never ran"
                lines.append(
                    fail(
                        f"team sync {workspace}",
                        error,
                        "see the worker log; `bbrelay sync-teams --dry-run`",
                    )
                )
                continue
            age = time.time() - float(status["last_success"])
            detail = f"last complete {age:.0f}s ago, {status.get('members', '?')} members"
            if status.get("last_error"):
                lines.append(
                    warn(
                        f"team sync {workspace}",
                        f"{detail}; last attempt: {status['last_error']}",
                        "see the worker log",
                    )
                )
            else:
                lines.append(ok(f"team sync {workspace}", detail))
        return lines

    def _first_sync_pending(self) -> bool:
        """Whether beat started less than one sync interval (at least a minute) ago."""
        started = self.redis.get(BEAT_STARTED_KEY)
        if started is None:
            return False
        grace = max(self.settings.teams.sync_interval, FIRST_SYNC_GRACE)
        return time.time() - float(started) < grace


def render(lines: list[Line], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(line) for line in lines], indent=2)
    out = []
    for line in lines:
        out.append(f"{line.status:5} {line.check:24} {line.detail}")
        if line.fix:
            out.append(f"{'':31}-> {line.fix}")
    return "\n".join(out)


def exit_status(lines: list[Line]) -> int:
    return 1 if any(line.status == "fail" for line in lines) else 0
