"""Filtered observation lists and GeoJSON over the benchmark's 1 M observations, against the raw SQL of the
same queries plus serialisation (docs/contract.md §5 budget: p95 ≤ 5 × that; no query count that grows
with page size).

For each variant (filters, page size):

- ours: GET /api/v1/observations (or …/geojson) through gunicorn (2 workers) with a bearer token, one
  request at a time, timed by the client from sending to the last byte;
- baseline: the data statements the endpoint itself runs for that request (captured from the app: the
  count, the page with its joins, the flags and photos of the page), replayed on a raw DBAPI cursor of
  the same driver, the rows turned into dicts and `json.dumps`-ed (as features for GeoJSON). What the
  app adds on top: sign-in, argument parsing, filter look-ups, ORM objects, marshmallow.

Samples alternate (ours, baseline, …) after a warm-up; the ratio is p95 over p95. The query count is
counted in this process through the Flask test client, for per_page 50 and 500 with the same filters.

    .venv/bin/python bench/list_query.py --database-url URL [--samples 30] [--json FILE] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import profiling
import sqlalchemy as sa
from dataset import make_app  # bench/ is on sys.path when a script here runs
from loadgen import percentile
from servers import app_env, gunicorn

from app.accounts.models import User
from app.accounts.tokens import issue_token
from app.extensions import db
from app.observations.models import Observation
from app.species.models import Species

BUDGET = 5.0
# Statements that fetch the data a list shows (the rest are sign-in and look-ups).
DATA_TABLES = ("FROM observations", "FROM (SELECT observations", "FROM observation_flags", "FROM photos")


def variants(url: str, storage: Path) -> tuple[list[dict[str, Any]], str]:
    """The requests to time, with filter values picked from the data; and a bearer token."""
    app = make_app(url, storage)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username.like("surveyor-%")).order_by(User.id))
        assert user is not None  # noqa: S101 - the data set has surveyors
        token = issue_token(user)[0]
        db.session.commit()
        # A species with a typical number of records, and a township code.
        counts = db.session.execute(
            sa.select(Observation.species_id, sa.func.count())
            .group_by(Observation.species_id)
            .order_by(sa.func.count(), Observation.species_id)
        ).all()
        species_id = counts[len(counts) // 2][0]
        species_name = db.session.scalar(sa.select(Species.name_zh).where(Species.id == species_id))
        township = "500155001"
        last = db.session.scalar(sa.select(sa.func.max(Observation.observed_at)))
        db.session.remove()
        db.engine.dispose()
    year = str((last or datetime.now(UTC)).year - 1)
    bbox = "107.70,30.60,107.75,30.65"  # about 4.8 × 5.5 km
    lst, geo = "/api/v1/observations", "/api/v1/observations/geojson"
    result = [
        {"name": "list, newest, per_page 50", "path": lst, "query": {"per_page": 50}},
        {"name": "list, newest, per_page 500", "path": lst, "query": {"per_page": 500}},
        {
            "name": f"list, species ({species_name}) in {year}, per_page 50",
            "path": lst,
            "query": {
                "species_id": species_id,
                "from": f"{year}-01-01",
                "to": f"{year}-12-31",
                "per_page": 50,
            },
        },
        {
            "name": "list, township + verified + presence, page 3 × 100",
            "path": lst,
            "query": {
                "township_code": township,
                "status": "verified",
                "detected": "true",
                "per_page": 100,
                "page": 3,
            },
        },
        {"name": "list, bbox ~5 km, per_page 50", "path": lst, "query": {"bbox": bbox, "per_page": 50}},
        {
            "name": "geojson, bbox ~5 km, per_page 1000",
            "path": geo,
            "query": {"bbox": bbox, "per_page": 1000},
        },
        {
            "name": f"geojson, species in {year}, per_page 500",
            "path": geo,
            "query": {
                "species_id": species_id,
                "from": f"{year}-01-01",
                "to": f"{year}-12-31",
                "per_page": 500,
            },
        },
    ]
    return result, token


# ---------------------------------------------------------------------------------------------
# The baseline


class Baseline:
    """The endpoint's own data statements, captured once, replayed on a raw DBAPI connection."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}
        with app.app_context():
            self.connection = db.engine.raw_connection()

    def capture(self, path: str, query: dict[str, Any]) -> tuple[list[tuple[str, Any]], int]:
        """The data statements (and every statement's count) of one request through the test client."""
        statements: list[tuple[str, Any]] = []

        def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            statements.append((statement, parameters))

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
        try:
            response = self.client.get(f"{path}?{urlencode(query)}", headers=self.headers)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
        if response.status_code != 200:
            raise RuntimeError(
                f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
        data = [(s, p) for s, p in statements if any(t in " ".join(s.split()) for t in DATA_TABLES)]
        counted = [s for s, _ in statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]
        return data, len(counted)

    def run(self, statements: list[tuple[str, Any]], geojson: bool) -> int:
        """Execute, fetch, shape and serialise; returns the size of the JSON."""
        cursor = self.connection.cursor()
        results = []
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            names = _unique([d[0] for d in cursor.description])
            results.append((names, cursor.fetchall()))
        cursor.close()
        self.connection.rollback()
        (_, count_rows), (names, rows), *children = results
        items = [dict(zip(names, row, strict=True)) for row in rows]
        by_id = {item[names[0]]: item for item in items}
        for number, (child_names, child_rows) in enumerate(children):  # flags, photos: under their record
            key = next(n for n in child_names if n.endswith("observation_id"))
            for row in child_rows:
                child = dict(zip(child_names, row, strict=True))
                parent = by_id.get(child[key])
                if parent is not None:
                    parent.setdefault(f"children_{number}", []).append(child)
        total = count_rows[0][0]
        if geojson:
            document: dict[str, Any] = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": item[names[0]],
                        "geometry": {"type": "Point", "coordinates": [item["longitude"], item["latitude"]]},
                        "properties": item,
                    }
                    for item in items
                ],
                "total": total,
            }
        else:
            document = {"items": items, "total": total}
        return len(json.dumps(document, ensure_ascii=False, default=str))

    def close(self) -> None:
        self.connection.close()


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return result


# ---------------------------------------------------------------------------------------------
# Ours


def get(port: int, path: str, query: dict[str, Any], token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", f"{path}?{urlencode(query)}", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
    return len(body)


def _timed_ms(function: Any, *args: Any) -> float:
    started = time.perf_counter()
    function(*args)
    return (time.perf_counter() - started) * 1000


def query_counts(baseline: Baseline, variants_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements per request at per_page 50 and 500 for list and GeoJSON, same filters otherwise."""
    checks = []
    for path, filters in (
        ("/api/v1/observations", {}),
        ("/api/v1/observations", {"township_code": "500155001"}),
        ("/api/v1/observations/geojson", {}),
        ("/api/v1/observations/geojson", {"bbox": variants_[-2]["query"]["bbox"]}),
    ):
        counts = {pp: baseline.capture(path, {**filters, "per_page": pp})[1] for pp in (50, 500)}
        checks.append(
            {
                "path": path,
                "filters": filters,
                "statements_per_page_50": counts[50],
                "statements_per_page_500": counts[500],
                "grows": counts[500] > counts[50],
            }
        )
    return checks


def profile(baseline: Baseline, variant: dict[str, Any], requests: int, target: Path) -> None:
    """cProfile of one variant through the Flask test client; the top of it written to `target`."""
    url = f"{variant['path']}?{urlencode(variant['query'])}"
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        baseline.client.get(url, headers=baseline.headers)
    profiler.disable()
    target.parent.mkdir(parents=True, exist_ok=True)
    title = f"=== {variant['name']}: cProfile of {requests} requests (Flask test client)"
    with target.open("a", encoding="utf-8") as fh:
        fh.write(profiling.report(profiler, title) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database prepared by bench/dataset.py")
    parser.add_argument("--samples", type=int, default=30, help="timed requests of each variant (default 30)")
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    parser.add_argument("--profile", type=Path, help="profile the variants over budget; write the top here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        storage = Path(folder)
        variant_list, token = variants(args.database_url, storage)
        app = make_app(args.database_url, storage)
        baseline = Baseline(app, token)
        for variant in variant_list:
            variant["statements"], variant["statement_count"] = baseline.capture(
                variant["path"], variant["query"]
            )
        counts = query_counts(baseline, variant_list)
        results = []
        with gunicorn("wsgi:app", app_env(args.database_url, storage)) as port:
            for _ in range(3):  # warm up the fresh workers (imports, caches) on every variant
                for variant in variant_list:
                    get(port, variant["path"], variant["query"], token)
            for variant in variant_list:
                geojson = variant["path"].endswith("geojson")
                ours_ms: list[float] = []
                base_ms: list[float] = []
                size = get(port, variant["path"], variant["query"], token)
                for _ in range(3):  # and on this one, right before its samples
                    get(port, variant["path"], variant["query"], token)
                for _ in range(2):
                    baseline.run(variant["statements"], geojson)
                for _ in range(args.samples):
                    ours_ms.append(_timed_ms(get, port, variant["path"], variant["query"], token))
                    base_ms.append(_timed_ms(baseline.run, variant["statements"], geojson))
                ours_p95, base_p95 = percentile(ours_ms, 0.95), percentile(base_ms, 0.95)
                result = {
                    "name": variant["name"],
                    "request": f"{variant['path']}?{urlencode(variant['query'])}",
                    "statements": variant["statement_count"],
                    "data_statements": len(variant["statements"]),
                    "response_bytes": size,
                    "ours_p95_ms": round(ours_p95, 1),
                    "ours_median_ms": round(statistics.median(ours_ms), 1),
                    "baseline_p95_ms": round(base_p95, 1),
                    "baseline_median_ms": round(statistics.median(base_ms), 1),
                    "ratio": round(ours_p95 / base_p95, 2),
                    "budget_ratio": BUDGET,
                }
                results.append(result)
                print(
                    f"  {result['name']:55} ours p95 {ours_p95:8.1f} ms   "
                    f"raw SQL + json p95 {base_p95:8.1f} ms   ratio {result['ratio']:5.2f}",
                    flush=True,
                )
        if args.profile:
            args.profile.unlink(missing_ok=True)
            for variant, result in zip(variant_list, results, strict=True):
                if result["ratio"] > BUDGET:
                    profile(baseline, variant, 10, args.profile)
        baseline.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    record = {
        "benchmark": "list_query",
        "database": args.database_url.split(":", 1)[0].split("+")[0],
        "samples": args.samples,
        "variants": results,
        "query_counts": counts,
        "worst_ratio": max(r["ratio"] for r in results),
        "budget_ratio": BUDGET,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps({k: v for k, v in record.items() if k != "variants"}, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
