"""create path: the reference data version (one row), which tells each process when to read its copy of
the reference rows again (app/refdata.py, docs/architecture.md "Reference data per process")

Revision ID: c0a1d6e50018
Revises: c0a1d6e50017
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
# A migration that changes reference rows (species, habitats, the district's units, boundaries) must
# also write a new version into reference_version, as the app does on every such change.
import uuid

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50018'
down_revision = 'c0a1d6e50017'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('reference_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_version'))
    )
    op.bulk_insert(table, [{'id': 1, 'version': uuid.uuid4().hex}])


def downgrade():
    op.drop_table('reference_version')
