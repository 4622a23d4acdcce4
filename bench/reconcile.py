"""One reconcile pass after 30 missed pushes on 10 repositories of a 500-repository workspace.

Prints the listing calls the pass made (token fetches and jobs' calls are not listing calls)
against the bound ceil(repositories / 100) + one branch listing per changed repository, and
the pass's wall time. Runs against the fake Bitbucket and an in-process fakeredis.

Usage: .venv/bin/python bench/reconcile.py [--repositories 500] [--changed 10] [--pushes 30]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import fakeredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.bitbucket.factory import build_client
from shared.config.settings import (
    AccessLists,
    BitbucketSettings,
    Consumer,
    RateLimit,
    ReconcileSettings,
    Settings,
)
from shared.deliveries import DeliveryStore
from shared.reconcile.run import Reconciler
from shared.sealing import Sealer, new_encryption_key
from shared.secret import Secret
from tests.fakes.bitbucket_server import FakeBitbucket


def listing_calls(fake: FakeBitbucket) -> int:
    return len(fake.requests_to("/2.0/repositories/acme", "GET")) + len(
        fake.requests_to("*/refs/branches", "GET")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repositories", type=int, default=500)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=30)
    args = parser.parse_args()
    with FakeBitbucket("cloud") as fake:
        old = time.time() - 3600
        for index in range(args.repositories):
            fake.push(f"acme/repo-{index:04}", "main", f"{index:040x}", at=old)
        settings = Settings(
            bitbucket=BitbucketSettings(
                api_url=fake.api_url,
                token_url=fake.token_url,
                consumers=(Consumer("client-1", Secret("secret-1")),),
                rate_limit=RateLimit(1_000_000, 100_000),
                repositories=AccessLists(("acme/*",)),
                reconcile=ReconcileSettings(interval=600.0, budget_share=1.0),
            )
        )
        client_redis = fakeredis.FakeRedis()
        sealer = Sealer([Secret(new_encryption_key())])  # a throwaway key: the cache is ours
        client = build_client(settings.bitbucket, client_redis, sealer)
        queued: list[str] = []
        reconciler = Reconciler(
            settings,
            client,
            client_redis,
            DeliveryStore(client_redis),
            lambda e, t: queued.append(t),
        )
        reconciler.run(now=time.time() - 120)  # the baseline, before the relay went down
        for index in range(args.pushes):
            sha = f"{index + 1:08x}" + "f" * 32
            fake.push(f"acme/repo-{index % args.changed:04}", f"feature/{index}", sha)
        before = listing_calls(fake)
        started = time.perf_counter()
        report = reconciler.run()
        elapsed = time.perf_counter() - started
        calls = listing_calls(fake) - before
    bound = math.ceil(args.repositories / 100) + args.changed
    print(
        f"repositories={args.repositories} changed={args.changed} pushes={args.pushes}: "
        f"{len(report.started)} heads started, {len(queued)} events queued"
    )
    print(
        f"listing calls: {calls} (pass counted {report.calls}); bound {bound}; "
        f"ratio {calls / bound:.2f}; pass {elapsed * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
