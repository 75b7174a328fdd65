"""Coverage of a campaign of 343 villages with village polygons loaded (issue 19 budget: ≤ 1 s).

Builds its own database (a migrated SQLite file in a temporary folder, or the PostgreSQL database named by
BENCH_DATABASE_URL, emptied first) with the district's 343 villages, and loads a made-up polygon for each
through the app's own boundary load (a grid over the district's box, each edge cut into ~30 m segments so
a polygon has hundreds of vertices like a surveyed boundary; none of it real). Then a campaign of all 343
villages assigned to 20 surveyors, `--routes` routes of `--route-points` fixes wandering across villages,
and `--records` records of the campaign (half of them made along its routes).

Measured, over interleaved runs:
- cold: app.surveys.coverage.compute in a fresh process state (the boundaries' locator built from the
  database first: read the 343 polygons, prepare them, index them), what the first request after a
  boundary load pays;
- warm: the same with the locator already built (every later request);
- baseline (bare): the same three reads as raw SQL on the DBAPI connection, and the polygons hit by the
  points and tracks through a ready STRtree query (no statuses, no tallies, no names): the least any
  coverage could do.

    .venv/bin/python bench/campaign_coverage.py [--routes 400] [--route-points 500] [--records 3000]
        [--runs 5] [--json FILE]

The records and routes lie in the southern 70 % of the district (the part walked so far), so the campaign
has units of every status.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import numpy as np
import shapely
import sqlalchemy as sa
from database import fresh_database_url  # bench/ is on sys.path when a script here runs
from servers import BENCH

from app import create_app
from app.accounts.models import Organization, Role, User
from app.district import boundaries
from app.district.loading import load_district
from app.district.models import BoundaryLevel, Village
from app.extensions import db
from app.observations.models import Observation, PositionSource, ReviewStatus
from app.species.models import Species
from app.species.sync import sync_registry
from app.surveys import coverage
from app.surveys.models import Campaign, CampaignKind, Route, SurveyUnit

ROOT = BENCH.parent
BUDGET_SECONDS = 1.0
BOX = (107.4000, 30.4167, 108.0833, 30.8833)  # Liangping's box (districts/liangping/district.toml)
SEGMENT_DEG = 0.0003  # about 30 m
NO_PASSWORD = "!"  # noqa: S105 -- no hash matches it: nobody signs in as these made-up surveyors


def grid(codes: list[str]) -> list[dict[str, Any]]:
    """One made-up square per village code, tiling the box row by row, edges cut into ~30 m segments."""
    n = math.ceil(math.sqrt(len(codes)))
    dx, dy = (BOX[2] - BOX[0]) / n, (BOX[3] - BOX[1]) / n
    features = []
    for k, code in enumerate(codes):
        i, j = divmod(k, n)
        cell = shapely.box(BOX[0] + j * dx, BOX[1] + i * dy, BOX[0] + (j + 1) * dx, BOX[1] + (i + 1) * dy)
        cell = shapely.segmentize(cell, SEGMENT_DEG)
        features.append(
            {"type": "Feature", "properties": {"code": code}, "geometry": shapely.geometry.mapping(cell)}
        )
    return features


WALKED_LAT = BOX[1] + 0.7 * (BOX[3] - BOX[1])  # the campaign has walked the south of the district so far


def walk(rng: random.Random, points: int) -> list[tuple[float, float]]:
    """A wandering track of `points` fixes ~4 m apart, starting somewhere in the walked part of the box."""
    lon = rng.uniform(BOX[0] + 0.02, BOX[2] - 0.02)
    lat = rng.uniform(BOX[1] + 0.02, WALKED_LAT - 0.02)
    heading = rng.uniform(0, 2 * math.pi)
    track = []
    for _ in range(points):
        heading += rng.gauss(0, 0.15)
        lon = min(max(lon + 4 / 96_000 * math.cos(heading), BOX[0]), BOX[2])
        lat = min(max(lat + 4 / 111_320 * math.sin(heading), BOX[1]), BOX[3])
        track.append((round(lon, 7), round(lat, 7)))
    return track


def build(app: Any, routes: int, route_points: int, records: int) -> int:
    rng = random.Random(19)  # noqa: S311 -- made-up data, repeatable
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()
        villages = list(db.session.execute(sa.select(Village.code, Village.id, Village.township_id)))
        codes = sorted(code for code, _id, _t in villages)
        data = json.dumps({"type": "FeatureCollection", "features": grid(codes)}).encode()
        boundaries.load_boundaries(data, "bench-villages.geojson", level=BoundaryLevel.VILLAGE)
        db.session.commit()

        org = db.session.scalars(sa.select(Organization).where(Organization.code == "forestry")).one()
        species = db.session.scalar(sa.select(Species.id).where(Species.key == "pomacea-canaliculata"))
        people = [
            User(username=f"walker{i}", display_name=f"踏查员{i}", role=Role.SURVEYOR, organization_id=org.id,
                 password_hash=NO_PASSWORD, active=True)
            for i in range(20)
        ]  # fmt: skip
        db.session.add_all(people)
        db.session.flush()
        today = datetime.now(UTC).date()
        campaign = Campaign(
            organization_id=org.id,
            name="基准普查",
            kind=CampaignKind.CENSUS,
            starts_on=today - timedelta(days=60),
            ends_on=today + timedelta(days=60),
            created_by_id=people[0].id,
        )
        db.session.add(campaign)
        db.session.flush()
        db.session.execute(
            sa.insert(SurveyUnit),
            [
                {
                    "campaign_id": campaign.id,
                    "township_id": township_id,
                    "village_id": village_id,
                    "unit_code": code,
                    "assignee_id": people[k % 20].id,
                    "due_on": today + timedelta(days=rng.randrange(-20, 40)),
                }
                for k, (code, village_id, township_id) in enumerate(sorted(villages))
            ],
        )
        now = datetime.now(UTC)
        route_rows, route_uuids, tracks = [], [], []
        for k in range(routes):
            track = walk(rng, route_points)
            tracks.append(track)
            started = now - timedelta(days=rng.randrange(1, 50), hours=3)
            client_uuid = uuid.uuid4()
            route_uuids.append(client_uuid)
            xs, ys = [p[0] for p in track], [p[1] for p in track]
            route_rows.append(
                {
                    "client_uuid": client_uuid,
                    "payload_sha256": hashlib.sha256(client_uuid.bytes).hexdigest(),
                    "organization_id": org.id,
                    "surveyor_id": people[k % 20].id,
                    "campaign_id": campaign.id,
                    "unit_id": None,
                    "started_at": started,
                    "ended_at": started + timedelta(seconds=5 * route_points),
                    "points": [{"t": "", "lon": x, "lat": y, "accuracy_m": 8.0} for x, y in track],
                    "geometry": {"type": "LineString", "coordinates": [list(p) for p in track]},
                    "length_m": 4.0 * route_points,
                    "duration_s": 5 * route_points,
                    "point_count": route_points,
                    "poor_point_count": 0,
                    "min_lon": min(xs),
                    "min_lat": min(ys),
                    "max_lon": max(xs),
                    "max_lat": max(ys),
                    "created_at": now,
                }
            )
        db.session.execute(sa.insert(Route), route_rows)
        record_rows = []
        for k in range(records):
            along = k % 2 == 0 and route_uuids
            if along:  # on its route's track
                lon, lat = rng.choice(tracks[k % len(route_uuids)])
            else:
                lon, lat = rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], WALKED_LAT)
            record_rows.append(
                {
                    "client_uuid": uuid.uuid4(),
                    "payload_sha256": "0" * 64,
                    "organization_id": org.id,
                    "surveyor_id": people[k % 20].id,
                    "species_id": species,
                    "detected": k % 3 != 0,
                    "observed_at": now - timedelta(days=rng.randrange(1, 50)),
                    "latitude": lat,
                    "longitude": lon,
                    "position_source": PositionSource.GPS,
                    "status": ReviewStatus.SUBMITTED,
                    "campaign_id": None if along else campaign.id,
                    "route_uuid": route_uuids[k % len(route_uuids)] if along else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        db.session.execute(sa.insert(Observation), record_rows)
        db.session.commit()
        return campaign.id


def bare(app: Any, campaign_id: int, tree: Any) -> float:
    """The three reads as raw SQL on the DBAPI connection, and the polygons hit, through a ready index."""
    started = time.perf_counter()
    with app.app_context():
        raw: Any = db.session.connection().connection.driver_connection
        cursor = raw.cursor()
        postgres = db.session.get_bind().dialect.name == "postgresql"

        def run(sql: str, *values: int) -> list[Any]:
            cursor.execute(sql.replace("?", "%s") if postgres else sql, values)
            return list(cursor.fetchall())

        run("SELECT id, unit_code, assignee_id, due_on FROM survey_units WHERE campaign_id = ?", campaign_id)
        routes = run("SELECT id, client_uuid, geometry FROM survey_routes WHERE campaign_id = ?", campaign_id)
        records = run(
            "SELECT o.id, o.longitude, o.latitude FROM observations o WHERE o.campaign_id = ? OR EXISTS "
            "(SELECT 1 FROM survey_routes r WHERE r.campaign_id = ? AND r.client_uuid = o.route_uuid "
            "AND r.organization_id = o.organization_id)",
            campaign_id,
            campaign_id,
        )
        lines = []
        for _id, _uuid, geometry in routes:
            value = json.loads(geometry) if isinstance(geometry, str) else geometry
            lines.append(shapely.linestrings(value["coordinates"]))
        tree.query(np.array(lines, dtype=object), predicate="intersects")
        points = shapely.points(np.array([r[1] for r in records]), np.array([r[2] for r in records]))
        tree.query(points, predicate="intersects")
        db.session.rollback()
    return time.perf_counter() - started


def ours(app: Any, campaign_id: int, *, cold: bool) -> tuple[float, coverage.Coverage]:
    if cold:  # as the first request after a load: the locator is built from the database
        boundaries._cache.update(version=None)
    started = time.perf_counter()
    with app.test_request_context():
        result = coverage.compute(campaign_id)
        db.session.rollback()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=400)
    parser.add_argument("--route-points", type=int, default=500)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(tmp)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IAS_STORAGE_DIR": tmp, "MAIL_SERVER": None})
        started = time.perf_counter()
        campaign_id = build(app, args.routes, args.route_points, args.records)
        build_seconds = time.perf_counter() - started
        with app.test_request_context():
            level = boundaries.locator().villages
            assert level is not None  # noqa: S101 -- loaded above
            tree = shapely.STRtree(level.geometries)
        ours(app, campaign_id, cold=False)  # warm-up
        cold_s: list[float] = []
        warm_s: list[float] = []
        bare_s: list[float] = []
        for run in range(args.runs):
            steps = ["cold", "warm", "bare"] if run % 2 == 0 else ["bare", "warm", "cold"]
            for step in steps:
                if step == "bare":
                    bare_s.append(bare(app, campaign_id, tree))
                else:
                    (cold_s if step == "cold" else warm_s).append(
                        ours(app, campaign_id, cold=step == "cold")[0]
                    )
        _seconds, result = ours(app, campaign_id, cold=False)
    cold, warm, base = statistics.median(cold_s), statistics.median(warm_s), statistics.median(bare_s)
    record = {
        "benchmark": "campaign_coverage",
        "database": url.split(":", 1)[0],
        "units": len(result.units),
        "routes": len(result.routes),
        "route_points": args.route_points,
        "records": len(result.records),
        "covered": result.totals.covered,
        "in_progress": result.totals.in_progress,
        "not_started": result.totals.not_started,
        "runs": args.runs,
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "baseline_seconds": round(base, 3),
        "ratio": round(warm / base, 2) if base else None,
        "build_seconds": round(build_seconds, 1),
        "budget_seconds": BUDGET_SECONDS,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(record, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
