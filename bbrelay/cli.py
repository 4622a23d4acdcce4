"""`bbrelay`: the operator's command line (run, send-test-event, deliveries, jobs, sync-teams)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis
import structlog

from bbrelay.runtime import environ_with_runtime, read_runtime, var_dir
from shared.config import ConfigError, load_settings
from shared.deliveries import DeliveryStore
from shared.jobs.store import JobStore
from shared.redis import connect, redacted_url
from shared.settings import Settings


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
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bbrelay", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start Redis, receiver, worker, beat and Flower")
    run.add_argument("--port", type=int, default=8000, help="receiver port (Flower: port + 1)")
    run.add_argument("--concurrency", type=int, default=2, help="worker processes")
    run.set_defaults(func=_run)

    send = sub.add_parser("send-test-event", help="post a signed sample delivery")
    send.add_argument("--event", help="event key, e.g. repo:push or pr:opened")
    send.add_argument("--product", choices=["cloud", "server"], help="default: configured type")
    send.add_argument("--url", help="receiver webhook URL (default: the running service)")
    send.add_argument("--exact", action="store_true", help="send the fixture bytes unchanged")
    send.add_argument("--no-wait", action="store_true", help="do not wait for the worker")
    send.set_defaults(func=_send_test_event)

    deliveries = sub.add_parser("deliveries", help="list recent webhook deliveries")
    deliveries.add_argument("--limit", type=int, default=20)
    deliveries.add_argument("--failed", action="store_true", help="dead letters only")
    deliveries.add_argument("--json", action="store_true", help="one JSON object per line")
    deliveries.set_defaults(func=_deliveries)

    jobs = sub.add_parser("jobs", help="list recent jobs, or show one")
    jobs.add_argument("job_id", nargs="?", help="show this job in full")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")
    jobs.set_defaults(func=_jobs)

    check = sub.add_parser("check", help="one report: config, Redis, workers, Bitbucket, hooks")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    check.set_defaults(func=_check)

    hooks = sub.add_parser("hooks", help="the relay's own webhooks in Bitbucket")
    hooks_sub = hooks.add_subparsers(required=True, metavar="ACTION")
    hooks_list = hooks_sub.add_parser("list", help="our hook on each allowed target")
    hooks_list.set_defaults(func=_hooks, action="list", dry_run=True)
    hooks_install = hooks_sub.add_parser("install", help="create or update our hooks")
    hooks_install.add_argument("--dry-run", action="store_true", help="say what would change")
    hooks_install.set_defaults(func=_hooks, action="install")
    hooks_rotate = hooks_sub.add_parser("rotate-secret", help="give every hook a new secret")
    hooks_rotate.set_defaults(func=_hooks, action="rotate-secret", dry_run=False)

    replay = sub.add_parser("replay", help="run stored deliveries again (dead letters)")
    replay.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    replay.add_argument("--all-failed", action="store_true", help="every dead letter")
    replay.set_defaults(func=_replay)

    sync = sub.add_parser("sync-teams", help="sync workspace members to roles now, print the diff")
    sync.add_argument("--workspace", help="only this workspace (default: every allowed one)")
    sync.add_argument("--dry-run", action="store_true", help="read and diff, change nothing")
    sync.add_argument("--force", action="store_true", help="apply a diff held for removals")
    sync.set_defaults(func=_sync_teams)

    config = sub.add_parser("config", help="validate the configuration and summarise it")
    config.set_defaults(func=_config)
    return parser


def _run(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.run import run

    return run(os.environ, port=args.port, concurrency=args.concurrency)


def _send_test_event(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.test_event import DEFAULT_EVENTS, UnknownTestEvent, send_test_event

    settings = load_settings(environ=environ)
    if not settings.bitbucket.webhook_secrets:
        print("bbrelay: no webhook secret configured (BBRELAY_WEBHOOK_SECRET)", file=sys.stderr)
        return 2
    product = args.product or settings.bitbucket.product
    event_key = args.event or DEFAULT_EVENTS[product]
    url = args.url or _receiver_url(settings, environ) + "/api/webhooks/bitbucket"
    secret = settings.bitbucket.webhook_secrets[0]
    try:
        delivery = send_test_event(url, secret, product, event_key, unique=not args.exact)
    except UnknownTestEvent as exc:
        print(f"bbrelay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"bbrelay: could not reach {url}: {exc}", file=sys.stderr)
        return 1
    print(f"POST {url}  {product} {event_key}  delivery {delivery.delivery_id}")
    print(f"{delivery.status} {json.dumps(delivery.answer)}")
    if delivery.status == 202 and delivery.answer.get("status") == "queued" and not args.no_wait:
        record = _wait_for_worker(settings, delivery.delivery_id)
        print(f"worker: {record.get('status', 'unknown') if record else 'no record'}")
    return 0 if 200 <= delivery.status < 300 else 1


def _receiver_url(settings: Settings, environ: dict[str, str]) -> str:
    running = read_runtime(var_dir(environ)).get("receiver_url")
    return str(running or settings.relay.public_url or "http://127.0.0.1:8000").rstrip("/")


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
    settings = load_settings(environ=environ)
    store = DeliveryStore(connect(settings.relay.redis_url))
    records = store.recent(args.limit, failed=args.failed)
    if args.json:
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return 0
    if not records:
        print("no deliveries" + (" failed" if args.failed else " yet"))
        return 0
    print(f"{'RECEIVED':20} {'DELIVERY':38} {'STATUS':10} {'TRIES':5} {'EVENT':22} REPOSITORY")
    for record in records:
        received = datetime.fromtimestamp(record.get("received_at", 0), UTC)
        print(
            f"{received:%Y-%m-%d %H:%M:%S}  {record['delivery_id']:38} {record['status']:10} "
            f"{record.get('attempts', 0):<5} {record.get('event_key', ''):22} "
            f"{record.get('repository', '')}"
        )
        if record.get("error"):
            print(f"{'':22}error: {record['error']}")
    return 0


def _jobs(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = load_settings(environ=environ)
    store = JobStore(connect(settings.relay.redis_url))
    if args.job_id:
        job = store.get(args.job_id)
        if job is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 1
        print(json.dumps(job.to_public(), indent=2, sort_keys=True))
        return 0
    jobs = store.recent(args.limit)
    if args.json:
        for job in jobs:
            print(json.dumps(job.to_public(), sort_keys=True))
        return 0
    if not jobs:
        print("no jobs yet")
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
    return 0


def _check(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay import check

    try:
        settings = load_settings(environ=environ)
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
    from shared.webhook_secrets import SecretRing

    settings = load_settings(environ=environ)
    client_redis = connect(settings.relay.redis_url)
    client = build_client(settings.bitbucket, client_redis)
    ring = SecretRing(client_redis)
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
            print(f"new webhook secret: {new}")
            print(
                "Deliveries signed with the old or the new secret are both accepted now. Put the\n"
                "new one in webhookSecret (or BBRELAY_WEBHOOK_SECRET) and keep the old one in\n"
                "webhookSecrets until Bitbucket has nothing older left to retry (a day covers\n"
                "DC's retries; Cloud does not retry), then remove the old one."
            )
    except (hooks.HooksError, BitbucketError) as exc:
        print(f"hooks: {exc}", file=sys.stderr)
        return 1
    return 0


def _replay(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.replay import replay_many

    settings = load_settings(environ=environ)
    store = DeliveryStore(connect(settings.relay.redis_url))
    ids = list(args.delivery_ids)
    if args.all_failed:
        ids += [str(r["delivery_id"]) for r in store.recent(10_000, failed=True)]
    if not ids:
        print("nothing to replay: name delivery ids or use --all-failed")
        return 0
    return replay_many(settings, store, ids)


def _sync_teams(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from bbrelay.team_sync import sync_teams_now

    return sync_teams_now(
        load_settings(environ=environ), args.workspace, dry_run=args.dry_run, force=args.force
    )


def _config(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = load_settings(environ=environ)
    bitbucket = settings.bitbucket
    print(f"configuration OK ({settings.source or 'defaults, no file'})")
    print(f"  bitbucket   {bitbucket.product} {bitbucket.api_url}")
    print(f"  mode        {'dry-run (no credentials)' if settings.dry_run else 'live'}")
    secrets = len(bitbucket.webhook_secrets)
    print(f"  consumers   {len(bitbucket.consumers)}; webhook secrets {secrets}")
    print(f"  redis       {redacted_url(settings.relay.redis_url)}")
    for warning in settings.warnings:
        print(f"  warning     {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
