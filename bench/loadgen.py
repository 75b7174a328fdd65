"""A small HTTP load generator, run as its own process so that the server under test shares nothing with it
but the machine: N threads, each with its own connection (kept alive when the server allows; gunicorn's
sync workers close after each response, and http.client then reconnects), POSTing JSON bodies for a
bounded time.

Bodies come from a JSON file of prototypes; each request takes the next prototype and a fresh
`client_uuid`, so every request is a new record. Thread k sends `Authorization: Bearer <tokens[k % n]>`
when tokens are given. A warm-up (not counted) lets each server worker make its first connection and
fill its caches. The result is one JSON object on stdout: requests, by status, seconds, requests per
second and latency percentiles (ms).

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8000/api/v1/observations \
        --bodies bodies.json [--tokens tokens.json] [--seconds 10] [--warmup 2] [--connections 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Worker(threading.Thread):
    def __init__(self, index: int, args: argparse.Namespace, bodies: list[dict[str, Any]], tokens: list[str]):
        super().__init__(daemon=True)
        self.index = index
        self.args = args
        self.bodies = bodies
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if tokens:
            self.headers["Authorization"] = f"Bearer {tokens[index % len(tokens)]}"
        parts = urlsplit(args.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path
        self.statuses: Counter[int | str] = Counter()
        self.latencies: list[float] = []
        self.start_at = 0.0
        self.stop_at = 0.0

    def _post(self, connection: http.client.HTTPConnection, n: int) -> int | str:
        body = dict(self.bodies[(n * 7919 + self.index) % len(self.bodies)])
        body["client_uuid"] = str(uuid.uuid4())
        try:
            connection.request("POST", self.path, json.dumps(body).encode(), self.headers)
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return type(exc).__name__

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        n = 0
        while time.perf_counter() < self.start_at:  # warm-up, not counted
            self._post(connection, n)
            n += 1
        while True:
            started = time.perf_counter()
            if started >= self.stop_at:
                break
            status = self._post(connection, n)
            n += 1
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.statuses[status] += 1
        connection.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    bodies = json.loads(Path(args.bodies).read_text(encoding="utf-8"))
    tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8")) if args.tokens else []
    workers = [Worker(i, args, bodies, tokens) for i in range(args.connections)]
    now = time.perf_counter()
    for worker in workers:
        worker.start_at = now + args.warmup
        worker.stop_at = now + args.warmup + args.seconds
        worker.start()
    for worker in workers:
        worker.join(args.warmup + args.seconds + 120)
    statuses: Counter[int | str] = Counter()
    latencies: list[float] = []
    for worker in workers:
        statuses.update(worker.statuses)
        latencies.extend(worker.latencies)
    ok = sum(n for status, n in statuses.items() if isinstance(status, int) and 200 <= status < 300)
    return {
        "url": args.url,
        "connections": args.connections,
        "seconds": args.seconds,
        "requests": sum(statuses.values()),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "rps": round(ok / args.seconds, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p95": round(percentile(latencies, 0.95), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "mean": round(statistics.fmean(latencies), 2) if latencies else 0.0,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="JSON file: a list of request bodies (prototypes)")
    parser.add_argument("--tokens", help="JSON file: a list of bearer tokens, one per connection in turn")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted time before it (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    args = parser.parse_args()
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
