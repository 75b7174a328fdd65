"""survey routes: moving time, pauses, and points left out of a refused route

A route's `duration_s` is the elapsed time from its start to its end; `moving_s` is that less the pauses
the phone recorded (lunch, a call): the survey effort (docs/surveys.md, Routes). `pauses` keeps them as
sent ([{started_at, ended_at}] in UTC; NULL when the phone sent none). `dropped_point_count` counts the
fixes the surveyor left out when sending again a route the server had refused for them. Routes stored
before have no pauses: their moving time is their elapsed time.

Revision ID: c0a1d6e50021
Revises: c0a1d6e50020
Create Date: 2026-12-06 12:30:00
"""

# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "c0a1d6e50021"
down_revision = "c0a1d6e50020"
branch_labels = None
depends_on = None

# Python None is SQL NULL (not JSON null), as app.db.NullableJSON.
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(astext_type=sa.Text(), none_as_null=True), "postgresql"
)


def upgrade():
    with op.batch_alter_table("survey_routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moving_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pauses", NULLABLE_JSON, nullable=True))
        batch_op.add_column(sa.Column("dropped_point_count", sa.Integer(), nullable=True))
    op.execute("UPDATE survey_routes SET moving_s = duration_s, dropped_point_count = 0")
    with op.batch_alter_table("survey_routes", schema=None) as batch_op:
        batch_op.alter_column("moving_s", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("dropped_point_count", existing_type=sa.Integer(), nullable=False)


def downgrade():
    with op.batch_alter_table("survey_routes", schema=None) as batch_op:
        batch_op.drop_column("dropped_point_count")
        batch_op.drop_column("pauses")
        batch_op.drop_column("moving_s")
