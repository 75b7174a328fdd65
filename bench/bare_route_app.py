"""The bare baseline of the route-upload budget: a Flask app with one endpoint that reads the same JSON body
as POST /api/v1/routes and inserts the same row into `survey_routes` (the points as sent, no line, no
length), with the same driver and connection set-up, and nothing else: no sign-in, no checks, no audit row.
Served by gunicorn like the app (bench/route_upload.py).

    BENCH_BARE_DATABASE_URL=… BENCH_BARE_ORGANIZATION_ID=… BENCH_BARE_SURVEYOR_ID=… \
        .venv/bin/gunicorn --workers 2 --pythonpath bench bare_route_app:app
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request

from app.db import register_engine_events
from app.surveys.models import Route


def create_bare_app(url: str, organization_id: int, surveyor_id: int) -> Flask:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, pool_pre_ping=True)
    register_engine_events()
    table = Route.__table__
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    @app.post("/routes")
    def create() -> tuple[Response, int]:
        body: dict[str, Any] = request.get_json(force=True)
        points = body["points"]
        row = {
            "client_uuid": uuid.UUID(body["client_uuid"]),
            "payload_sha256": hashlib.sha256(request.get_data()).hexdigest(),
            "organization_id": organization_id,
            "surveyor_id": surveyor_id,
            "campaign_id": body["campaign_id"],
            "unit_id": body.get("unit_id"),
            "started_at": datetime.fromisoformat(body["started_at"]).astimezone(UTC),
            "ended_at": datetime.fromisoformat(body["ended_at"]).astimezone(UTC),
            "points": points,
            "geometry": None,
            "length_m": 0.0,
            "duration_s": 0,
            "point_count": len(points),
            "poor_point_count": 0,
            "created_at": datetime.now(UTC),
        }
        with engine.begin() as conn:
            new_id = conn.execute(table.insert(), row).inserted_primary_key[0]
        return jsonify(id=new_id), 201

    return app


app = create_bare_app(
    os.environ["BENCH_BARE_DATABASE_URL"],
    int(os.environ["BENCH_BARE_ORGANIZATION_ID"]),
    int(os.environ["BENCH_BARE_SURVEYOR_ID"]),
)
