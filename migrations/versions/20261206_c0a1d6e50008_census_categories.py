"""census categories of lists, summaries by category

Revision ID: c0a1d6e50008
Revises: c0a1d6e50007
Create Date: 2026-12-06 05:00:00

A reserved link in this session's chain (follow-ups to issues 13, 14, 15, 20, built side by side); it is
filled by the change it is named after, and stays a no-op if that change needed no schema.
"""
# Rules for migrations (reviewed code, not generated output):
# - Generate with `flask db migrate -m "..."`, then read and edit; autogenerate misses renames and data.
# - Never import app code here: a migration must run the same way years from now.
# - Batch mode (op.batch_alter_table) for every ALTER, so SQLite can follow.
# - Reference data (species, townships) is loaded by `flask species sync` / `flask district load`,
#   never by a migration.
# - One head: tests/test_migrations.py fails on a branch; merge before landing.
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50008'
down_revision = 'c0a1d6e50007'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
