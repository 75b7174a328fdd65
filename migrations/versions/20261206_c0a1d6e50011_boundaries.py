"""boundaries: the bureau's district, township and village polygons, and the history of their loads

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


LEVEL = sa.Enum('district', 'township', 'village', name='boundarylevel', native_enum=False, length=20)


def upgrade():
    op.create_table('boundary_loads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', LEVEL, nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('crs', sa.String(length=200), nullable=False),
    sa.Column('code_field', sa.String(length=100), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('features', sa.Integer(), nullable=False),
    sa.Column('warnings', JSON, nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('loaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['loaded_by_id'], ['users.id'], name=op.f('fk_boundary_loads_loaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boundary_loads')),
    sa.UniqueConstraint('version', name=op.f('uq_boundary_loads_version'))
    )
    op.create_table('boundaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=False),
    sa.Column('level', LEVEL, nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('geometry', JSON, nullable=False),
    sa.Column('area_m2', sa.Double(), nullable=False),
    sa.Column('min_lon', sa.Double(), nullable=False),
    sa.Column('min_lat', sa.Double(), nullable=False),
    sa.Column('max_lon', sa.Double(), nullable=False),
    sa.Column('max_lat', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['load_id'], ['boundary_loads.id'], name=op.f('fk_boundaries_load_id_boundary_loads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boundaries')),
    sa.UniqueConstraint('level', 'code', name=op.f('uq_boundaries_level_code'))
    )
    with op.batch_alter_table('boundaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_boundaries_load_id'), ['load_id'], unique=False)

    # Township polygons a district folder shipped lived in townships.boundary; they now live in `boundaries`
    # and are loaded (checked, with a load row) by `flask district load` again from the same folder file.
    # The column is dropped in place (SQLite >= 3.35): recreating townships would, with foreign keys on,
    # cascade its delete to the rows that point at it.
    with op.batch_alter_table('townships', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('boundary')


def downgrade():
    with op.batch_alter_table('townships', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('boundary', JSON, nullable=True))
    with op.batch_alter_table('boundaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_boundaries_load_id'))
    op.drop_table('boundaries')
    op.drop_table('boundary_loads')
