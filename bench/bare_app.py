"""The bare baseline of the create-observation budget: a Flask app with one endpoint that reads the same
JSON body as POST /api/v1/observations and inserts the same single row into `observations`, with the same
driver and connection set-up (app.db's SQLite pragmas and BEGIN IMMEDIATE), and nothing else: no sign-in,
no checks, no site placement, no flags, no audit row. Served by gunicorn like the app.

    BENCH_BARE_DATABASE_URL=… BENCH_BARE_ORGANIZATION_ID=… BENCH_BARE_SURVEYOR_ID=… \
        .venv/bin/gunicorn --workers 2 --pythonpath bench bare_app:app
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
from app.observations.models import Observation, PositionSource, ReviewStatus


def create_bare_app(url: str, organization_id: int, surveyor_id: int) -> Flask:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, pool_pre_ping=True)  # the app's engine options (app/config.py)
    register_engine_events()
    table = Observation.__table__
    with engine.connect() as conn:  # looked up once, not per request
        townships = dict(conn.execute(sa.text("SELECT code, id FROM townships")).tuples().all())
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    @app.post("/observations")
    def create() -> tuple[Response, int]:
        body: dict[str, Any] = request.get_json()
        observed_at = datetime.fromisoformat(body["observed_at"]).astimezone(UTC)
        now = datetime.now(UTC)
        row = {
            "client_uuid": uuid.UUID(body["client_uuid"]),
            "payload_sha256": hashlib.sha256(request.get_data()).hexdigest(),
            "organization_id": organization_id,
            "surveyor_id": surveyor_id,
            "species_id": body["species_id"],
            "detected": body.get("detected", True),
            "observed_at": observed_at,
            "latitude": body["latitude"],
            "longitude": body["longitude"],
            "accuracy_m": body.get("accuracy_m"),
            "altitude_m": body.get("altitude_m"),
            "position_source": PositionSource(body.get("position_source", "gps")),
            "township_id": townships.get(body.get("township_code")),
            "place_name": body.get("place_name"),
            "notes": body.get("notes"),
            "status": ReviewStatus.SUBMITTED,
            "created_at": now,
            "updated_at": now,
        }
        with engine.begin() as conn:
            new_id = conn.execute(table.insert(), row).inserted_primary_key[0]
        return jsonify(id=new_id, status="submitted"), 201

    return app


app = create_bare_app(
    os.environ["BENCH_BARE_DATABASE_URL"],
    int(os.environ["BENCH_BARE_ORGANIZATION_ID"]),
    int(os.environ["BENCH_BARE_SURVEYOR_ID"]),
)
