"""The district map with 100 000 observations (docs/contract.md §5 budget: points painted ≤ 1.5 s, ≤ 1 MB
fetched, independent of the number of points beyond what is visible).

On a data set of 100 000 observations (bench/dataset.py, its own cached copy), through gunicorn (2
workers) with a bearer token, one request at a time, timed by the client from sending to the last byte:

- ours: GET /api/v1/map/observations for the whole district at the district zoom (10) and at 11, the
  records map's first request (clusters with counts; app/gis/aggregate.py), and zoomed in on a busy
  township (zoom 15, a view of about 1 km: points);
- baseline: the same aggregate on a raw DBAPI cursor of the same driver (the count and the GROUP BY of the
  cells over the view), the rows `json.dumps`-ed as features: what the app adds is sign-in, argument
  parsing, filter look-ups and Flask;
- for scale, what drawing every point would fetch: the bytes of GET /api/v1/observations/geojson for
  1000 points, times the records in view.

Independence of the number of points: the district view again with half the records (presence only) and
a tenth (one species): the answer's size follows the cells in view, not the records.

    .venv/bin/python bench/map_points.py --workdir DIR [--observations 100000] [--samples 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from dataset import make_app, prepare  # bench/ is on sys.path when a script here runs
from loadgen import percentile
from servers import app_env, gunicorn

# Every model mapped before a service module is imported (observations/services.py inspects its mapper
# when imported, which needs the tables its relationships name).
from app import models  # noqa: F401
from app.accounts.models import User
from app.accounts.tokens import issue_token
from app.district.models import District
from app.extensions import db
from app.gis.aggregate import cell_degrees
from app.observations.models import Observation

BUDGET_BYTES = 1024 * 1024
BUDGET_SECONDS = 1.5
DISTRICT_ZOOM = 10


def _setup(url: str, storage: Path) -> dict[str, Any]:
    app = make_app(url, storage)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username.like("surveyor-%")).order_by(User.id))
        assert user is not None  # noqa: S101 - the data set has surveyors
        token = issue_token(user)[0]
        db.session.commit()
        district = db.session.scalar(sa.select(District))
        assert district is not None  # noqa: S101
        bbox = (district.min_lon, district.min_lat, district.max_lon, district.max_lat)
        species = db.session.execute(
            sa.select(Observation.species_id, sa.func.count())
            .group_by(Observation.species_id)
            .order_by(sa.func.count().desc())
        ).all()
        # A busy place: the mean position of the most common species' records in its densest 0.01° cell.
        cell = db.session.execute(
            sa.select(sa.func.avg(Observation.longitude), sa.func.avg(Observation.latitude), sa.func.count())
            .group_by(
                sa.cast(Observation.longitude * 100, sa.Integer),
                sa.cast(Observation.latitude * 100, sa.Integer),
            )
            .order_by(sa.func.count().desc())
            .limit(1)
        ).one()
        db.session.remove()
        db.engine.dispose()
    # One species with about a tenth of the records (the commonest below 15 %).
    total = sum(n for _, n in species)
    tenth = next((sid for sid, n in species if n <= total * 0.15), species[-1][0])
    return {"token": token, "bbox": bbox, "tenth_species": tenth, "busy": (cell[0], cell[1]), "total": total}


def _get(port: int, token: str, path: str, query: dict[str, Any]) -> tuple[float, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request("GET", f"{path}?{urlencode(query)}", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
    return elapsed, body


def _baseline(url: str, bbox: tuple[float, ...], zoom: int, where: str = "") -> tuple[float, int]:
    """The aggregate on a raw DBAPI cursor, rows dumped as features: (seconds, bytes)."""
    engine = sa.create_engine(url)
    size = cell_degrees(zoom)
    floor = "CAST(floor({}) AS INTEGER)" if engine.dialect.name == "postgresql" else "CAST({} AS INTEGER)"
    gx, gy = floor.format(f"(longitude + 180.0) / {size!r}"), floor.format(f"(latitude + 90.0) / {size!r}")
    view = (
        f"latitude BETWEEN {bbox[1]!r} AND {bbox[3]!r} "
        f"AND longitude BETWEEN {bbox[0]!r} AND {bbox[2]!r}{where}"
    )
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = raw.cursor()
        cursor.execute(f"SELECT count(*) FROM observations WHERE {view}")  # noqa: S608 - numbers only
        total = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT {gx} AS gx, {gy} AS gy, count(*), "  # noqa: S608
            "sum(CASE WHEN detected THEN 1 ELSE 0 END), avg(longitude), avg(latitude) "
            f"FROM observations WHERE {view} GROUP BY gx, gy"
        )
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {"count": n, "found": int(found or 0)},
            }
            for _gx, _gy, n, found, lon, lat in cursor.fetchall()
        ]
        body = json.dumps({"type": "FeatureCollection", "total": total, "features": features}).encode()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()
    return elapsed, len(body)


def _cells(bbox: tuple[float, ...], zoom: int) -> int:
    size = cell_degrees(zoom)
    return (int((bbox[2] - bbox[0]) / size) + 2) * (int((bbox[3] - bbox[1]) / size) + 2)


def _timed(samples: int, run: Any) -> dict[str, Any]:
    run()  # warm-up
    times, sizes = [], []
    for _ in range(samples):
        elapsed, size = run()
        times.append(elapsed)
        sizes.append(size)
    return {
        "p95_ms": 1000 * percentile(times, 0.95),
        "median_ms": 1000 * statistics.median(times),
        "bytes": max(sizes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    dataset = prepare(
        workdir=args.workdir,
        observations=args.observations,
        database_url=os.environ.get("BENCH_DATABASE_URL"),
        progress=progress,
    )
    storage = args.workdir / "storage"
    storage.mkdir(exist_ok=True)
    setup = _setup(dataset.url, storage)
    token, bbox = setup["token"], setup["bbox"]
    lon, lat = setup["busy"]
    near = (lon - 0.006, lat - 0.005, lon + 0.006, lat + 0.005)
    view = ",".join(f"{v:.5f}" for v in bbox)
    mapped = "/api/v1/map/observations"
    results: list[dict[str, Any]] = []
    with gunicorn("wsgi:app", app_env(dataset.url, storage)) as port:

        def ours(query: dict[str, Any]) -> Any:
            def run() -> tuple[float, int]:
                elapsed, body = _get(port, token, mapped, query)
                return elapsed, len(body)

            return run

        cases = [
            ("district view, zoom 10 (clusters)", {"bbox": view, "zoom": DISTRICT_ZOOM}, ""),
            ("district view, zoom 11 (clusters)", {"bbox": view, "zoom": 11}, ""),
            (
                "district view, zoom 10, presence only",
                {"bbox": view, "zoom": DISTRICT_ZOOM, "detected": "true"},
                " AND detected",
            ),
            (
                "district view, zoom 10, one species",
                {"bbox": view, "zoom": DISTRICT_ZOOM, "species_id": setup["tenth_species"]},
                f" AND species_id = {int(setup['tenth_species'])}",
            ),
        ]
        for name, query, where in cases:
            _elapsed, body = _get(port, token, mapped, query)
            answer = json.loads(body)
            record = {
                "name": name,
                "kind": answer["kind"],
                "records": answer["total"],
                "features": len(answer["features"]),
                "ours": _timed(args.samples, ours(query)),
                "baseline": _timed(
                    args.samples, lambda q=query, w=where: _baseline(dataset.url, bbox, q["zoom"], w)
                ),
            }
            record["ratio"] = round(record["ours"]["p95_ms"] / max(record["baseline"]["p95_ms"], 0.001), 2)
            results.append(record)
        # Zoomed in on the busiest place: points.
        query = {"bbox": ",".join(f"{v:.5f}" for v in near), "zoom": 15}
        _elapsed, body = _get(port, token, mapped, query)
        answer = json.loads(body)
        results.append(
            {
                "name": "zoomed in, ~1 km view, zoom 15",
                "kind": answer["kind"],
                "records": answer["total"],
                "features": len(answer["features"]),
                "ours": _timed(args.samples, ours(query)),
            }
        )
        # What drawing every point would fetch (the GeoJSON list's bytes per point × the records).
        _elapsed, sample = _get(port, token, "/api/v1/observations/geojson", {"bbox": view, "per_page": 1000})
        per_point = len(sample) / max(len(json.loads(sample)["features"]), 1)
    district = results[0]
    record_out = {
        "observations": dataset.observations,
        "dialect": dataset.dialect,
        "cases": results,
        "every_point_bytes": round(per_point * district["records"]),
        "budget_bytes": BUDGET_BYTES,
        "budget_seconds": BUDGET_SECONDS,
        "district_bytes": district["ours"]["bytes"],
        "district_p95_ms": district["ours"]["p95_ms"],
        # The answer is one feature per cell of the view at most, whatever the number of records in it.
        "view_cells": _cells(bbox, DISTRICT_ZOOM),
        "independent": all(
            r["features"] <= _cells(bbox, int(r["name"].split("zoom ")[1][:2])) for r in results[:4]
        ),
    }
    text = json.dumps(record_out)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
