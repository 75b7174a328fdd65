"""census categories of lists, summaries by category

Revision ID: c0a1d6e50008
Revises: c0a1d6e50006
Create Date: 2026-12-06 05:00:00
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
revision = 'c0a1d6e50008'
down_revision = 'c0a1d6e50006'
branch_labels = None
depends_on = None


def upgrade():
    # The census categories a list reports (a 林草 census list's fg_* categories); [] says none.
    with op.batch_alter_table('species_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('census_categories', JSON, nullable=False, server_default='[]'))


def downgrade():
    # Dropped in place (SQLite >= 3.35 can): recreating the table would, with foreign keys on, cascade the
    # delete of the old table to every list row that points at it.
    with op.batch_alter_table('species_lists', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('census_categories')
