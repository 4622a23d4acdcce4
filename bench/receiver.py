"""Receiver throughput and latency beside two floors, in one run on the same gunicorn settings.

Prints accepted signed webhooks per second through the full receiver (verify, parse, filter,
dedupe and record in Redis, send_task) beside a bare Flask "hello" endpoint and an endpoint that
only verifies the HMAC and calls Celery's send_task; the two ratios; and the receiver's latency
at a fixed open-loop rate (500 requests/s by default). Every request is a distinct, correctly
signed delivery of a real Bitbucket push payload, so none is answered as a duplicate.

Load comes from wrk (apt-get install wrk) and, for the fixed rate, from an asyncio client; both
share the machine's cores with gunicorn, as they would on a 2-core box.

Usage: .venv/bin/python bench/receiver.py [--duration 8] [--rate 500] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "bench-webhook-secret"
FIXTURE = ROOT / "tests" / "fixtures" / "bitbucket" / "cloud" / "repo-push-signed.json"
APPS = {
    "bare hello": "bench.apps.hello:app",
    "verify + send_task": "bench.apps.floor:app",
    "full receiver": "receiver.wsgi:app",
}


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    signature: str
    body: bytes


def deliveries(count: int) -> list[Delivery]:
    """Distinct pushes of the same repository, each signed as Bitbucket would sign it."""
    document = json.loads(FIXTURE.read_bytes())
    made = []
    for n in range(count):
        document["push"]["changes"][0]["new"]["target"]["hash"] = hashlib.sha256(
            f"bench-{n}".encode()
        ).hexdigest()[:40]
        body = json.dumps(document, separators=(",", ":")).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        made.append(Delivery(f"bench-{n}", f"sha256={digest}", body))
    return made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path) -> Iterator[int]:
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "python:receiver.gunicorn_conf", app]
    argv += ["--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1.0)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def run_wrk(port: int, requests_file: Path, duration: float, connections: int) -> dict[str, float]:
    threads = 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:.0f}s", "--latency"]
    argv += ["-s", str(ROOT / "bench" / "wrk_requests.lua"), f"http://127.0.0.1:{port}"]
    argv += ["--", str(requests_file), str(threads)]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    result = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", output)
    assert result is not None, output
    total, bad_status, socket_errors, p50, p99 = (float(g) for g in result.groups())
    return {
        "rps": rate,
        "total": total,
        "non_2xx": bad_status,
        "socket_errors": socket_errors,
        "p50": p50,
        "p99": p99,
    }


async def _one(port: int, delivery: Delivery, due: float, latencies: list[float]) -> int:
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /api/webhooks/bitbucket HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
        f"X-Event-Key: repo:push\r\nX-Request-UUID: {delivery.delivery_id}\r\n"
        f"X-Hub-Signature: {delivery.signature}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(delivery.body)}\r\n\r\n"
    )
    writer.write(head.encode() + delivery.body)
    await writer.drain()
    answer = await reader.read()
    latencies.append(time.monotonic() - due)
    writer.close()
    return int(answer.split(b" ", 2)[1])


async def fixed_rate(
    port: int, batch: list[Delivery], rate: float
) -> tuple[list[float], list[int]]:
    """Open loop: request n is due at start + n/rate; latency counts from when it was due."""
    latencies: list[float] = []
    start = time.monotonic() + 0.2
    tasks = [_one(port, d, start + n / rate, latencies) for n, d in enumerate(batch)]
    statuses = await asyncio.gather(*tasks)
    return latencies, list(statuses)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of wrk per app")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    client = redis.Redis.from_url(args.redis_url)
    batch = deliveries(int(args.duration * 4000))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        requests_file = tmp / "requests.tsv"
        with requests_file.open("wb") as out:
            for d in batch:
                out.write(f"{d.delivery_id}\t{d.signature}\t".encode() + d.body + b"\n")
        (tmp / "values.yaml").write_text("global: {}\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BBRELAY_")},
            "BBRELAY_CONFIG": str(tmp / "values.yaml"),
            "BBRELAY_WEBHOOK_SECRET": SECRET,
            "BBRELAY_REDIS_URL": args.redis_url,
            "BBRELAY_ENV": "production",
            "BBRELAY_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        workers = env.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) * 2))
        print(
            f"gunicorn -c receiver/gunicorn_conf.py: {workers} sync workers; {os.cpu_count()} cores"
        )
        print(
            f"load: wrk -t2 -c{args.connections} for {args.duration:.0f}s per app, "
            f"distinct signed {len(batch[0].body) // 1024} KiB pushes; load shares the cores"
        )
        results = {}
        print(f"\n{'endpoint':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}")
        for name, app in APPS.items():
            client.flushdb()
            with gunicorn(app, env, tmp / f"{name}.log") as port:
                result = run_wrk(port, requests_file, args.duration, args.connections)
            results[name] = result
            queued = client.llen("bbrelay")
            print(
                f"{name:22}{result['rps']:>9.0f}{result['p50']:>9.1f}{result['p99']:>9.1f}"
                f"{result['non_2xx']:>9.0f}{result['socket_errors']:>8.0f}"
                + (f"   ({queued} tasks queued in Redis)" if queued else "")
            )
        full = results["full receiver"]["rps"]
        print(
            f"\nfull / verify+send_task = {full / results['verify + send_task']['rps']:.2f} "
            f"(goal >= 0.85)"
        )
        print(
            f"full / bare hello       = {full / results['bare hello']['rps']:.2f} (stretch >= 0.5)"
        )

        client.flushdb()
        count = int(args.rate * args.rate_seconds)
        with gunicorn(APPS["full receiver"], env, tmp / "rate.log") as port:
            latencies, statuses = asyncio.run(fixed_rate(port, batch[:count], args.rate))
        accepted = sum(1 for s in statuses if s == 202)
        ms = [1000 * v for v in latencies]
        print(
            f"\nfull receiver at {args.rate:.0f} req/s for {args.rate_seconds:.0f}s (open loop): "
            f"sent {count}, 202 {accepted}, p50 {percentile(ms, 0.5):.1f} ms, "
            f"p99 {percentile(ms, 0.99):.1f} ms (goal < 25), max {max(ms):.1f} ms; "
            f"{client.llen('bbrelay')} tasks queued"
        )
        client.flushdb()


if __name__ == "__main__":
    main()
