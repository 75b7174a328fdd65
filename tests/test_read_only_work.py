"""SQLite's BEGIN mode: the request layer (app/uow.py) tells the database layer (app/db.py) which work only
reads, so a GET never waits for the write lock and everything else takes it up front."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.db import begin_sqlite_transaction, read_only_work
from app.extensions import db


class _Connection:
    """What the `begin` listener sees of a connection: its dialect, its options, and what it sends."""

    def __init__(self, dialect: str = "sqlite", **options: Any) -> None:
        self.dialect = type("Dialect", (), {"name": dialect})()
        self.options = options
        self.sent: list[str] = []

    def get_execution_options(self) -> dict[str, Any]:
        return self.options

    def exec_driver_sql(self, statement: str) -> None:
        self.sent.append(statement)


def _begin(connection: _Connection) -> list[str]:
    begin_sqlite_transaction(connection)  # type: ignore[arg-type]
    return connection.sent


def test_work_that_may_write_takes_the_write_lock_up_front() -> None:
    assert read_only_work.get() is False
    assert _begin(_Connection()) == ["BEGIN IMMEDIATE"]


def test_read_only_work_and_deferred_connections_begin_plainly() -> None:
    token = read_only_work.set(True)
    try:
        assert _begin(_Connection()) == ["BEGIN"]
    finally:
        read_only_work.reset(token)
    assert _begin(_Connection(sqlite_deferred_begin=True)) == ["BEGIN"]


def test_postgresql_is_left_alone() -> None:
    token = read_only_work.set(True)
    try:
        assert _begin(_Connection("postgresql")) == []
    finally:
        read_only_work.reset(token)


@pytest.fixture
def seen_during_statements(app: Flask) -> Any:
    """`read_only_work` as it stood at every statement sent while the fixture is active."""
    seen: list[bool] = []

    def record(*args: Any) -> None:
        seen.append(read_only_work.get())

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_safe_request_is_read_only_work_until_it_ends(
    client: FlaskClient, seen_during_statements: list[bool], method: str
) -> None:
    assert client.open("/healthz", method=method).status_code == 200
    assert seen_during_statements and all(seen_during_statements)  # the health check's SELECT 1
    assert read_only_work.get() is False  # the test's own work after the request may write again


def test_an_unsafe_request_is_not(client: FlaskClient, seen_during_statements: list[bool]) -> None:
    answer = client.post("/api/v1/auth/tokens", json={"username": "nobody", "password": "x" * 12})
    assert answer.status_code == 401
    assert seen_during_statements and not any(seen_during_statements)
    assert read_only_work.get() is False
