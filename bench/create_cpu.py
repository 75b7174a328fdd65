"""CPU time of one create, the app's against the bare baseline's, in one process through the Flask test
client: the quiet-machine view of the create budget (create_throughput.py measures it through gunicorn,
which on a shared machine mostly measures the other work on it).

`time.process_time()` counts only this process's CPU, so the time the machine gives to other processes
is left out (on SQLite the database's work is in this process and counted; on PostgreSQL the server's
is not, for either side). Rounds of `--creates` creates alternate between the app, the bare app
(bench/bare_app.py) and the floor (bench/floor_app.py: the contract's statements alone, the best any
implementation could do); the figures are the best round of each. Also: SQL statements per create (both) and
Python function calls per create (cProfile of one round of each).

    .venv/bin/python bench/create_cpu.py --database-url URL [--rounds 6] [--creates 100]

URL: a database prepared by bench/dataset.py (a copy of the cached SQLite file, or the PostgreSQL
benchmark database): the creates are committed there.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import importlib
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from create_throughput import prepare  # bench/ is on sys.path when a script here runs
from dataset import make_app

from app.extensions import db


def _poster(
    client: Any, path: str, bodies: list[dict[str, Any]], headers: dict[str, str]
) -> Callable[[int], None]:
    def post(i: int) -> None:
        body = dict(bodies[i % len(bodies)], client_uuid=str(uuid.uuid4()))
        response = client.post(path, json=body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(
                f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )

    return post


def _kind(statement: str) -> str:
    """A statement's verb and table (INSERT INTO observations, SELECT … FROM sites): what the mix is."""
    words = statement.split()
    if words[0].upper() in ("INSERT", "DELETE"):
        return " ".join(words[:3])
    if words[0].upper() == "UPDATE":
        return " ".join(words[:2])
    if words[0].upper() == "SELECT" and "FROM" in words:
        return "SELECT … FROM " + words[words.index("FROM") + 1]  # noqa: S608 - a label, not a query
    return " ".join(words[:2])


def _calls(post: Callable[[int], None], n: int, dump: Path | None) -> float:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(n):
        post(i)
    profiler.disable()
    if dump is not None:
        profiler.dump_stats(dump)
    stats = pstats.Stats(profiler)
    return stats.total_calls / n  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--creates", type=int, default=100)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=Path, help="write the app's cProfile stats (pstats) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        storage = Path(folder)
        ids = prepare(args.database_url, storage, 1)
        bodies = json.loads((storage / "bodies.json").read_text(encoding="utf-8"))
        token = json.loads((storage / "tokens.json").read_text())[0]
        app = make_app(args.database_url, storage)
        # bare_app.py builds its app from the environment when imported (as gunicorn loads it).
        os.environ.update(
            BENCH_BARE_DATABASE_URL=args.database_url,
            BENCH_BARE_ORGANIZATION_ID=str(ids["organization_id"]),
            BENCH_BARE_SURVEYOR_ID=str(ids["surveyor_id"]),
        )
        bare = importlib.import_module("bare_app").app
        floor = importlib.import_module("floor_app").app
        framework = importlib.import_module("framework_floor_app").app
        signed = {"Authorization": f"Bearer {token}"}
        posts = {
            "app": _poster(app.test_client(), "/api/v1/observations", bodies, signed),
            "bare": _poster(bare.test_client(), "/observations", bodies, {}),
            "floor": _poster(floor.test_client(), "/observations", bodies, signed),
            "framework": _poster(framework.test_client(), "/observations", bodies, signed),
        }
        for post in posts.values():
            for i in range(20):  # warm up
                post(i)

        cpu: dict[str, list[float]] = {name: [] for name in posts}
        for round_ in range(args.rounds):
            order = ("bare", "floor", "framework", "app")
            for name in order if round_ % 2 == 0 else reversed(order):
                post = posts[name]
                started = time.process_time()
                for i in range(args.creates):
                    post(i)
                cpu[name].append((time.process_time() - started) / args.creates * 1000)
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements.append(statement)

        per_create: dict[str, list[str]] = {}
        mean_statements: dict[str, float] = {}
        kinds: dict[str, dict[str, float]] = {}
        for name, post in posts.items():
            statements.clear()
            sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
            try:
                post(0)  # one create, listed
                per_create[name] = list(statements)
                statements.clear()
                for i in range(args.creates):  # as in the timed rounds: the same places again
                    post(i)
                mean_statements[name] = len(statements) / args.creates
                kinds[name] = {
                    kind: round(n / args.creates, 2)
                    for kind, n in collections.Counter(_kind(s) for s in statements).most_common()
                }
            finally:
                sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)

        calls = {
            name: _calls(post, args.creates, args.profile if name == "app" else None)
            for name, post in posts.items()
        }
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    app_ms, bare_ms, floor_ms = min(cpu["app"]), min(cpu["bare"]), min(cpu["floor"])
    framework_ms = min(cpu["framework"])
    record = {
        "database": args.database_url.split(":", 1)[0].split("+")[0],
        "app_cpu_ms": round(app_ms, 3),
        "bare_cpu_ms": round(bare_ms, 3),
        "floor_cpu_ms": round(floor_ms, 3),
        "ratio": round(bare_ms / app_ms, 3),  # as a throughput ratio: app / bare
        # The best any implementation of the contract's statements could do (bench/floor_app.py).
        "floor_ratio": round(bare_ms / floor_ms, 3),
        # The floor through the libraries the design fixes (bench/framework_floor_app.py).
        "framework_cpu_ms": round(framework_ms, 3),
        "framework_ratio": round(bare_ms / framework_ms, 3),
        "app_rounds_ms": [round(x, 3) for x in cpu["app"]],
        "bare_rounds_ms": [round(x, 3) for x in cpu["bare"]],
        "floor_rounds_ms": [round(x, 3) for x in cpu["floor"]],
        "framework_rounds_ms": [round(x, 3) for x in cpu["framework"]],
        "app_statements": len(per_create["app"]),
        "bare_statements": len(per_create["bare"]),
        "floor_statements": len(per_create["floor"]),
        "framework_statements": len(per_create["framework"]),
        "app_statements_mean": mean_statements["app"],
        "app_statement_kinds": kinds["app"],
        "bare_statements_mean": mean_statements["bare"],
        "app_calls_per_create": round(calls["app"]),
        "bare_calls_per_create": round(calls["bare"]),
        "floor_calls_per_create": round(calls["floor"]),
        "framework_calls_per_create": round(calls["framework"]),
        "statements": {
            name: [" ".join(s.split())[:140] for s in stmts] for name, stmts in per_create.items()
        },
    }
    print(json.dumps(record, ensure_ascii=False, indent=2))
    if args.json:
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
