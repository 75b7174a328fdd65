"""Reading and checking a bureau's boundary file: GeoJSON, a zipped Shapefile or KML (docs/contract.md §2).

Pure: bytes in, WGS-84 shapely geometries and a report out; nothing here touches the database. The caller
says which codes exist at the level being loaded and hands over the district's outline when it has one.

- A file is opened by what its bytes are, and refused when they are not what its name says.
- Rings are checked before shapely sees them (shapely closes an open ring silently, and a bureau must hear
  that its file has one), then for self-crossings with shapely's own validity test.
- Overlaps, gaps and parts outside the district are measured in a local transverse Mercator frame centred
  on the data, so the tolerance is in metres; reported areas are geodesic (pyproj's Geod).
"""

from app.geo.boundaries.check import check_boundaries
from app.geo.boundaries.measure import (
    MetricFrame,
    from_geojson,
    geodesic_area_m2,
    geodesic_length_m,
    to_geojson,
    wider_than,
)
from app.geo.boundaries.read import read_boundary_file
from app.geo.boundaries.report import (
    CODE_FIELDS,
    LEVELS,
    NAME_FIELDS,
    BoundaryFile,
    BoundaryFileError,
    Feature,
    Geometry,
    Problem,
    Report,
    Text,
    Unit,
)

__all__ = [
    "CODE_FIELDS",
    "LEVELS",
    "NAME_FIELDS",
    "BoundaryFile",
    "BoundaryFileError",
    "Feature",
    "Geometry",
    "MetricFrame",
    "Problem",
    "Report",
    "Text",
    "Unit",
    "check_boundaries",
    "from_geojson",
    "geodesic_area_m2",
    "geodesic_length_m",
    "read_boundary_file",
    "to_geojson",
    "wider_than",
]
