"""A 踏查 route of 10 000 points uploaded and stored through the real WSGI stack (issue 19 budget: ≤ 2 s),
against a bare Flask endpoint that takes the same JSON body and inserts the same route row.

Builds its own database (a migrated SQLite file in a temporary folder, or the PostgreSQL database named by
BENCH_DATABASE_URL, emptied first): the district and species, a forestry surveyor with a bearer token, a
campaign with one unit. Both servers run under gunicorn (2 workers), and one client in this process sends
each a fresh route (a new client_uuid each time) in alternating runs, timing the request from the first
byte sent to the answer read:

- app: POST /api/v1/routes: sign-in, the schema, every point checked (time order, inside the district,
  accuracy), the LineString and its geodesic length, the campaign and unit, the idempotency fingerprint,
  the audit row, one commit;
- bare: bench/bare_route_app.py: json.loads, one INSERT of the route row with the points as sent, 201.

    .venv/bin/python bench/route_upload.py [--points 10000] [--runs 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import sqlalchemy as sa
from database import fresh_database_url  # bench/ is on sys.path when a script here runs
from servers import BENCH, app_env, gunicorn

from app import create_app
from app.accounts.models import Organization, Role, User
from app.accounts.tokens import issue_token
from app.district.loading import load_district
from app.district.models import Township
from app.extensions import db
from app.species.sync import sync_registry
from app.surveys.models import Campaign, CampaignKind, SurveyUnit

ROOT = BENCH.parent
BUDGET_SECONDS = 2.0
NO_PASSWORD = "!"  # noqa: S105 -- no hash matches it: the surveyor signs in by bearer token only
START = (107.80, 30.67)  # in a Liangping paddy, well inside the district's box


def build(url: str, tmp: str) -> dict[str, Any]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IAS_STORAGE_DIR": tmp, "MAIL_SERVER": None})
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()
        org = db.session.scalars(sa.select(Organization).where(Organization.code == "forestry")).one()
        surveyor = User(
            username="walker",
            display_name="踏查员",
            role=Role.SURVEYOR,
            organization_id=org.id,
            password_hash=NO_PASSWORD,
            active=True,
        )
        db.session.add(surveyor)
        db.session.flush()
        today = datetime.now(UTC).date()
        campaign = Campaign(
            organization_id=org.id,
            name="基准普查",
            kind=CampaignKind.CENSUS,
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=30),
            created_by_id=surveyor.id,
        )
        db.session.add(campaign)
        db.session.flush()
        township = db.session.scalars(sa.select(Township).where(Township.code == "500155001")).one()
        unit = SurveyUnit(campaign_id=campaign.id, township_id=township.id, unit_code=township.code)
        db.session.add(unit)
        db.session.flush()
        token, _expires = issue_token(surveyor)
        ids = {"organization_id": org.id, "surveyor_id": surveyor.id, "campaign_id": campaign.id,
               "unit_id": unit.id, "token": token}  # fmt: skip
        db.session.commit()
    return ids


def route_body(points: int, campaign_id: int, unit_id: int) -> bytes:
    """A walk of `points` fixes, 5 s and ~4 m apart, wandering (a slow spiral), ending an hour ago."""
    end = datetime.now(UTC) - timedelta(hours=1)
    start = end - timedelta(seconds=5 * (points - 1))
    fixes = []
    lon, lat = START
    for i in range(points):
        angle = i / 150.0
        lon += 4 / 96_000 * math.cos(angle)
        lat += 4 / 111_320 * math.sin(angle)
        fixes.append(
            {
                "t": (start + timedelta(seconds=5 * i)).isoformat(),
                "lat": round(lat, 7),
                "lon": round(lon, 7),
                "accuracy_m": 8.0 if i % 50 else 45.0,  # every 50th fix poor: kept and marked
            }
        )
    body = {
        "client_uuid": str(uuid.uuid4()),
        "campaign_id": campaign_id,
        "unit_id": unit_id,
        "started_at": start.isoformat(),
        "ended_at": end.isoformat(),
        "points": fixes,
    }
    return json.dumps(body).encode()


def post(port: int, path: str, body: bytes, token: str | None) -> tuple[float, int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return time.perf_counter() - started, response.status, data
    finally:
        conn.close()


def fresh(body: bytes) -> bytes:
    """The same route under a new client_uuid (a new route, not a retry)."""
    parsed = json.loads(body)
    parsed["client_uuid"] = str(uuid.uuid4())
    return json.dumps(parsed).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(tmp)
        ids = build(url, tmp)
        body = route_body(args.points, ids["campaign_id"], ids["unit_id"])
        env = app_env(url, Path(tmp))
        bare_env = {
            **env,
            "BENCH_BARE_DATABASE_URL": url,
            "BENCH_BARE_ORGANIZATION_ID": str(ids["organization_id"]),
            "BENCH_BARE_SURVEYOR_ID": str(ids["surveyor_id"]),
        }
        ours: list[float] = []
        bare: list[float] = []
        with (
            gunicorn("wsgi:app", env) as app_port,
            gunicorn("bare_route_app:app", bare_env, pythonpath=BENCH) as bare_port,
        ):
            # Warm-up (not counted): each worker's first request loads what it caches.
            for _ in range(2):
                post(app_port, "/api/v1/routes", fresh(body), ids["token"])
                post(bare_port, "/routes", fresh(body), None)
            for run in range(args.runs):
                for which in ("app", "bare") if run % 2 == 0 else ("bare", "app"):
                    if which == "app":
                        seconds, status, data = post(app_port, "/api/v1/routes", fresh(body), ids["token"])
                    else:
                        seconds, status, data = post(bare_port, "/routes", fresh(body), None)
                    if status != 201:
                        raise SystemExit(f"{which}: route upload answered {status}: {data[:500]!r}")
                    (ours if which == "app" else bare).append(seconds)
            # The stored route: every point kept, its line and length.
            _seconds, status, data = post(app_port, "/api/v1/routes", fresh(body), ids["token"])
            stored = json.loads(data)
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    result = {
        "benchmark": "route_upload",
        "database": url.split(":", 1)[0],
        "points": args.points,
        "body_bytes": len(body),
        "runs": args.runs,
        "ours_seconds": round(ours_s, 3),
        "ours_max_seconds": round(max(ours), 3),
        "baseline_seconds": round(bare_s, 3),
        "ratio": round(ours_s / bare_s, 2) if bare_s else None,
        "stored_points": stored.get("point_count"),
        "stored_length_m": stored.get("length_m"),
        "budget_seconds": BUDGET_SECONDS,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
