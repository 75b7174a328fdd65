"""Migrations are reviewed code: one head, and they build exactly the schema the models describe."""

from __future__ import annotations

import contextvars
import importlib.util
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from flask import Flask

from app.audit.models import AuditLog
from app.control.models import ControlOperation, FollowUp, FollowUpKind, FollowUpStatus
from app.extensions import db
from app.observations.models import Observation
from app.species.models import Species
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


def _run(revision: str, step: str) -> None:
    """A migration's upgrade or downgrade, as Alembic runs it, on the test's own connection."""
    module = _migration(revision)
    with Operations.context(MigrationContext.configure(db.session.connection())):
        getattr(module, step)()
    db.session.expire_all()


def _as_stored_before_the_fix(record_id: int, **values: Any) -> None:
    """Written through the app's session, so the audit log records it as it recorded the app's writes."""
    record = db.session.get(Observation, record_id)
    assert record is not None
    for name, value in values.items():
        setattr(record, name, value)
    db.session.flush()


def _severity(record: dict[str, Any]) -> int | None:
    return db.session.get(Observation, record["id"]).severity  # type: ignore[union-attr]


# Levels 1–5 of the area: up to 100 m², 1 000, 5 000, 10 000, above.
AREA_RULE = {"metric": "area", "thresholds": [100, 1000, 5000, 10000], "scale": "crop_pest"}


def test_c0a1d6e50024_derives_again_a_severity_derived_from_a_wrongly_measured_outline(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    """Outlines of 2 ha stored as 0.01 m², and a severity derived from that (level 1 of an area rule): after
    c0a1d6e50022 corrected the area, c0a1d6e50024 derives the severity again (level 5). A severity that
    cannot have come from the wrong area, or that a person chose by an edit, is left; the downgrade puts
    the replaced one back."""
    lat, lon = PADDY
    one = square(lon, lat, 100)["coordinates"][0]
    two = list(reversed(square(lon, lat, 100, east_m=300)["coordinates"][0]))  # traced clockwise
    both = {"type": "MultiPolygon", "coordinates": [[one], [two]]}
    wrong = {"geometry_area_m2": 0.01, "area_m2": 0.01}
    api = api_as("surveyor")

    def record(north_m: float, **changes: Any) -> dict[str, Any]:
        values = {"area_m2": None, "geometry": both, "latitude": lat + north_m / 111_320, **changes}
        return make_observation(api, **values)

    derived = record(0)
    _as_stored_before_the_fix(derived["id"], **wrong, severity=1)  # what the area rule gave 0.01 m²
    entered = record(10)
    _as_stored_before_the_fix(entered["id"], **wrong, severity=3)  # not what any rule gave 0.01 m²
    chosen = record(20)
    _as_stored_before_the_fix(chosen["id"], **wrong, severity=2)
    _as_stored_before_the_fix(chosen["id"], severity=1)  # an edit of the severity alone: a person's
    typed = record(30, area_m2=21_000)
    _as_stored_before_the_fix(typed["id"], geometry_area_m2=0.01, severity=1)
    measured_right = record(40, severity=1)  # made after the fix: its area was never wrong
    cases = (derived, entered, chosen, typed, measured_right)
    assert [_severity(r) for r in cases] == [1, 3, 1, 1, 1]

    # 福寿螺's shipped rule reads the density: no severity of it came from the area.
    assert _migration("c0a1d6e50024").rederive(db.session.connection()) == []
    db.session.execute(
        sa.update(Species).where(Species.id == species_id("pomacea-canaliculata")).values(severity=AREA_RULE)
    )

    _run("c0a1d6e50022", "upgrade")
    assert db.session.get(Observation, derived["id"]).area_m2 == pytest.approx(20_000, rel=0.005)  # type: ignore[union-attr]
    _run("c0a1d6e50024", "upgrade")

    assert [_severity(r) for r in cases] == [5, 3, 1, 1, 1]
    [audited] = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.actor_label == "migration c0a1d6e50024")
    ).all()
    assert (audited.action, audited.entity_type, audited.entity_id) == (
        "update",
        "observations",
        str(derived["id"]),
    )
    assert audited.changes == {"severity": [1, 5]}

    _run("c0a1d6e50024", "downgrade")
    assert [_severity(r) for r in cases] == [1, 3, 1, 1, 1]
    [undone] = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.actor_label == "migration c0a1d6e50024 downgrade")
    ).all()
    assert undone.changes == {"severity": [5, 1]}
    # Upgraded again, the downgrade's own audit row is no person's choice: derived again.
    _run("c0a1d6e50024", "upgrade")
    assert [_severity(r) for r in cases] == [5, 3, 1, 1, 1]


def test_c0a1d6e50024_downgrade_leaves_a_severity_changed_since(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    lat, lon = PADDY
    one = square(lon, lat, 100)["coordinates"][0]
    two = list(reversed(square(lon, lat, 100, east_m=300)["coordinates"][0]))
    derived = make_observation(
        api_as("surveyor"), area_m2=None, geometry={"type": "MultiPolygon", "coordinates": [[one], [two]]}
    )
    _as_stored_before_the_fix(derived["id"], geometry_area_m2=0.01, area_m2=0.01, severity=1)
    db.session.execute(
        sa.update(Species).where(Species.id == species_id("pomacea-canaliculata")).values(severity=AREA_RULE)
    )
    _run("c0a1d6e50022", "upgrade")
    _run("c0a1d6e50024", "upgrade")
    assert _severity(derived) == 5
    _as_stored_before_the_fix(derived["id"], severity=4)  # edited by someone since
    _run("c0a1d6e50024", "downgrade")
    assert _severity(derived) == 4


def _spring_copy(original: FollowUp, **changes: Any) -> FollowUp:
    """A pending next-spring check of the original's site, as a concurrent operation once added one."""
    copy = FollowUp(
        site_id=original.site_id,
        control_operation_id=original.control_operation_id,
        organization_id=original.organization_id,
        kind=FollowUpKind.NEXT_SPRING,
        offset_days=original.offset_days,
        due_on=changes.get("due_on", original.due_on),
        assignee_id=original.assignee_id,
    )
    db.session.add(copy)
    db.session.flush()
    return copy


def test_c0a1d6e50028_cancels_extra_pending_spring_checks_with_an_audit_row_then_refuses_them(
    api_as: Any, treat: Any
) -> None:
    """A site left with three pending next-spring checks (two operations created at the same moment,
    before the index): the latest due, then the latest made, stays pending; the others are cancelled with
    their reason and an audit row, never deleted; then the database refuses another."""
    operation, _ = treat(api_as("surveyor", "agriculture"), days_ago=10)
    [original] = [f for f in operation["follow_ups"] if f["kind"] == "next_spring"]
    _run("c0a1d6e50028", "downgrade")  # the schema before it, to hold what it found
    first = db.session.get(FollowUp, original["id"])
    assert first is not None
    same_day = _spring_copy(first)  # made later, due the same day: the one kept
    earlier = _spring_copy(first, due_on=first.due_on - timedelta(days=365))
    ids = (first.id, same_day.id, earlier.id)

    _run("c0a1d6e50028", "upgrade")

    statuses = {i: db.session.get(FollowUp, i).status for i in ids}  # type: ignore[union-attr]
    assert statuses == {
        first.id: FollowUpStatus.CANCELLED,
        same_day.id: FollowUpStatus.PENDING,
        earlier.id: FollowUpStatus.CANCELLED,
    }
    audited = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.actor_label == "migration c0a1d6e50028").order_by(AuditLog.id)
    ).all()
    assert sorted(int(a.entity_id) for a in audited) == sorted([first.id, earlier.id])  # type: ignore[arg-type]
    for row in audited:
        assert row.entity_type == "follow_ups"
        assert row.changes["status"] == ["pending", "cancelled"]
        assert str(same_day.id) in row.changes["cancelled_reason"][1]
    assert str(same_day.id) in (db.session.get(FollowUp, first.id).cancelled_reason or "")  # type: ignore[union-attr]

    # The index is back: a fourth pending one is refused by the database itself.
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        _spring_copy(db.session.get(FollowUp, same_day.id))  # type: ignore[arg-type]


def test_commands_refuse_a_database_the_migrations_have_not_brought_to_their_head(tmp_path: Path) -> None:
    """One line saying what to run, not a traceback about a missing table: a fresh database, or code
    upgraded without `flask db upgrade`. Started from another folder, `flask db upgrade` still finds the
    migrations (beside app/)."""
    from app import create_app

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    [head] = scripts.get_heads()
    previous = scripts.get_revision(head).down_revision
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"})
    assert "IAS_MIGRATIONS_DIR" not in app.config  # the default: the folder beside app/
    cli = app.test_cli_runner()

    def invoke(*args: str) -> Any:
        # In a context of its own: the test's app context (the suite's database) is not this app's.
        return contextvars.Context().run(cli.invoke, args=list(args))

    fresh = invoke("species", "sync")
    assert fresh.exit_code == 1
    assert "has no tables yet: run `flask db upgrade` first" in fresh.output

    upgraded = invoke("db", "upgrade", str(previous))
    assert upgraded.exit_code == 0, upgraded.output
    behind = invoke("district", "load")
    assert behind.exit_code == 1
    said = f"is at migration {previous} and this version needs {head}: run `flask db upgrade` first"
    assert said in behind.output

    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("species", "sync").exit_code == 0

    # A newer version's migration, as after that version upgraded the database.
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeedf00d'"))
    ahead = invoke("district", "load")
    assert ahead.exit_code == 1
    assert "is at migration f00dfeedf00d, which this version" in ahead.output
    assert "a newer version upgraded it" in ahead.output
