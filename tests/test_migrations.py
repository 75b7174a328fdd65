"""Migrations are reviewed code: one head, and they build exactly the schema the models describe."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from app.control.models import ControlOperation
from app.extensions import db
from app.observations.models import Observation
from tests.areas.shapes import square
from tests.conftest import PADDY

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


def _migration(revision: str) -> ModuleType:
    """A migration module by its revision id, to run its data step against the test database."""
    [path] = (MIGRATIONS / "versions").glob(f"*_{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_c0a1d6e50022_measures_stored_outlines_again_each_polygon_oriented(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    """Outlines stored before the fix carry the signed sum of their rings; the migration measures them
    again, and `area_m2` follows only where it was the outline's own area (none typed)."""
    lat, lon = PADDY
    one = square(lon, lat, 100)["coordinates"][0]
    two = list(reversed(square(lon, lat, 100, east_m=300)["coordinates"][0]))  # traced clockwise
    both = {"type": "MultiPolygon", "coordinates": [[one], [two]]}
    api = api_as("surveyor")
    untyped = make_observation(api, area_m2=None, geometry=both)
    typed = make_observation(api, area_m2=21_000, geometry=both, latitude=lat + 0.005)
    operation, _baseline = treat(api, area_m2=None, geometry=both)
    # As the old measure stored them: the two parts cancelling out.
    for model, ident in ((Observation, untyped["id"]), (ControlOperation, operation["id"])):
        db.session.execute(
            sa.update(model).where(model.id == ident).values(geometry_area_m2=0.01, area_m2=0.01)
        )
    db.session.execute(
        sa.update(Observation).where(Observation.id == typed["id"]).values(geometry_area_m2=0.01)
    )
    db.session.expire_all()

    _migration("c0a1d6e50022").remeasure(db.session.connection())
    db.session.expire_all()

    for row in (
        db.session.get(Observation, untyped["id"]),
        db.session.get(ControlOperation, operation["id"]),
    ):
        assert row is not None
        assert row.geometry_area_m2 == pytest.approx(20_000, rel=0.005)
        assert row.area_m2 == row.geometry_area_m2
    kept = db.session.get(Observation, typed["id"])
    assert kept is not None
    assert kept.geometry_area_m2 == pytest.approx(20_000, rel=0.005)
    assert kept.area_m2 == 21_000  # typed by the surveyor: left as it is
