"""The database a benchmark builds its data in: SQLite in its temporary folder, or the PostgreSQL database
named by BENCH_DATABASE_URL, emptied first (it must be a throw-away database)."""

from __future__ import annotations

import os

import sqlalchemy as sa


def fresh_database_url(tmp: str) -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp}/bench.db"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url
