"""one pending next-spring check per site: duplicates cancelled (audited), then a unique index

Two control operations of one site created at the same moment on PostgreSQL could each find no pending
next-spring check (次年春季复查) of the site and add one, so a site could hold two or more. Scheduling now
locks the site's row (app/control/schedule.py); this migration makes the rule the database's own: a
unique index on `follow_ups.site_id` where `kind = 'next_spring'` and `status = 'pending'` (a site is of
one species, so this is "per site and species").

Existing duplicates are not deleted: of a site's pending next-spring checks the one the app keeps (the
latest due, then the latest made: the one `_pending_spring_check` finds and moves with each treatment)
stays pending, and each other one is cancelled with its reason (`cancelled_reason`) and an audit row
(`migration c0a1d6e50028`, `{"status": ["pending", "cancelled"], "cancelled_reason": [null, …]}`), so a
supervisor sees what happened and can schedule one again by hand if it was wanted.

The downgrade drops the index; the cancelled duplicates stay cancelled (they were duplicates; their audit
rows say so).

Plain SQLAlchemy Core, no app code, for SQLite and PostgreSQL alike.

Revision ID: c0a1d6e50028
Revises: c0a1d6e50024
Create Date: 2026-12-07 03:00:00

"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "c0a1d6e50028"
down_revision = "c0a1d6e50024"
branch_labels = None
depends_on = None

ACTOR = "migration c0a1d6e50028"
INDEX = "uq_follow_ups_pending_next_spring"
WHERE = "kind = 'next_spring' AND status = 'pending'"
REASON = "次年春季复查重复：该点位已有待复查的次年春季复查 %(kept)s（迁移 c0a1d6e50028）"

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

follow_ups = sa.table(
    "follow_ups",
    sa.column("id", sa.Integer),
    sa.column("site_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("due_on", sa.Date),
    sa.column("cancelled_reason", sa.Text),
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


def cancel_duplicates(connection):
    """Cancel every pending next-spring check of a site but the one kept; (id, kept id) of each."""
    rows = connection.execute(
        sa.select(follow_ups.c.id, follow_ups.c.site_id)
        .where(follow_ups.c.kind == "next_spring", follow_ups.c.status == "pending")
        .order_by(follow_ups.c.site_id, follow_ups.c.due_on.desc(), follow_ups.c.id.desc())
    ).all()
    kept = {}
    cancelled = []
    for follow_up_id, site_id in rows:
        if site_id not in kept:
            kept[site_id] = follow_up_id  # the first in order: the latest due, then the latest made
        else:
            cancelled.append((follow_up_id, kept[site_id]))
    now = datetime.now(timezone.utc)
    for follow_up_id, kept_id in cancelled:
        reason = REASON % {"kept": kept_id}
        connection.execute(
            sa.update(follow_ups)
            .where(follow_ups.c.id == follow_up_id, follow_ups.c.status == "pending")
            .values(status="cancelled", cancelled_reason=reason)
        )
        connection.execute(
            sa.insert(audit_log).values(
                occurred_at=now,
                actor_id=None,
                actor_label=ACTOR,
                action="update",
                entity_type="follow_ups",
                entity_id=str(follow_up_id),
                changes={"status": ["pending", "cancelled"], "cancelled_reason": [None, reason]},
                ip=None,
            )
        )
    return cancelled


def upgrade():
    cancel_duplicates(op.get_bind())
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ["site_id"],
            unique=True,
            postgresql_where=sa.text(WHERE),
            sqlite_where=sa.text(WHERE),
        )


def downgrade():
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(INDEX, postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))
