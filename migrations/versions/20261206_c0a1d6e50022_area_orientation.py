"""area orientation: drawn areas measured again, each polygon oriented

The drawn area of a record or a control operation (docs/contract.md §2, Area) was measured by adding the
rings' signed areas as they came: a MultiPolygon with a part traced clockwise was stored as about 0 m², and
a hole traced like its shell was added instead of subtracted. The measure now orients each polygon and sums
the parts unsigned (app/geo/boundaries/measure.py); this migration measures the stored outlines again the
same way, and `area_m2` with them where it was the outline's area (no area was typed: `area_m2` equalled
`geometry_area_m2`). A typed area is the surveyor's and is left as it is.

The measure is written out here (pyproj and shapely, no app code), so the migration runs the same way
whatever the app's measure becomes; plain SQLAlchemy Core, for SQLite and PostgreSQL alike.

Revision ID: c0a1d6e50022
Revises: c0a1d6e50021
Create Date: 2026-12-06 23:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.polygon import orient

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50022'
down_revision = 'c0a1d6e50021'
branch_labels = None
depends_on = None

GEOD = Geod(ellps="WGS84")
TABLES = ("observations", "control_operations")
BATCH = 500


def area_m2(geojson):
    """The geodesic area of a WGS-84 Polygon or MultiPolygon, each polygon oriented, rounded as stored."""
    geometry = shape(geojson)
    polygons = getattr(geometry, "geoms", [geometry])
    total = 0.0
    for polygon in polygons:
        if polygon.geom_type == "Polygon" and not polygon.is_empty:
            area, _perimeter = GEOD.geometry_area_perimeter(orient(polygon, 1.0))
            total += abs(area)
    return round(total, 2)


def remeasure(connection):
    """Measure every stored outline again; `area_m2` follows where it was the outline's own area."""
    for name in TABLES:
        table = sa.table(
            name,
            sa.column("id", sa.Integer),
            sa.column("geometry", sa.JSON),
            sa.column("geometry_area_m2", sa.Float),
            sa.column("area_m2", sa.Float),
        )
        last = 0
        while True:
            rows = connection.execute(
                sa.select(table.c.id, table.c.geometry, table.c.geometry_area_m2, table.c.area_m2)
                .where(table.c.id > last, table.c.geometry.isnot(None))
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            last = rows[-1].id
            for row in rows:
                if not row.geometry:
                    continue
                measured = area_m2(row.geometry)
                if measured == row.geometry_area_m2:
                    continue
                values = {"geometry_area_m2": measured}
                if row.area_m2 is not None and row.area_m2 == row.geometry_area_m2:
                    values["area_m2"] = measured
                connection.execute(sa.update(table).where(table.c.id == row.id).values(**values))


def upgrade():
    remeasure(op.get_bind())


def downgrade():
    # The old figures were wrong; nothing to restore.
    pass
