"""Observation create throughput through the real WSGI stack, against a bare Flask endpoint doing the same
single-row insert with the same driver (docs/contract.md §5 budget: at least 50 %).

Each is served by gunicorn with 2 workers on the benchmark database (bench/dataset.py); the load comes
from bench/loadgen.py in its own process: 4 connections POSTing new records (a fresh client_uuid each)
for a bounded time after an uncounted warm-up. Runs alternate (bare, floor, app, app, floor, bare, …) so
that drifts in machine load hit them alike; the ratio is of the best runs' successful requests per second
(other work on the machine only ever takes throughput away), the ratio of medians beside it.

- app: POST /api/v1/observations with a bearer token (one surveyor per connection): sign-in, checks,
  site placement, duplicate check, flags, audit row, one commit;
- bare: bench/bare_app.py, the same JSON body in, one INSERT into `observations`, 201 out;
- floor: bench/floor_app.py, the bare endpoint plus the app's own statements of a create (token, locks,
  look-up and searches, record and flag, audit row) and nothing else: the most any implementation of the
  contract could reach, reported beside the ratio.

`--profile FILE`: when the budget is not met, profile the app's create in this process (Flask test client,
cProfile) and write the top of it there: where the time goes.

    .venv/bin/python bench/create_throughput.py --database-url URL [--seconds 10] [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import profiling
import sqlalchemy as sa
from dataset import make_app  # bench/ is on sys.path when a script here runs
from servers import BENCH, app_env, gunicorn

from app.accounts.models import Organization, User
from app.accounts.tokens import issue_token
from app.district.models import District, Township
from app.extensions import db
from app.observations.models import Observation
from app.species.models import Species

BUDGET = 0.5
LOCAL = ZoneInfo("Asia/Shanghai")
PLACES = ["一组田边", "二组水渠", "老屋湾", "河坝边", "村道旁", "学校后"]


def bodies(
    count: int, species: list[int], townships: list[str], bounds: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Request bodies as a field app sends them (no metrics: valid for every species)."""
    rng = random.Random(7)  # noqa: S311 - benchmark data
    min_lon, min_lat, max_lon, max_lat = bounds
    now = datetime.now(LOCAL).replace(microsecond=0)
    result = []
    for i in range(count):
        observed = now - timedelta(minutes=rng.randrange(30, 60 * 24 * 20))
        result.append(
            {
                "species_id": species[i % len(species)],
                "detected": rng.random() < 0.9,
                "observed_at": observed.isoformat(),
                "latitude": round(rng.uniform(min_lat, max_lat), 6),
                "longitude": round(rng.uniform(min_lon, max_lon), 6),
                "accuracy_m": round(rng.uniform(3, 20), 1),
                "altitude_m": round(rng.uniform(300, 900), 1),
                "position_source": "gps",
                "township_code": townships[i % len(townships)],
                "place_name": rng.choice(PLACES),
                "notes": "田埂有卵块" if i % 5 == 0 else None,
            }
        )
    return result


def prepare(url: str, storage: Path, connections: int) -> dict[str, Any]:
    """Tokens for `connections` surveyors of one bureau, and request bodies; written to files."""
    app = make_app(url, storage)
    with app.app_context():
        org = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
        assert org is not None  # noqa: S101 - the data set has it
        users = list(
            db.session.scalars(
                sa.select(User)
                .where(User.organization_id == org.id, User.username.like("surveyor-%"))
                .limit(connections)
            )
        )
        tokens = [issue_token(user)[0] for user in users]
        species = list(
            db.session.scalars(sa.select(Species.id).where(Species.retired_on.is_(None)).order_by(Species.id))
        )
        townships = list(db.session.scalars(sa.select(Township.code).order_by(Township.code)))
        district = db.session.scalar(sa.select(District))
        assert district is not None  # noqa: S101
        margin = 0.01
        bounds = (
            district.min_lon + margin,
            district.min_lat + margin,
            district.max_lon - margin,
            district.max_lat - margin,
        )
        db.session.commit()
        result = {"organization_id": org.id, "surveyor_id": users[0].id, "users": [u.id for u in users]}
        db.session.remove()
        db.engine.dispose()
    (storage / "tokens.json").write_text(json.dumps(tokens))
    (storage / "bodies.json").write_text(
        json.dumps(bodies(500, species, townships, bounds), ensure_ascii=False)
    )
    return result


def observation_count(url: str, storage: Path) -> int:
    app = make_app(url, storage)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) or 0
        db.session.remove()
        db.engine.dispose()
    return count


def load(
    port: int, path: str, storage: Path, *, tokens: bool, seconds: float, connections: int
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        "--url",
        f"http://127.0.0.1:{port}{path}",
        "--bodies",
        str(storage / "bodies.json"),
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    if tokens:
        command += ["--tokens", str(storage / "tokens.json")]
    out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 - our script
    return json.loads(out.stdout)


def profile_create(url: str, storage: Path, requests: int, target: Path) -> dict[str, Any]:
    """cProfile of `requests` creates through the Flask test client; the top written to `target`."""
    app = make_app(url, storage)
    body_list = json.loads((storage / "bodies.json").read_text(encoding="utf-8"))
    token = json.loads((storage / "tokens.json").read_text())[0]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def post(i: int) -> None:
        body = dict(body_list[i % len(body_list)], client_uuid=str(uuid.uuid4()))
        response = client.post("/api/v1/observations", json=body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(
                f"create answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )

    for i in range(20):  # warm up
        post(i)
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    post(0)
    per_request = list(statements)
    with app.app_context():
        sa.event.remove(db.engine, "before_cursor_execute", count)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(requests):
        post(i)
    profiler.disable()
    target.parent.mkdir(parents=True, exist_ok=True)
    title = (
        f"create observation: cProfile of {requests} POST /api/v1/observations "
        f"(Flask test client, {url.split(':')[0]})"
    )
    statements = "\n".join(
        [
            f"{len(per_request)} SQL statements per request:",
            *(f"  {' '.join(s.split())[:160]}" for s in per_request),
            "",
        ]
    )
    target.write_text(profiling.report(profiler, title, extra=statements + "\n"), encoding="utf-8")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {"statements_per_create": len(per_request)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database prepared by bench/dataset.py")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating (default 2)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    parser.add_argument("--profile", type=Path, help="also profile the app's create; write the top here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        storage = Path(folder)
        ids = prepare(args.database_url, storage, args.connections)
        before = observation_count(args.database_url, storage)
        bare_env = {
            "BENCH_BARE_DATABASE_URL": args.database_url,
            "BENCH_BARE_ORGANIZATION_ID": str(ids["organization_id"]),
            "BENCH_BARE_SURVEYOR_ID": str(ids["surveyor_id"]),
        }
        runs: dict[str, list[dict[str, Any]]] = {"app": [], "bare": [], "floor": [], "framework": []}
        with (
            gunicorn("wsgi:app", app_env(args.database_url, storage)) as app_port,
            gunicorn("bare_app:app", bare_env, pythonpath=BENCH) as bare_port,
            gunicorn("floor_app:app", bare_env, pythonpath=BENCH) as floor_port,
            gunicorn("framework_floor_app:app", bare_env, pythonpath=BENCH) as framework_port,
        ):
            targets = {
                "app": (app_port, "/api/v1/observations", True),
                "bare": (bare_port, "/observations", False),
                "floor": (floor_port, "/observations", True),
                "framework": (framework_port, "/observations", True),
            }
            for round_ in range(args.rounds):
                order = ["bare", "floor", "framework", "app"]
                if round_ % 2:
                    order.reverse()
                for name in order:
                    port, path, tokens = targets[name]
                    result = load(
                        port, path, storage, tokens=tokens, seconds=args.seconds, connections=args.connections
                    )
                    runs[name].append(result)
                    print(
                        f"  {name:9}  {result['rps']:8.1f} req/s  p95 {result['latency_ms']['p95']:7.1f} ms  "
                        f"statuses {result['statuses']}",
                        flush=True,
                    )
        after = observation_count(args.database_url, storage)
        # Best to best: other work on the machine only ever takes throughput away from a run.
        app_rps = max(r["rps"] for r in runs["app"])
        bare_rps = max(r["rps"] for r in runs["bare"])
        floor_rps = max(r["rps"] for r in runs["floor"])
        framework_rps = max(r["rps"] for r in runs["framework"])
        extra: dict[str, Any] = {"profile": None}
        if args.profile and (not bare_rps or app_rps / bare_rps < BUDGET):
            print("  under budget: profiling the app's create", flush=True)
            extra = profile_create(args.database_url, storage, 200, args.profile)
            extra["profile"] = str(args.profile)
    acknowledged = sum(r["ok"] for rs in runs.values() for r in rs)
    failures = {
        name: sum(n for r in rs for status, n in r["statuses"].items() if not status.startswith("2"))
        for name, rs in runs.items()
    }
    record = {
        "benchmark": "create_throughput",
        "database": args.database_url.split(":", 1)[0].split("+")[0],
        "workers": 2,
        "connections": args.connections,
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "app_rps": app_rps,
        "bare_rps": bare_rps,
        "ratio": round(app_rps / bare_rps, 3) if bare_rps else None,
        "ratio_of_medians": round(
            statistics.median(r["rps"] for r in runs["app"])
            / statistics.median(r["rps"] for r in runs["bare"]),
            3,
        )
        if bare_rps
        else None,
        "budget_ratio": BUDGET,
        # The contract's statements alone (bench/floor_app.py): the most any implementation could reach.
        "floor_rps": floor_rps,
        "floor_ratio": round(floor_rps / bare_rps, 3) if bare_rps else None,
        "floor_runs_rps": [r["rps"] for r in runs["floor"]],
        # The floor through the libraries the design fixes (bench/framework_floor_app.py): the most a
        # create that keeps Flask-Login, flask-smorest, webargs and marshmallow could reach.
        "framework_rps": framework_rps,
        "framework_ratio": round(framework_rps / bare_rps, 3) if bare_rps else None,
        "framework_runs_rps": [r["rps"] for r in runs["framework"]],
        "app_runs_rps": [r["rps"] for r in runs["app"]],
        "bare_runs_rps": [r["rps"] for r in runs["bare"]],
        "app_p95_ms": statistics.median(r["latency_ms"]["p95"] for r in runs["app"]),
        "bare_p95_ms": statistics.median(r["latency_ms"]["p95"] for r in runs["bare"]),
        "failed_requests": failures,
        # Every 2xx the clients saw is a row (warm-up requests are rows too, hence at least).
        "rows_added": after - before,
        "acknowledged_in_measured_time": acknowledged,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    print(json.dumps(record, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
