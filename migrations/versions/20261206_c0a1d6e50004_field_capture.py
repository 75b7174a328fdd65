"""field capture (photos, returned records, township)

Revision ID: c0a1d6e50004
Revises: c0a1d6e50003
Create Date: 2026-12-06 03:45:00
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
revision = 'c0a1d6e50004'
down_revision = 'c0a1d6e50003'
branch_labels = None
depends_on = None


def upgrade():
    # The review form's own id, so a second tap or a retry of the same review is recognised.
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("review_uuid", sa.Uuid(native_uuid=False), nullable=True))


def downgrade():
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("review_uuid")
