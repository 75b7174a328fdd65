"""The floor of the create-observation budget: the bare endpoint (bench/bare_app.py) plus the statements a
create must send to do what docs/contract.md asks of it, sent through SQLAlchemy Core with nothing else
around them: no sign-in machinery, no request hooks, no schemas, no checks, no site or flag logic, no
ORM objects, a two-field answer.

The statements are the app's own, built by the app's code (so the floor follows the app's SQL):

1. the bearer token with its user and organization (app/accounts/services.py);
2. PostgreSQL: the client_uuid's and the species' advisory locks (app/db.py, app/idempotency.py);
3. the client_uuid look-up with the nearest-site and duplicate searches (app/observations/create.py);
4. the record and one flag (PostgreSQL: one INSERT with a data-modifying CTE; SQLite: two INSERTs);
5. its audit row.

What it measures: the share of the budget that the contract's work alone takes on this machine and driver
(`create_cpu.py` and `create_throughput.py` report it beside the app and the bare endpoint). An app that
does anything besides sending these statements is slower than this floor.

    BENCH_BARE_DATABASE_URL=… BENCH_BARE_ORGANIZATION_ID=… BENCH_BARE_SURVEYOR_ID=… \
        .venv/bin/gunicorn --workers 2 --pythonpath bench floor_app:app
"""

from __future__ import annotations

import functools
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request
from observation_row import observation_row  # bench/ is on sys.path (gunicorn --pythonpath bench)

from app import models  # noqa: F401 - every mapper, so that the statements below can be built
from app.accounts.tokens import _TOKEN_ROW, _hash_token
from app.audit.models import AuditLog
from app.config import load_config
from app.db import lock_key, register_engine_events
from app.observations.create import _nearby_statement
from app.observations.models import Observation, ObservationFlag
from app.sites.services import box_params, degree_box, species_lock


@functools.cache
def _token_and_locks() -> sa.Select[Any]:
    """PostgreSQL: the token row and the two advisory locks in one statement."""
    return _TOKEN_ROW.add_columns(
        *(sa.func.pg_advisory_xact_lock(sa.bindparam(f"lock_{i}", type_=sa.BigInteger)) for i in range(2))
    )


@functools.cache
def _writes(columns: tuple[str, ...]) -> sa.Insert:
    """PostgreSQL: the record, its flag and its audit row in one statement (data-modifying CTEs)."""
    observations, flags, audit = Observation.__table__, ObservationFlag.__table__, AuditLog.__table__
    new = (
        sa.insert(observations)
        .values({key: sa.bindparam(key, type_=observations.c[key].type) for key in columns})
        .returning(observations.c.id)
        .cte("new_observation")
    )
    flag = (
        sa.insert(flags)
        .from_select(
            ["observation_id", "flag"], sa.select(new.c.id, sa.bindparam("flag", type_=flags.c.flag.type))
        )
        .cte("new_flag")
    )
    names = ["occurred_at", "actor_id", "actor_label", "action", "entity_type", "changes", "ip"]
    values = [sa.bindparam(name, type_=audit.c[name].type) for name in names]
    return (
        sa.insert(audit)
        .from_select([*names, "entity_id"], sa.select(*values, sa.cast(new.c.id, sa.String)))
        .add_cte(new)
        .add_cte(flag)
        .returning(audit.c.entity_id)
    )


class Floor:
    """The floor's statements, in two steps: `sign_in` (the token, and on PostgreSQL the two advisory locks
    in the same statement) and `write` (the look-up and searches, then the record, its flag and its audit
    row). bench/framework_floor_app.py sends the same ones from Flask-Login's loader and its view."""

    def __init__(self, url: str, organization_id: int, surveyor_id: int) -> None:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.engine = sa.create_engine(url, pool_pre_ping=True)  # the app's engine options (app/config.py)
        register_engine_events()
        self.postgresql = self.engine.dialect.name == "postgresql"
        config = load_config({})
        self.site_radius, self.duplicate_radius = (
            config["IAS_SITE_RADIUS_M"],
            config["IAS_DUPLICATE_RADIUS_M"],
        )
        self.window = timedelta(hours=config["IAS_DUPLICATE_HOURS"])
        self.organization_id, self.surveyor_id = organization_id, surveyor_id
        with self.engine.connect() as conn:  # looked up once, not per request
            self.townships = dict(conn.execute(sa.text("SELECT code, id FROM townships")).all())

    def sign_in(self, conn: sa.Connection, token: str, body: dict[str, Any]) -> Any:
        """The token's row (None: unknown); PostgreSQL: the record's two advisory locks with it."""
        if not self.postgresql:
            return conn.execute(_TOKEN_ROW, {"token_hash": _hash_token(token)}).first()
        locks = (
            f"client-uuid:observations:{uuid.UUID(body['client_uuid'])}",
            species_lock(body["species_id"]),
        )
        keys = {f"lock_{i}": lock_key(name) for i, name in enumerate(locks)}
        return conn.execute(_token_and_locks(), {"token_hash": _hash_token(token), **keys}).first()

    def write(
        self, conn: sa.Connection, body: dict[str, Any], raw: bytes, remote_addr: str | None
    ) -> tuple[int, dict[str, Any]]:
        """The look-up and searches, then the writes; returns the new id and the record's row."""
        client_uuid = uuid.UUID(body["client_uuid"])
        observed_at = datetime.fromisoformat(body["observed_at"]).astimezone(UTC)
        lon, lat, species_id = body["longitude"], body["latitude"], body["species_id"]
        min_lon, min_lat, max_lon, max_lat = degree_box(lon, lat, self.duplicate_radius)
        search = {
            "organization_id": self.organization_id,
            "client_uuid": client_uuid,
            "sender_id": self.surveyor_id,
            **box_params(species_id, lon, lat, self.site_radius),
            "dup_species_id": species_id,
            "dup_detected": body.get("detected", True),
            "dup_from": observed_at - self.window,
            "dup_to": observed_at + self.window,
            "dup_min_lat": min_lat,
            "dup_max_lat": max_lat,
            "dup_min_lon": min_lon,
            "dup_max_lon": max_lon,
        }
        row = observation_row(
            body,
            raw,
            organization_id=self.organization_id,
            surveyor_id=self.surveyor_id,
            townships=self.townships,
        )
        audit_row = {
            "occurred_at": row["created_at"],
            "actor_id": self.surveyor_id,
            "actor_label": "surveyor",
            "action": "create",
            "entity_type": "observations",
            "changes": {key: [None, str(value)] for key, value in row.items() if value is not None},
            "ip": remote_addr,
        }
        conn.execute(_nearby_statement(), search).all()
        if self.postgresql:  # the record, its flag and its audit row in one statement
            statement = _writes(tuple(row))
            new_id = int(
                conn.execute(statement, {**row, **audit_row, "flag": "possible_duplicate"}).scalar_one()
            )
            return new_id, row
        observations, flags, audit = Observation.__table__, ObservationFlag.__table__, AuditLog.__table__
        new_id = conn.execute(observations.insert(), row).inserted_primary_key[0]
        conn.execute(flags.insert(), {"observation_id": new_id, "flag": "possible_duplicate"})
        conn.execute(audit.insert(), {**audit_row, "entity_id": str(new_id)})
        return new_id, row


def create_floor_app(url: str, organization_id: int, surveyor_id: int) -> Flask:
    floor = Floor(url, organization_id, surveyor_id)
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    @app.post("/observations")
    def create() -> tuple[Response, int]:
        body: dict[str, Any] = request.get_json()
        token = request.headers.get("Authorization", "").partition(" ")[2]
        with floor.engine.begin() as conn:  # the fewest round trips: token (and locks), searches, writes
            floor.sign_in(conn, token, body)
            new_id, _row = floor.write(conn, body, request.get_data(), request.remote_addr)
        return jsonify(id=new_id, status="submitted"), 201

    return app


app = create_floor_app(
    os.environ["BENCH_BARE_DATABASE_URL"],
    int(os.environ["BENCH_BARE_ORGANIZATION_ID"]),
    int(os.environ["BENCH_BARE_SURVEYOR_ID"]),
)
