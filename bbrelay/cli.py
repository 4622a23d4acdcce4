"""`bbrelay`: the operator's command line (run, send-test-event, deliveries, jobs, sync-teams)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import httpx
import redis
import structlog

from bbrelay.runtime import environ_with_runtime, read_runtime, runtime_file
from shared import permissions
from shared.bitbucket.errors import BitbucketError
from shared.config import ConfigError, load_settings
from shared.config.settings import RelaySettings, Settings
from shared.deliveries import DeliveryStore
from shared.jobs.store import JobStore
from shared.redis import connect, redacted_url
from shared.sealing import Sealer

DEFAULT_REDIS_URL = next(f.default for f in fields(RelaySettings) if f.name == "redis_url")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # The command's output is stdout; log lines of the code it runs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    environ = environ_with_runtime(os.environ)
    try:
        result: int = args.func(args, environ)
    except ConfigError as exc:
        print(f"bbrelay: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"bbrelay: Redis unreachable ({exc}); is `make run` running?", file=sys.stderr)
        return 1
    except (httpx.HTTPError, BitbucketError, OSError) as exc:
        print(f"bbrelay: {_error_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bbrelay: interrupted", file=sys.stderr)
        return 130
    return result


def _error_text(exc: BaseException) -> str:
    """One line for an error a user can meet: the request it concerns when there is one."""
    if isinstance(exc, httpx.RequestError):
        return f"{exc.request.method} {exc.request.url} failed: {exc or type(exc).__name__}"
    return f"{exc or type(exc).__name__}"


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default in (None, argparse.SUPPRESS, []) or default is False or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)"


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help starts with `summary` and shows defaults."""
    return sub.add_parser(name, help=summary, description=summary, formatter_class=_HelpFormatter)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bbrelay", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = _command(
        sub, "run", "start Redis, receiver, worker, beat and Flower (what make run runs)"
    )
    run.add_argument("--port", type=int, default=8000, help="receiver port; Flower: port + 1")
    run.add_argument("--concurrency", type=int, default=2, help="worker processes")
    run.set_defaults(func=_run)

    send = _command(sub, "send-test-event", "post a signed sample delivery and wait for the worker")
    send.add_argument(
        "--event",
        help="event key or alias (push, pr_opened, pr_updated, pr_merged); "
        "default: repo:push on Cloud, repo:refs_changed on Server/DC",
    )
    send.add_argument("--product", choices=["cloud", "server"], help="default: configured type")
    send.add_argument(
        "--repo", metavar="WS/REPO", help="the payload's repository (DC: PROJECT/REPO)"
    )
    send.add_argument("--url", help="receiver webhook URL; default: the running service")
    send.add_argument("--exact", action="store_true", help="send the fixture bytes unchanged")
    send.add_argument("--no-wait", action="store_true", help="do not wait for the worker")
    send.set_defaults(func=_send_test_event)

    deliveries = _command(sub, "deliveries", "list recent webhook deliveries")
    deliveries.add_argument("--limit", type=int, default=20, help="at most this many")
    deliveries.add_argument("--failed", action="store_true", help="dead letters only")
    deliveries.add_argument("--json", action="store_true", help="one JSON object per line")
    deliveries.set_defaults(func=_deliveries)

    jobs = _command(sub, "jobs", "list recent jobs, or show one")
    jobs.add_argument("job_id", nargs="?", help="show this job in full")
    jobs.add_argument("--limit", type=int, default=20, help="at most this many")
    jobs.add_argument("--dead", action="store_true", help="dead letters only")
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")
    jobs.set_defaults(func=_jobs)

    check = _command(sub, "check", "one report: config, Redis, workers, beat, Bitbucket, hooks")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    check.set_defaults(func=_check)

    connect_cmd = _command(
        sub, "connect", "print the Connect Bitbucket link (the relay's own Bitbucket credential)"
    )
    connect_cmd.add_argument(
        "--revoke", action="store_true", help="forget the connected account's tokens"
    )
    connect_cmd.set_defaults(func=_connect)

    hooks = _command(sub, "hooks", "the relay's own webhooks in Bitbucket")
    hooks_sub = hooks.add_subparsers(required=True, metavar="ACTION")
    hooks_list = _command(hooks_sub, "list", "our hook on each allowed target")
    hooks_list.set_defaults(func=_hooks, action="list", dry_run=True)
    hooks_install = _command(hooks_sub, "install", "create or update our hooks")
    hooks_install.add_argument("--dry-run", action="store_true", help="say what would change")
    hooks_install.set_defaults(func=_hooks, action="install")
    hooks_rotate = _command(hooks_sub, "rotate-secret", "give every hook a new secret")
    hooks_rotate.set_defaults(func=_hooks, action="rotate-secret", dry_run=False)
    hooks_retire = _command(
        hooks_sub, "retire-secret", "stop accepting rotated secrets now (all but the newest)"
    )
    hooks_retire.add_argument(
        "fingerprints", nargs="*", metavar="FINGERPRINT", help="only these (as listed)"
    )
    hooks_retire.set_defaults(func=_retire_secret)

    replay = _command(sub, "replay", "run dead letters again: stored deliveries and dead jobs")
    replay.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID", help="these deliveries")
    replay.add_argument(
        "--job", action="append", default=[], metavar="JOB_ID", help="this dead job (repeatable)"
    )
    replay.add_argument(
        "--all-failed", action="store_true", help="every failed delivery and every dead job"
    )
    replay.set_defaults(func=_replay)

    sync = _command(sub, "sync-teams", "sync workspace members to roles now, print the diff")
    sync.add_argument("--workspace", help="only this workspace; default: every allowed one")
    sync.add_argument("--dry-run", action="store_true", help="read and diff, change nothing")
    sync.add_argument("--force", action="store_true", help="apply a diff held for removals")
    sync.set_defaults(func=_sync_teams)

    reconcile = _command(sub, "reconcile", "look for pushes Bitbucket never delivered, once")
    reconcile.add_argument("--dry-run", action="store_true", help="say what would start")
    reconcile.set_defaults(func=_reconcile)
    inventory = _command(sub, "inventory", "refresh the inventory (repositories, people, PRs) once")
    inventory.add_argument("--workspace", help="one workspace; default every inventory workspace")
    inventory.add_argument("--dry-run", action="store_true", help="count changes, save none")
    inventory.set_defaults(func=_inventory)

    config = _command(sub, "config", "validate the configuration and summarise it")
    config.set_defaults(func=_config)
    return parser


def _version() -> str:
    try:
        return metadata.version("bitbucket-relay")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _settings(environ: dict[str, str]) -> Settings:
    """The settings a command works with; says so when they fall back to the default Redis."""
    settings = load_settings(environ=environ)
    if settings.relay.redis_url == DEFAULT_REDIS_URL and not read_runtime(environ):
        print(
            f"bbrelay: no running `bbrelay run` found ({runtime_file(environ)}), so this uses the "
            f"default Redis {DEFAULT_REDIS_URL}; run it inside the checkout, or set "
            "BBRELAY_REDIS_URL (and BBRELAY_VAR_DIR)",
            file=sys.stderr,
        )
    return settings


def _run(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.run import run

    return run(os.environ, port=args.port, concurrency=args.concurrency)


def _send_test_event(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.test_event import (
        DEFAULT_EVENTS,
        UnknownTestEvent,
        resolve_event,
        send_test_event,
    )

    settings = _settings(environ)
    if not settings.bitbucket.webhook_secrets:
        print(
            "bbrelay: no webhook secret configured: set BBRELAY_WEBHOOK_SECRET, or run this where "
            "`make run` keeps var/webhook-secret (or set BBRELAY_VAR_DIR to that var dir)",
            file=sys.stderr,
        )
        return 2
    if args.exact and args.repo:
        print(
            "bbrelay: --exact sends the fixture unchanged; drop --exact or --repo", file=sys.stderr
        )
        return 2
    product = args.product or settings.bitbucket.product
    event_key = resolve_event(product, args.event or DEFAULT_EVENTS[product])
    url, where = (args.url, "--url") if args.url else _receiver_url(settings, environ)
    secret = settings.bitbucket.webhook_secrets[0]
    try:
        delivery = send_test_event(
            url, secret, product, event_key, unique=not args.exact, repository=args.repo
        )
    except UnknownTestEvent as exc:
        print(f"bbrelay: {exc}", file=sys.stderr)
        return 2
    except (httpx.HTTPError, OSError) as exc:
        print(
            f"bbrelay: could not reach {url} ({where}): {exc or type(exc).__name__}; "
            "start the relay (`make run`) or name the receiver with --url",
            file=sys.stderr,
        )
        return 1
    print(f"POST {url}  {product} {event_key}  delivery {delivery.delivery_id}")
    print(f"{delivery.status} {json.dumps(delivery.answer)}")
    if delivery.status == 202 and delivery.answer.get("status") == "queued" and not args.no_wait:
        record = _wait_for_worker(settings, delivery.delivery_id)
        print(f"worker: {record.get('status', 'unknown') if record else 'no record'}")
    return 0 if 200 <= delivery.status < 300 else 1


def _receiver_url(settings: Settings, environ: dict[str, str]) -> tuple[str, str]:
    """The webhook URL of the running service, else of publicUrl, else the default; and which."""
    running = read_runtime(environ).get("receiver_url")
    if running:
        base, where = str(running), "the running `bbrelay run`"
    elif settings.relay.public_url:
        base, where = settings.relay.public_url, "global.relay.publicUrl"
    else:
        base, where = "http://127.0.0.1:8000", "the default; no running `bbrelay run` found"
    return base.rstrip("/") + "/api/webhooks/bitbucket", where


def _wait_for_worker(settings: Settings, delivery_id: str, timeout: float = 10.0) -> dict[str, Any]:
    store = DeliveryStore(connect(settings.relay.redis_url))
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = store.get(delivery_id) or {}
        if record.get("status") in {"processed", "failed"}:
            break
        time.sleep(0.1)
    return record


def _deliveries(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = _settings(environ)
    store = DeliveryStore(connect(settings.relay.redis_url))
    records = store.recent(args.limit, failed=args.failed)
    if args.json:
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return 0
    if not records:
        print("no deliveries" + (" failed" if args.failed else " yet"))
        return 0
    ids = max(38, *(len(str(record["delivery_id"])) + 1 for record in records))
    events = max(22, *(len(str(record.get("event_key", ""))) + 1 for record in records))
    header = f"{'DELIVERY':{ids}} {'STATUS':10} {'TRIES':5} {'EVENT':{events}} REPOSITORY"
    print(f"{'RECEIVED':20} {header}")
    for record in records:
        received = datetime.fromtimestamp(record.get("received_at", 0), UTC)
        print(
            f"{received:%Y-%m-%d %H:%M:%S}  {record['delivery_id']:{ids}} {record['status']:10} "
            f"{record.get('attempts', 0):<5} {record.get('event_key', ''):{events}} "
            f"{record.get('repository', '')}"
        )
        if record.get("error"):
            print(f"{'':22}error: {record['error']}")
    return 0


def _jobs(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = _settings(environ)
    store = JobStore(connect(settings.relay.redis_url), Sealer(settings.relay.encryption_keys))
    if args.job_id:
        job = store.get(args.job_id)
        if job is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 1
        print(json.dumps(job.to_public(), indent=2, sort_keys=True))
        return 0
    jobs = store.dead_jobs(args.limit) if args.dead else store.recent(args.limit)
    if args.json:
        for job in jobs:
            print(json.dumps(job.to_public(), sort_keys=True))
        return 0
    if not jobs:
        print("no dead jobs" if args.dead else "no jobs yet")
        return 0
    print(f"{'CREATED':20} {'JOB':36} {'STATE':11} {'STATUS':11} {'COMMIT':12} REPOSITORY")
    for job in jobs:
        created = datetime.fromtimestamp(job.created_at, UTC)
        print(
            f"{created:%Y-%m-%d %H:%M:%S}  {job.job_id:36} {job.state:11} "
            f"{job.status_posted or '-':11} {(job.request.commit or '-')[:12]:12} "
            f"{job.request.repository}"
        )
        if job.description:
            print(f"{'':22}{job.description}")
        if job.dead:
            print(f"{'':22}dead letter: {job.dead} (bbrelay replay --job {job.job_id})")
    return 0


def _connect(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from shared.bitbucket.connected import ConnectionStore
    from shared.connect_link import connect_link

    settings = _settings(environ)
    if args.revoke:
        store = ConnectionStore(
            connect(settings.relay.redis_url), Sealer(settings.relay.encryption_keys)
        )
        print("disconnected" if store.revoke() else "not connected; nothing to revoke")
        return 0
    if not settings.sign_in.enabled or not settings.relay.api_tokens:
        print(
            "connect needs the sign-in consumer (global.auth.bitbucket.enabled, "
            "global.relay.identity) and an API token (global.relay.apiTokens)",
            file=sys.stderr,
        )
        return 2
    print("Open this link in a browser within 10 minutes, signed in to Bitbucket as the")
    print("account the relay should act as, and grant access:")
    print(connect_link(settings))
    return 0


def _check(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay import check

    try:
        settings = _settings(environ)
    except ConfigError as exc:
        line = check.fail("config", str(exc), "fix the keys named above")
        print(check.render([line], args.json))
        return 2
    lines = check.Checker(settings).run()
    print(check.render(lines, args.json))
    return check.exit_status(lines)


def _hooks(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay import hooks
    from shared.bitbucket.errors import BitbucketError
    from shared.bitbucket.factory import build_client
    from shared.webhook_secrets import SecretRing, fingerprint

    settings = _settings(environ)
    client_redis = connect(settings.relay.redis_url)
    sealer = Sealer(settings.relay.encryption_keys)
    client = build_client(settings.bitbucket, client_redis, sealer, sign_in=settings.sign_in)
    ring = SecretRing(client_redis, sealer, lifetime=settings.relay.rotated_secret_lifetime)
    if settings.dry_run and not args.dry_run:
        print("no Bitbucket credentials: dry-run mode, nothing would be sent (use --dry-run)")
        return 1
    try:
        if args.action == "list":
            for state in hooks.survey(client, settings):
                hook = state.hook
                shown = "missing" if hook is None else f"{hook.id} active={hook.active}"
                needs = f"  needs {'; '.join(state.needs)}" if state.needs else ""
                print(f"{state.target}: {shown}{needs}")
        elif args.action == "install":
            for line in hooks.install(client, settings, ring, dry_run=args.dry_run):
                print(line)
        else:
            new, lines = hooks.rotate_secret(client, settings, ring)
            for line in lines:
                print(line)
            print(f"new webhook secret: {new} (fingerprint {fingerprint(new)})")
            days = settings.relay.rotated_secret_lifetime / 86400
            print(
                "Deliveries signed with the old or the new secret are both accepted now. Put the\n"
                f"new one in webhookSecret (or BBRELAY_WEBHOOK_SECRET) within {days:g} days (the\n"
                "ring stops accepting it then) and keep the old one in webhookSecrets until\n"
                "Bitbucket has nothing older left to retry (a day covers DC's retries; Cloud does\n"
                "not retry), then remove the old one. `bbrelay hooks retire-secret` drops\n"
                "rotated secrets from the ring at once."
            )
    except (hooks.HooksError, BitbucketError) as exc:
        print(f"hooks: {exc}", file=sys.stderr)
        return 1
    return 0


def _retire_secret(args: argparse.Namespace, environ: dict[str, str]) -> int:
    """Remove rotated secrets from the ring now: the named ones, else all but the newest."""
    from shared.webhook_secrets import SecretRing

    settings = _settings(environ)
    sealer = Sealer(settings.relay.encryption_keys)
    ring = SecretRing(
        connect(settings.relay.redis_url), sealer, lifetime=settings.relay.rotated_secret_lifetime
    )
    entries = ring.entries()
    wanted = set(args.fingerprints) or {entry.fingerprint for entry in entries[:-1]}
    gone = ring.retire(wanted)
    for entry in gone:
        added = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.added_at))
        print(f"retired {entry.fingerprint} (added {added})")
    kept = [entry.fingerprint for entry in entries if entry not in gone]
    if not gone:
        print("no rotated secret matched: nothing retired")
    print(f"still accepted from the ring: {', '.join(kept) or 'none'}")
    return 0 if gone or not args.fingerprints else 1


def _replay(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.replay import replay_many, revive_jobs

    settings = _settings(environ)
    client = connect(settings.relay.redis_url)
    store = DeliveryStore(client)
    jobs = JobStore(client, Sealer(settings.relay.encryption_keys))
    ids, job_ids = list(args.delivery_ids), list(args.job)
    if args.all_failed:
        ids += [str(r["delivery_id"]) for r in store.recent(10_000, failed=True)]
        job_ids += jobs.dead(10_000)
        if not ids and not job_ids:
            print("no failed deliveries and no dead jobs: nothing to replay")
            return 0
    if not ids and not job_ids:
        print("nothing to replay: name delivery ids, --job JOB_ID, or use --all-failed")
        return 0
    status = replay_many(settings, store, ids) if ids else 0
    return max(status, revive_jobs(jobs, job_ids))


def _sync_teams(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.team_sync import sync_teams_now

    return sync_teams_now(
        _settings(environ), args.workspace, dry_run=args.dry_run, force=args.force
    )


def _reconcile(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.reconcile import reconcile_now

    return reconcile_now(_settings(environ), dry_run=args.dry_run)


def _inventory(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.inventory import inventory_now

    return inventory_now(_settings(environ), workspace=args.workspace, dry_run=args.dry_run)


def _config(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = load_settings(environ=environ)
    bitbucket = settings.bitbucket
    print(f"configuration OK ({settings.source or 'defaults, no file'})")
    print(f"  bitbucket   {bitbucket.product} {bitbucket.api_url}")
    print(f"  mode        {'dry-run (no credentials)' if settings.dry_run else 'live'}")
    secrets = len(bitbucket.webhook_secrets)
    print(f"  consumers   {len(bitbucket.consumers)}; webhook secrets {secrets}")
    print(f"  redis       {redacted_url(settings.relay.redis_url)}")
    for warning in [*settings.warnings, *permissions.conflicts(bitbucket)]:
        print(f"  warning     {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
