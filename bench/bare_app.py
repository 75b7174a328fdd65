"""The bare baseline of the create-observation budget: a Flask app with one endpoint that reads the same
JSON body as POST /api/v1/observations and inserts the same single row into `observations`, with the same
driver and connection set-up (app.db's SQLite pragmas and BEGIN IMMEDIATE), and nothing else: no sign-in,
no checks, no site placement, no flags, no audit row. Served by gunicorn like the app.

    BENCH_BARE_DATABASE_URL=… BENCH_BARE_ORGANIZATION_ID=… BENCH_BARE_SURVEYOR_ID=… \
        .venv/bin/gunicorn --workers 2 --pythonpath bench bare_app:app
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request
from observation_row import observation_row  # bench/ is on sys.path (gunicorn --pythonpath bench)

from app.db import register_engine_events
from app.observations.models import Observation


def create_bare_app(url: str, organization_id: int, surveyor_id: int) -> Flask:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, pool_pre_ping=True)  # the app's engine options (app/config.py)
    register_engine_events()
    table = Observation.__table__
    with engine.connect() as conn:  # looked up once, not per request
        townships = dict(conn.execute(sa.text("SELECT code, id FROM townships")).all())
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    @app.post("/observations")
    def create() -> tuple[Response, int]:
        body: dict[str, Any] = request.get_json()
        row = observation_row(
            body,
            request.get_data(),
            organization_id=organization_id,
            surveyor_id=surveyor_id,
            townships=townships,
        )
        with engine.begin() as conn:
            new_id = conn.execute(table.insert(), row).inserted_primary_key[0]
        return jsonify(id=new_id, status="submitted"), 201

    return app


app = create_bare_app(
    os.environ["BENCH_BARE_DATABASE_URL"],
    int(os.environ["BENCH_BARE_ORGANIZATION_ID"]),
    int(os.environ["BENCH_BARE_SURVEYOR_ID"]),
)
