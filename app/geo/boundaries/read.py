"""Opening a boundary file by what its bytes are, refused when they are not what its name says."""

from __future__ import annotations

from app.geo.boundaries.features import mb
from app.geo.boundaries.geojson import read_geojson
from app.geo.boundaries.kml import read_kml
from app.geo.boundaries.report import N_, BoundaryFile, BoundaryFileError, says
from app.geo.boundaries.shp import read_shapefile_zip, zip_member
from app.geo.crs import FILE_CRS_NAMES


def read_boundary_file(
    data: bytes,
    filename: str,
    *,
    code_field: str | None = None,
    crs: str | None = None,
    max_bytes: int,
) -> BoundaryFile:
    """Read a GeoJSON, zipped Shapefile (.zip with .shp, .shx, .dbf, .prj) or KML/KMZ file.

    `crs` (cgcs2000, wgs84, gcj02, bd09) says what the coordinates are in and wins over the file; without it
    GeoJSON and KML are WGS-84 by their standards and a Shapefile needs its .prj. Raises BoundaryFileError.
    """
    if len(data) > max_bytes:
        raise BoundaryFileError(
            says(
                N_("%(file)s is %(size)s; boundary files may be at most %(most)s"),
                file=filename,
                size=mb(len(data)),
                most=mb(max_bytes),
            )
        )
    if crs is not None and crs.strip().lower() not in FILE_CRS_NAMES:
        raise BoundaryFileError(
            says(
                N_("--crs %(crs)s is not one of %(names)s"),
                crs=repr(crs),
                names=", ".join(FILE_CRS_NAMES),
            )
        )
    name = filename.lower()
    if name.endswith((".geojson", ".json")):
        return read_geojson(data, filename, code_field, crs)
    if name.endswith(".zip"):
        return read_shapefile_zip(data, filename, code_field, crs, max_bytes)
    if name.endswith(".kml"):
        return read_kml(data, filename, code_field, crs)
    if name.endswith(".kmz"):
        kml = zip_member(data, filename, (".kml",), max_bytes)
        return read_kml(kml[1], filename, code_field, crs)
    if name.endswith(".shp"):
        raise BoundaryFileError(
            says(
                N_(
                    "%(file)s: a Shapefile is several files; "
                    "zip the .shp with its .shx, .dbf and .prj and load the .zip"
                ),
                file=filename,
            )
        )
    raise BoundaryFileError(
        says(
            N_("%(file)s: not a boundary file; load a .geojson, a zipped Shapefile (.zip) or a .kml"),
            file=filename,
        )
    )
