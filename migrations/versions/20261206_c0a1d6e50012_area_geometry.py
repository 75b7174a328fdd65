"""area geometry: polygons on observations and control operations, the extent of sites

An observation or a control operation may carry an area polygon (docs/contract.md §2 Area): WGS-84 GeoJSON,
with its geodesic area in m² kept beside it (the area the polygon measured, whatever area was typed). A site
keeps the union of its records' polygons and its area. JSON, not PostGIS: the same on SQLite.

Revision ID: c0a1d6e50012
Revises: c0a1d6e50011
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

# Python None is SQL NULL (not JSON null), as app.db.NullableJSON.
JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(astext_type=sa.Text(), none_as_null=True), 'postgresql'
)

TABLES = (
    ('observations', 'geometry', 'geometry_area_m2'),
    ('control_operations', 'geometry', 'geometry_area_m2'),
    ('sites', 'extent', 'extent_area_m2'),
)


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50012'
down_revision = 'c0a1d6e50011'
branch_labels = None
depends_on = None


def upgrade():
    for table, geometry, area in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(geometry, JSON, nullable=True))
            batch.add_column(sa.Column(area, sa.Double(), nullable=True))


def downgrade():
    for table, geometry, area in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(area)
            batch.drop_column(geometry)
