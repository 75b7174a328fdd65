"""Migrations are reviewed code: one head, and they build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from app.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def test_single_head() -> None:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migration branches must be merged: {heads}"


def test_models_and_migrations_agree(app: Flask) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrated schema; run `flask db migrate`: {diff}"


def test_migration_files_are_dated() -> None:
    for path in (MIGRATIONS / "versions").glob("*.py"):
        assert path.name[:8].isdigit(), f"{path.name} should start with its date (YYYYMMDD_)"
