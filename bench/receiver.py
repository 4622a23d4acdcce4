"""Receiver throughput and latency beside two floors, in one run on the same gunicorn settings.

Serves three WSGI apps in turn with `gunicorn -c python:receiver.gunicorn_conf` and the same
production-style environment (JSON logs at the configured level, Prometheus multiprocess
metrics, no Bitbucket credentials so nothing leaves the machine):

  bare hello          bench/apps/hello.py: Flask answering "hello" without reading the request
  verify + send_task  bench/apps/floor.py: read the body, verify its HMAC, Celery send_task
  full receiver       receiver.wsgi:app: verify, parse, filter, dedupe and record in Redis,
                      and push the task message in one Lua script (Celery renders it),
                      metrics and a log line

and prints, for each, answers per second under saturation (wrk, closed loop) as the median of
several rounds that take the three apps in turn, then the two ratios (median of the rounds'
ratios) with their goals, then the receiver's latency at a fixed open-loop rate (500/s by default)
measured from each request's intended send time, so a stalled server is not hidden
(no coordinated omission). Every request is a distinct, correctly signed delivery of a real
Bitbucket push (unique X-Request-UUID and a unique commit hash in the body), generated before
the timed runs; the tasks the webhook apps enqueue are counted in Redis (LLEN of the queue).

The load generators share the machine's cores with gunicorn and Redis, as they would on a
2-core box; the output says so. The Redis database given is flushed before every run and after.

Usage: .venv/bin/python bench/receiver.py [--duration 5] [--rounds 3] [--connections 16]
           [--rate 500] [--rate-seconds 10] [--redis-url redis://127.0.0.1:6379/15]
           [--profile 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hashlib
import hmac
import importlib
import io
import json
import math
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from flask import Flask

from shared.redis import redacted_url
from shared.sealing import new_encryption_key
from shared.task_names import QUEUE

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's own directory comes first on sys.path and its name would
# shadow the `receiver` package the profile imports.
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
SECRET = "bench-webhook-secret-long-enough-for-production"
WEBHOOK_PATH = "/api/webhooks/bitbucket"
FIXTURE = ROOT / "tests" / "fixtures" / "bitbucket" / "cloud" / "repo-push.json"
HOOK_UUID = "{6a5c4e8e-5f0b-4d8e-9b5e-bench0000000}"
# A 40-hex marker put in place of the pushed commit hash, then replaced per delivery.
MARKER = "deadbeef" * 5
# LuaJIT (wrk's Lua) holds every request in memory; keep the request file well below its heap.
MAX_REQUEST_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class App:
    name: str
    target: str
    ok_status: int  # the answer that counts as done: 200 for hello, 202 (queued) otherwise
    enqueues: bool


HELLO = App("bare hello", "bench.apps.hello:app", 200, enqueues=False)
FLOOR = App("verify + send_task", "bench.apps.floor:app", 202, enqueues=True)
FULL = App("full receiver", "receiver.wsgi:app", 202, enqueues=True)


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    signature: str
    body: bytes

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Bitbucket-Webhooks/2.0",
            "X-Event-Key": "repo:push",
            "X-Hook-UUID": HOOK_UUID,
            "X-Request-UUID": self.delivery_id,
            "X-Attempt-Number": "1",
            "X-Hub-Signature": self.signature,
        }

    def http_request(self, port: int) -> bytes:
        fields = {"Host": f"127.0.0.1:{port}", "Connection": "close", **self.headers()}
        fields["Content-Length"] = str(len(self.body))
        head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        return f"POST {WEBHOOK_PATH} HTTP/1.1\r\n{head}\r\n".encode() + self.body


class Deliveries:
    """Distinct pushes of the fixture's repository, each signed as Bitbucket signs it."""

    def __init__(self) -> None:
        document = json.loads(FIXTURE.read_bytes())
        document["push"]["changes"][0]["new"]["target"]["hash"] = MARKER
        self.template = json.dumps(document, separators=(",", ":")).encode()
        if self.template.count(MARKER.encode()) != 1:
            raise SystemExit(f"{FIXTURE}: the commit-hash marker is not unique")
        self.made = 0

    @property
    def body_size(self) -> int:
        return len(self.template)

    def take(self, count: int) -> list[Delivery]:
        made = []
        for n in range(self.made, self.made + count):
            commit = hashlib.sha256(f"bench-{n}".encode()).hexdigest()[:40]
            body = self.template.replace(MARKER.encode(), commit.encode())
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            made.append(Delivery(f"{{{uuid.uuid4()}}}", f"sha256={digest}", body))
        self.made += count
        return made


@dataclass(frozen=True)
class Load:
    """What one timed run saw, closed loop (wrk or the Python fallback)."""

    requests: int
    seconds: float
    accepted: int  # 202
    other_2xx: int
    not_2xx: int
    socket_errors: int
    wrapped: int  # times the request file ran out and deliveries were sent again
    p50_ms: float
    p99_ms: float
    max_ms: float

    def ok(self, app: App) -> int:
        return self.accepted if app.ok_status == 202 else self.other_2xx

    def ok_rate(self, app: App) -> float:
        return self.ok(app) / self.seconds


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # gunicorn's master; its workers are its children


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU the processes have used so far (Linux /proc; NaN elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for pid in pids:
        try:
            fields = proc_stat(pid)
        except OSError:
            return math.nan
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def with_children(pid: int) -> list[int]:
    """`pid` and its direct children (gunicorn's master and workers)."""
    found = [pid]
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if int(proc_stat(int(entry.name))[1]) == pid:
                        found.append(int(entry.name))
    return found


# --- gunicorn --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(app: App, env: Mapping[str, str], log: Path) -> Iterator[Server]:
    """Serve `app` as production serves the receiver; yields the server once it accepts."""
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "python:receiver.gunicorn_conf", app.target]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env={**env, "BBRELAY_BIND": f"127.0.0.1:{port}"},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"gunicorn {app.target} exited ({proc.returncode}):\n{tail}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {app.target} did not listen on {port}") from None
                time.sleep(0.1)
        yield Server(port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- raw HTTP/1.1 client (asyncio) -----------------------------------------------------------


async def post(port: int, delivery: Delivery, timeout: float = 30.0) -> int:
    """One delivery on its own connection (`Connection: close`: read to the end of the answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(delivery.http_request(port))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1])


async def warm_up(port: int, batch: Sequence[Delivery], concurrency: int = 8) -> list[int]:
    """Let every worker import lazily, connect to Redis and declare the queue before timing."""
    gate = asyncio.Semaphore(concurrency)

    async def one(delivery: Delivery) -> int:
        async with gate:
            return await post(port, delivery)

    return list(await asyncio.gather(*(one(d) for d in batch)))


@dataclass(frozen=True)
class FixedRate:
    sent: int
    answered: int
    accepted: int
    errors: int
    latencies_ms: list[float]
    late_start_ms: list[float]  # how late the generator itself sent, a health check


async def fixed_rate(port: int, batch: Sequence[Delivery], rate: float) -> FixedRate:
    """Open loop: delivery n is due at start + n/rate, whatever happened to earlier ones;
    its latency runs from when it was due to its answer's last byte."""
    latencies: list[float] = []
    late: list[float] = []
    statuses: list[int] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(n: int, delivery: Delivery) -> None:
        nonlocal errors
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        late.append(1000 * (time.perf_counter() - due))
        try:
            status = await post(port, delivery)
        except (OSError, IndexError, ValueError):  # TimeoutError is an OSError
            errors += 1
            return
        latencies.append(1000 * (time.perf_counter() - due))
        statuses.append(status)

    await asyncio.gather(*(one(n, d) for n, d in enumerate(batch)))
    accepted = sum(1 for s in statuses if s == 202)
    return FixedRate(len(batch), len(statuses), accepted, errors, latencies, late)


async def closed_loop(
    port: int, batch: Sequence[Delivery], connections: int, duration: float
) -> Load:
    """The fallback when wrk is missing: `connections` clients posting back to back."""
    latencies: list[float] = []
    statuses: list[int] = []
    errors = 0
    wrapped = 0
    cursor = 0
    stop = time.perf_counter() + duration

    async def client() -> None:
        nonlocal errors, wrapped, cursor
        while time.perf_counter() < stop:
            if cursor == len(batch):
                cursor, wrapped = 0, wrapped + 1
            delivery = batch[cursor]
            cursor += 1
            sent = time.perf_counter()
            try:
                statuses.append(await post(port, delivery))
            except (OSError, IndexError, ValueError):  # TimeoutError is an OSError
                errors += 1
                continue
            latencies.append(1000 * (time.perf_counter() - sent))

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return Load(
        requests=len(statuses),
        seconds=time.perf_counter() - began,
        accepted=sum(1 for s in statuses if s == 202),
        other_2xx=sum(1 for s in statuses if 200 <= s < 300 and s != 202),
        not_2xx=sum(1 for s in statuses if not 200 <= s < 300),
        socket_errors=errors,
        wrapped=wrapped,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies, default=math.nan),
    )


# --- wrk -------------------------------------------------------------------------------------


def write_requests(batch: Sequence[Delivery], prefix: Path) -> None:
    """The file wrk_requests.lua reads: one thread, so `<prefix>.0` holds every delivery."""
    with Path(f"{prefix}.0").open("wb") as out:
        for d in batch:
            out.write(f"{d.delivery_id}\t{d.signature}\t".encode() + d.body + b"\n")


def run_wrk(port: int, prefix: Path, duration: float, connections: int) -> Load:
    # One wrk thread: it loads its requests before wrk starts the clock (a second thread would
    # still be loading while the first already sends), and one thread drives far more than
    # gunicorn answers here.
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "30s"]
    argv += ["-s", str(ROOT / "bench" / "wrk_requests.lua"), f"http://127.0.0.1:{port}"]
    argv += ["--", str(prefix), WEBHOOK_PATH]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.search(r"^RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    values = {k: float(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    return Load(
        requests=int(values["requests"]),
        seconds=values["duration_us"] / 1e6,
        accepted=int(values["accepted"]),
        other_2xx=int(values["other_2xx"]),
        not_2xx=int(values["not_2xx"]),
        socket_errors=int(values["socket_errors"]),
        wrapped=int(values["wrapped"]),
        p50_ms=values["p50_ms"],
        p99_ms=values["p99_ms"],
        max_ms=values["max_ms"],
    )


# --- reporting -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def verdict(value: float, goal: float, *, at_least: bool) -> str:
    met = value >= goal if at_least else value < goal
    return "met" if met else "NOT met"


def default_redis_url() -> str:
    """Database 15 of the Redis `make bench` provides (BBRELAY_REDIS_URL), else of localhost."""
    given = os.environ.get("BBRELAY_REDIS_URL") or os.environ.get("REDIS_URL")
    if not given:
        return "redis://127.0.0.1:6379/15"
    return urlunsplit(urlsplit(given)._replace(path="/15"))


def server_env(tmp: Path, redis_url: str) -> dict[str, str]:
    """What production passes (docker-compose `web`), pointed at the bench's Redis database."""
    (tmp / "values.yaml").write_text("global: {}\n")
    metrics = tmp / "metrics"
    metrics.mkdir()
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("BBRELAY_", "PROMETHEUS_"))
    }
    return {
        **inherited,
        "BBRELAY_CONFIG": str(tmp / "values.yaml"),
        "BBRELAY_ENV": "production",
        "BBRELAY_WEBHOOK_SECRET": SECRET,
        "BBRELAY_ENCRYPTION_KEY": new_encryption_key(),
        "BBRELAY_REDIS_URL": redis_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


# --- the runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One closed-loop run: what the load saw, the tasks left in Redis, CPU by process."""

    load: Load
    queued: int
    server_cpu: float  # seconds, gunicorn master and workers
    redis_cpu: float  # seconds, redis-server

    def cpu_per_ok_us(self, app: App) -> tuple[float, float]:
        ok = max(1, self.load.ok(app))
        return 1e6 * self.server_cpu / ok, 1e6 * self.redis_cpu / ok


def saturate(
    app: App,
    server: Server,
    client: redis.Redis[bytes],
    prefix: Path,
    batch: Sequence[Delivery],
    args: argparse.Namespace,
) -> Run:
    """One closed-loop run against `app`'s server."""
    # Every app publishes to the anonymous exchange, so no queue binding is lost here.
    client.flushdb()
    if args.wrk:
        write_requests(batch, prefix)
    pids = with_children(server.pid)
    redis_pid = [int(client.info("server")["process_id"])]
    server_before, redis_before = cpu_seconds(pids), cpu_seconds(redis_pid)
    if args.wrk:
        load = run_wrk(server.port, prefix, args.duration, args.connections)
    else:
        load = asyncio.run(closed_loop(server.port, batch, args.connections, args.duration))
    time.sleep(0.3)  # answers in flight when the load stopped reach Redis
    return Run(
        load,
        client.llen(QUEUE),
        cpu_seconds(pids) - server_before,
        cpu_seconds(redis_pid) - redis_before,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per app per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of hello, floor, full")
    parser.add_argument("--connections", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default=default_redis_url(), help="flushed! default db 15")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also cProfile N test-client posts"
    )
    args = parser.parse_args()
    args.wrk = shutil.which("wrk") is not None
    client: redis.Redis[bytes] = redis.Redis.from_url(args.redis_url)
    client.ping()
    deliveries = Deliveries()
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp_name:
        tmp = Path(tmp_name)
        env = server_env(tmp, args.redis_url)
        try:
            run_all(args, client, deliveries, env, tmp)
            if args.profile:
                profile(args.profile, deliveries, env)
        finally:
            client.flushdb()


def run_all(
    args: argparse.Namespace,
    client: redis.Redis[bytes],
    deliveries: Deliveries,
    env: Mapping[str, str],
    tmp: Path,
) -> None:
    cores = os.cpu_count() or 1
    workers = env.get("WEB_CONCURRENCY", str(cores * 2))
    tool = (
        f"wrk -t1 -c{args.connections} (closed loop, Lua script cycling pre-signed requests)"
        if args.wrk
        else f"Python asyncio, {args.connections} connections (closed loop; wrk not found: "
        "apt-get install -y wrk for a lighter load generator)"
    )
    print(
        f"server: gunicorn -c python:receiver.gunicorn_conf, {workers} gthread workers per app, "
        f"{cores} cores, BBRELAY_ENV=production, JSON logs, Prometheus multiprocess"
    )
    print(f"redis:  {redacted_url(args.redis_url)} (flushed before each run and at the end)")
    print(
        f"load:   {tool}, {args.duration:g} s per app, {args.rounds} rounds of hello, floor, "
        "full in turn\n        (the three servers run side by side, idle but for the one "
        "under load, so drift in the machine's speed falls on all three)"
    )
    print(
        f"        each request a distinct signed repo:push of {deliveries.body_size} bytes "
        f"({FIXTURE.relative_to(ROOT)}); the load generator, gunicorn and Redis share the "
        f"{cores} cores"
    )
    # wrk holds a run's requests in memory: enough for an app as fast as the bare endpoint
    # answers here (~5000/s on 2 cores) within LuaJIT's heap; runs that exhaust them say so.
    wanted = math.ceil(5000 * args.duration * 1.2) + args.connections
    count = min(wanted, MAX_REQUEST_BYTES // deliveries.body_size)
    warm = deliveries.take(64)
    apps = (HELLO, FLOOR, FULL)
    runs: dict[App, list[Run]] = {app: [] for app in apps}
    with contextlib.ExitStack() as stack:
        servers = {
            app: stack.enter_context(gunicorn(app, env, tmp / "gunicorn.log")) for app in apps
        }
        for app in apps:
            statuses = asyncio.run(warm_up(servers[app].port, warm))
            if any(s != app.ok_status for s in statuses):
                raise SystemExit(f"{app.name}: warm-up answered {sorted(set(statuses))}")
        prefix = tmp / "requests"
        for _ in range(args.rounds):
            for app in apps:
                # Fresh deliveries for every run: the receiver answers a repeat as a duplicate.
                batch = deliveries.take(500 if app is HELLO else count)
                runs[app].append(saturate(app, servers[app], client, prefix, batch, args))
        report(args, runs)
        client.flushdb()
        open_loop(args, client, servers[FULL].port, deliveries)


def report(args: argparse.Namespace, runs: Mapping[App, list[Run]]) -> None:
    print(
        f"\n{'app':20}{'ok/s':>8}{'rounds':>18}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'answers':>9}{'ok':>8}{'other':>7}{'errors':>8}{'queued':>8}"
        f"{'cpu µs/ok: gunicorn':>21}{'redis':>7}"
    )
    for app, app_runs in runs.items():
        loads = [run.load for run in app_runs]
        rates = [load.ok_rate(app) for load in loads]
        ok = sum(load.ok(app) for load in loads)
        answers = sum(load.requests for load in loads)
        queued = sum(run.queued for run in app_runs)
        server_us = statistics.median(run.cpu_per_ok_us(app)[0] for run in app_runs)
        redis_us = statistics.median(run.cpu_per_ok_us(app)[1] for run in app_runs)
        print(
            f"{app.name:20}{statistics.median(rates):>8.0f}"
            f"{' '.join(f'{r:.0f}' for r in rates):>18}"
            f"{statistics.median(load.p50_ms for load in loads):>9.1f}"
            f"{statistics.median(load.p99_ms for load in loads):>9.1f}"
            f"{max(load.max_ms for load in loads):>9.1f}{answers:>9}{ok:>8}{answers - ok:>7}"
            f"{sum(load.socket_errors for load in loads):>8}"
            f"{queued if app.enqueues else '-':>8}{server_us:>21.0f}{redis_us:>7.0f}"
        )
        wrapped = sum(load.wrapped for load in loads)
        if wrapped and app is not HELLO:
            print(f"warning: {app.name} ran out of distinct deliveries {wrapped} time(s)")
    print(
        "ok/s = median of the rounds' answers per second; ok = answered 200 (hello) or 202 "
        "queued (webhook apps);\nother = any other status (non-2xx, or 200 duplicate); errors "
        f"= socket errors/timeouts; queued = tasks in '{QUEUE}' after the runs (at most "
        f"{args.connections} per run\nbeyond ok: answers still in flight when the load stopped); "
        "cpu µs/ok = user+system CPU of gunicorn (master and workers) and of redis-server per "
        "ok answer, median of the rounds"
    )

    def ratio(app: App, base: App) -> tuple[float, list[float]]:
        pairs = zip(runs[app], runs[base], strict=True)
        per_round = [a.load.ok_rate(app) / b.load.ok_rate(base) for a, b in pairs]
        return statistics.median(per_round), per_round

    for base, goal, label in ((FLOOR, 1.0, "goal"), (HELLO, 0.5, "stretch")):
        value, per_round = ratio(FULL, base)
        name = "verify+send_task" if base is FLOOR else "bare hello"
        print(
            f"{'full / ' + name:24} = {value:.2f}   {label} >= {goal:.2f}: "
            f"{verdict(value, goal, at_least=True)}   (rounds: "
            f"{', '.join(f'{r:.2f}' for r in per_round)})"
        )


def open_loop(
    args: argparse.Namespace, client: redis.Redis[bytes], port: int, deliveries: Deliveries
) -> None:
    rate_batch = deliveries.take(math.ceil(args.rate * args.rate_seconds))
    fixed = asyncio.run(fixed_rate(port, rate_batch, args.rate))
    time.sleep(0.3)
    queued = client.llen(QUEUE)
    ms = fixed.latencies_ms
    print(
        f"\nfull receiver at {args.rate:g} requests/s for {args.rate_seconds:g} s, open loop "
        "(Python asyncio, a new connection per request, latency from the intended send time):"
    )
    print(
        f"  sent {fixed.sent}, answered {fixed.answered}, 202 {fixed.accepted}, "
        f"errors {fixed.errors}, tasks queued in Redis {queued}"
    )
    print(
        f"  p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms "
        f"(goal < 25: {verdict(percentile(ms, 0.99), 25.0, at_least=False)}), "
        f"max {max(ms, default=math.nan):.1f} ms; generator sent late by p99 "
        f"{percentile(fixed.late_start_ms, 0.99):.1f} ms"
    )


# --- profile ---------------------------------------------------------------------------------


def profile(count: int, deliveries: Deliveries, env: Mapping[str, str]) -> None:
    """CPU per request of each app through Flask's test client (no sockets, no gunicorn),
    and the receiver's top costs under cProfile."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("BBRELAY_", "PROMETHEUS_"))})
    apps: dict[App, Flask] = {}
    with contextlib.redirect_stderr(io.StringIO()):  # the receiver's JSON log lines
        for app in (HELLO, FLOOR, FULL):
            # By name: to mypy, walking bench/, this file is the module `receiver`.
            module, _, attribute = app.target.partition(":")
            apps[app] = getattr(importlib.import_module(module), attribute)
    print(f"\nin-process CPU per request, Flask test client, {count} distinct deliveries each:")
    profiler = cProfile.Profile()
    for app, flask_app in apps.items():
        test_client = flask_app.test_client()
        for d in deliveries.take(20):
            test_client.post(WEBHOOK_PATH, data=d.body, headers=d.headers())
        with contextlib.redirect_stderr(io.StringIO()):
            batch = deliveries.take(count)
            began = time.process_time()
            for d in batch:
                test_client.post(WEBHOOK_PATH, data=d.body, headers=d.headers())
            per = (time.process_time() - began) / count
            if app is FULL:
                batch = deliveries.take(count)
                profiler.enable()
                for d in batch:
                    test_client.post(WEBHOOK_PATH, data=d.body, headers=d.headers())
                profiler.disable()
        print(f"  {app.name:20}{1e6 * per:>8.0f} µs")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"receiver|shared|celery/app|kombu/messaging", 25)
    print("\nfull receiver, cumulative time by function (cProfile):")
    print(out.getvalue().split("\n\n", 2)[-1].rstrip())


if __name__ == "__main__":
    main()
