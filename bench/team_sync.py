"""Team sync of 10,000 members in 50 groups on the fake Bitbucket: calls made and wall time.

For Cloud and for Server/DC, prints the API calls one sync made, the minimum possible for the
largest page size each API allows (Cloud 100, DC 1000; the Cloud 1.0 groups list is unpaged),
and the sync's wall time with a token bucket large enough not to throttle.

Usage: .venv/bin/python bench/team_sync.py [--members 10000] [--groups 50] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.bitbucket.factory import build_client
from shared.config.settings import (
    BitbucketSettings,
    Consumer,
    RateLimit,
    Settings,
    TeamsSettings,
    TeamSyncSettings,
)
from shared.sealing import Sealer, new_encryption_key
from shared.secret import Secret
from shared.teams.store import TeamStore
from shared.teams.sync import run_sync
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket


def settings_for(fake: FakeBitbucket) -> Settings:
    rate = RateLimit(1_000_000, 100_000)
    if fake.product == "cloud":
        bitbucket = BitbucketSettings(
            api_url=fake.api_url,
            token_url=fake.token_url,
            consumers=(Consumer("client-1", Secret("secret-1")),),
            rate_limit=rate,
        )
    else:
        bitbucket = BitbucketSettings(
            product="server",
            url=fake.base_url,
            api_url=fake.api_url,
            token=Secret("dc-token"),
            rate_limit=rate,
        )
    return Settings(
        bitbucket=bitbucket,
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
        teams=TeamsSettings(mapping={"group-00": "admin", "group-01": "member"}),
    )


def minimum_calls(product: str, members: int, groups: int) -> int:
    if product == "cloud":
        return math.ceil(members / 100) + 1
    per_group = math.ceil(members / groups / 1000)
    return math.ceil(members / 1000) + math.ceil(groups / 1000) + groups * per_group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    client_redis = redis.Redis.from_url(args.redis_url)
    print(f"{args.members} members in {args.groups} groups, fake Bitbucket over HTTP on 127.0.0.1")
    print(f"{'product':10}{'API calls':>11}{'minimum':>9}{'wall s':>9}{'members':>9}")
    for product in ("cloud", "server"):
        client_redis.flushdb()
        with FakeBitbucket(product, tokens={"dc-token"}) as fake:
            team_data.seed(fake, "acme", args.members, args.groups)
            settings = settings_for(fake)
            client = build_client(
                settings.bitbucket, client_redis, Sealer([Secret(new_encryption_key())])
            )
            store = TeamStore(client_redis)
            started = time.perf_counter()
            report = run_sync(client, store, settings, "acme")
            wall = time.perf_counter() - started
            calls = len([r for r in fake.requests_to("*") if "/access_token" not in r.path])
        expected = minimum_calls(product, args.members, args.groups)
        print(f"{product:10}{calls:>11}{expected:>9}{wall:>9.2f}{report.members:>9}")
    client_redis.flushdb()


if __name__ == "__main__":
    main()
