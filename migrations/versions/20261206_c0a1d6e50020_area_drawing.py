"""area drawing: the records map's clusters count found and not found from the position index

The map's clusters (app/gis/aggregate.py) now say how many of their records found the species. With
`detected` in ix_observations_position (latitude, longitude, detected) the district view's GROUP BY still
reads the index alone and never the table (docs/maps.md, "Clusters").

Revision ID: c0a1d6e50020
Revises: c0a1d6e50018
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50020'
down_revision = 'c0a1d6e50018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index('ix_observations_position')
        batch_op.create_index('ix_observations_position', ['latitude', 'longitude', 'detected'], unique=False)


def downgrade():
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index('ix_observations_position')
        batch_op.create_index('ix_observations_position', ['latitude', 'longitude'], unique=False)
