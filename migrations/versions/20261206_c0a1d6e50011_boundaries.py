"""boundaries (reserved: filled by the work that needs it)

Revision ID: c0a1d6e50011
Revises: c0a1d6e50010
Create Date: 2026-12-06 06:45:00
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
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50011'
down_revision = 'c0a1d6e50010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
