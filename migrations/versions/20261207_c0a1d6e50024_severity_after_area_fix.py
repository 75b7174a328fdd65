"""severity after the area fix: a severity derived from a wrongly measured outline is derived again

Migration c0a1d6e50022 measured stored outlines again (a part traced clockwise had cancelled another, so a
drawn patch of 2 ha was stored as about 0 m²) and corrected `area_m2` where it was the outline's own area.
A presence record's severity (发生程度, 1–5) is derived from its figures when the surveyor gives none: the
species' rule (`species.severity`: a `metric` and four ascending upper bounds, `thresholds`, of levels 1–4)
reads one figure, and a species whose rule reads the area had its severity derived from the wrong area,
which c0a1d6e50022 left as it was. This migration derives it again from the corrected area.

Derived or entered? The model cannot tell: `observations.severity` is one column, which holds what the
surveyor entered or, when they entered nothing, what the rule gave at the time, with nothing saying which.
So the rule here is the safe one, changing only a severity that can only have come from the wrong area:

- the record is a presence with an outline whose area is its `area_m2` (no area was typed: `area_m2`
  equals `geometry_area_m2`), and its species' rule, as it stands now, reads the area;
- its area was corrected: the last `area_m2` the audit log recorded for it (every write of the app is
  audited; c0a1d6e50022's correction was not) differs from the stored one. That audited figure is the
  wrong area its severity was derived from. A record with no audited area is left as it is;
- its severity is exactly what the rule gives for that wrong area, and the corrected area gives another;
- no edit changed its severity alone (an audited update changing `severity` and none of the figures is a
  person choosing it).

Then the severity becomes what the rule gives for the corrected area, and an audit row says so
(`migration c0a1d6e50024`, `{"severity": [old, new]}`), so a bureau can see each change and undo it. A
severity someone entered that happens to equal the wrong area's level is changed too, as it cannot be
told from a derived one; the audit row names it. Anything else (a severity that matches neither, a rule
changed since, a typed area, another metric) is left: a person's figure is never guessed over.

The downgrade puts back the severity this migration replaced, on records that still hold the value it
wrote, with an audit row of its own (`migration c0a1d6e50024 downgrade`; the audit log is never deleted
from). Neither kind of row counts as a person's choice when the upgrade runs again.

Plain SQLAlchemy Core, no app code (the rule is written out here), for SQLite and PostgreSQL alike.

Revision ID: c0a1d6e50024
Revises: c0a1d6e50023
Create Date: 2026-12-07 02:00:00
"""

# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "c0a1d6e50024"
down_revision = "c0a1d6e50023"
branch_labels = None
depends_on = None

BATCH = 500
ACTOR = "migration c0a1d6e50024"
UNDONE = "migration c0a1d6e50024 downgrade"
# The record's figures as the audit log names them: an edit changing one of them re-derives the severity;
# one changing the severity and none of them is a person's choice.
FIGURES = ("area_m2", "geometry", "cover_pct", "density_per_m2", "egg_masses_per_m2", "count")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

species = sa.table("species", sa.column("id", sa.Integer), sa.column("severity", JSON))
observations = sa.table(
    "observations",
    sa.column("id", sa.Integer),
    sa.column("species_id", sa.Integer),
    sa.column("detected", sa.Boolean),
    sa.column("geometry", JSON),
    sa.column("geometry_area_m2", sa.Float),
    sa.column("area_m2", sa.Float),
    sa.column("severity", sa.Integer),
)
audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer),
    sa.column("actor_label", sa.String),
    sa.column("action", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("changes", JSON),
    sa.column("ip", sa.String),
)


def severity_for_area(rule, area_m2):
    """The level 1–5 a species' rule gives an area (m²): 1 + the thresholds it is above; None when the rule
    does not read the area or is incomplete (as the app derived it when this was written)."""
    if not isinstance(rule, dict) or rule.get("metric") != "area" or area_m2 is None:
        return None
    thresholds = rule.get("thresholds") or []
    if len(thresholds) != 4:
        return None
    return 1 + sum(1 for bound in thresholds if area_m2 > bound)


def _history(connection, ids):
    """Per record id: the last audited `area_m2` (None: none audited) and whether an edit set its severity
    alone, from the record's create and update rows in order."""
    last_area = {}
    chosen = set()
    rows = connection.execute(
        sa.select(audit_log.c.entity_id, audit_log.c.action, audit_log.c.changes)
        .where(
            audit_log.c.entity_type == "observations",
            audit_log.c.entity_id.in_([str(i) for i in ids]),
            audit_log.c.action.in_(("create", "update")),
            audit_log.c.actor_label.notin_((ACTOR, UNDONE)),  # this migration's own rows are no person's
        )
        .order_by(audit_log.c.id)
    )
    for entity_id, action, changes in rows:
        if not isinstance(changes, dict):
            continue
        record_id = int(entity_id)
        area = changes.get("area_m2")
        if isinstance(area, list) and len(area) == 2:
            last_area[record_id] = area[1]
        if action == "update" and "severity" in changes and not any(f in changes for f in FIGURES):
            chosen.add(record_id)
    return last_area, chosen


def _audit(connection, changed, label=ACTOR):
    now = datetime.now(timezone.utc)
    connection.execute(
        sa.insert(audit_log),
        [
            {
                "occurred_at": now,
                "actor_id": None,
                "actor_label": label,
                "action": "update",
                "entity_type": "observations",
                "entity_id": str(record_id),
                "changes": {"severity": [old, new]},
                "ip": None,
            }
            for record_id, old, new in changed
        ],
    )


def rederive(connection):
    """Derive again the severities derived from an area c0a1d6e50022 corrected; (id, old, new) of each."""
    rules = {
        species_id: rule
        for species_id, rule in connection.execute(sa.select(species.c.id, species.c.severity))
        if isinstance(rule, dict) and rule.get("metric") == "area"
    }
    if not rules:
        return []
    done = []
    last = 0
    while True:
        rows = connection.execute(
            sa.select(
                observations.c.id, observations.c.species_id, observations.c.area_m2, observations.c.severity
            )
            .where(
                observations.c.id > last,
                observations.c.species_id.in_(list(rules)),
                observations.c.detected.is_(True),
                observations.c.geometry.isnot(None),
                observations.c.severity.isnot(None),
                observations.c.area_m2 == observations.c.geometry_area_m2,
            )
            .order_by(observations.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        last_area, chosen = _history(connection, [row.id for row in rows])
        changed = []
        for row in rows:
            wrong = last_area.get(row.id)
            if row.id in chosen or not isinstance(wrong, (int, float)) or abs(wrong - row.area_m2) < 0.005:
                continue
            rule = rules[row.species_id]
            then, now = severity_for_area(rule, wrong), severity_for_area(rule, row.area_m2)
            if then is None or now is None or row.severity != then or now == then:
                continue
            connection.execute(
                sa.update(observations).where(observations.c.id == row.id).values(severity=now)
            )
            changed.append((row.id, row.severity, now))
        if changed:
            _audit(connection, changed)
            done.extend(changed)
    return done


def restore(connection):
    """Put back the severities `rederive` replaced, where the record still holds the value it wrote."""
    rows = connection.execute(
        sa.select(audit_log.c.entity_id, audit_log.c.changes)
        .where(audit_log.c.actor_label == ACTOR, audit_log.c.entity_type == "observations")
        .order_by(audit_log.c.id)
    ).all()
    undone = []
    for entity_id, changes in rows:
        old, new = changes["severity"]
        result = connection.execute(
            sa.update(observations)
            .where(observations.c.id == int(entity_id), observations.c.severity == new)
            .values(severity=old)
        )
        if result.rowcount:
            undone.append((int(entity_id), new, old))
    if undone:
        _audit(connection, undone, UNDONE)
    return undone


def upgrade():
    rederive(op.get_bind())


def downgrade():
    restore(op.get_bind())
