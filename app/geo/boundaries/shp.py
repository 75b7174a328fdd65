"""Reading a zipped Shapefile (.shp, .shx, .dbf and its .prj; a .cpg names the .dbf's encoding) with pyshp."""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
import zlib
from typing import Any

import numpy as np
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.exceptions import CRSError

from app.geo.boundaries.features import (
    Transform,
    choose_field,
    feature,
    geojson_polygons,
    mb,
    name_of,
    system_of,
    text,
)
from app.geo.boundaries.report import CODE_FIELDS, N_, BoundaryFile, BoundaryFileError, Problem, Text, says
from app.geo.crs import CRS, FILE_CRS_NAMES


def zip_member(data: bytes, filename: str, suffixes: tuple[str, ...], max_bytes: int) -> tuple[str, bytes]:
    archive = open_zip(data, filename, max_bytes)
    names = [n for n in archive.namelist() if n.lower().endswith(suffixes) and not n.startswith("__MACOSX/")]
    if not names:
        raise BoundaryFileError(
            says(N_("%(file)s holds no %(kind)s file"), file=filename, kind=" / ".join(suffixes))
        )
    return names[0], read_member(archive, names[0], filename)


# What zipfile raises for a member it cannot unpack: a bad CRC or stream (BadZipFile, zlib.error, EOFError),
# a password (RuntimeError), a compression method it lacks (NotImplementedError).
_UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)
# What pyshp raises on a damaged .shp, .shx or .dbf besides its own ShapefileException (a short or garbled
# header or record is unpacked as it is): the file is refused with the reason, never a 500.
_SHAPEFILE_ERRORS = (struct.error, ValueError, KeyError, IndexError, TypeError, EOFError, OverflowError)


def read_member(archive: zipfile.ZipFile, name: str, filename: str) -> bytes:
    """One member's bytes (their total is bounded by open_zip); BoundaryFileError when it cannot be
    unpacked: a damaged archive, an encrypted member or one packed with a method zipfile lacks."""
    try:
        return archive.read(name)
    except _UNPACK_ERRORS as exc:
        raise BoundaryFileError(
            says(N_("%(file)s: %(member)s cannot be unpacked: %(why)s"), file=filename, member=name, why=exc)
        ) from exc


def open_zip(data: bytes, filename: str, max_bytes: int) -> zipfile.ZipFile:
    if not data.startswith(b"PK\x03\x04"):
        raise BoundaryFileError(says(N_("%(file)s is not a zip archive"), file=filename))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BoundaryFileError(
            says(N_("%(file)s is not a readable zip archive: %(why)s"), file=filename, why=exc)
        ) from exc
    inflated = sum(info.file_size for info in archive.infolist())
    if inflated > max_bytes:
        raise BoundaryFileError(
            says(
                N_("%(file)s unpacks to %(size)s; boundary files may be at most %(most)s"),
                file=filename,
                size=mb(inflated),
                most=mb(max_bytes),
            )
        )
    return archive


def read_shapefile_zip(
    data: bytes, filename: str, code_field: str | None, crs: str | None, max_bytes: int
) -> BoundaryFile:
    import shapefile  # pyshp; imported here as the only module that needs it

    archive = open_zip(data, filename, max_bytes)
    members = {n.lower(): n for n in archive.namelist() if not n.startswith("__MACOSX/")}
    shps = sorted(n for n in members if n.endswith(".shp"))
    if not shps:
        raise BoundaryFileError(says(N_("%(file)s holds no .shp file"), file=filename))
    if len(shps) > 1:
        raise BoundaryFileError(
            says(
                N_("%(file)s holds %(n)d Shapefiles (%(names)s); zip one per load"),
                file=filename,
                n=len(shps),
                names=", ".join(shps),
            )
        )
    stem = shps[0][: -len(".shp")]
    missing = [ext for ext in (".shx", ".dbf") if stem + ext not in members]
    if missing:
        raise BoundaryFileError(
            says(
                N_("%(file)s: %(shp)s has no %(missing)s beside it"),
                file=filename,
                shp=shps[0],
                missing=" / ".join(missing),
            )
        )
    prj = (
        read_member(archive, members[stem + ".prj"], filename).decode("utf-8", "replace")
        if stem + ".prj" in members
        else None
    )
    to_wgs84, why = _shapefile_system(prj, crs, filename)
    encoding = "utf-8"
    if stem + ".cpg" in members:
        encoding = read_member(archive, members[stem + ".cpg"], filename).decode("ascii", "replace").strip()
        encoding = {"936": "gbk", "65001": "utf-8"}.get(encoding, encoding or "utf-8")
        if not _text_encoding(encoding):
            raise BoundaryFileError(
                says(
                    N_(
                        "%(file)s: its .cpg names %(encoding)s, which is not a text encoding (GBK files: 936)"
                    ),
                    file=filename,
                    encoding=repr(encoding[:40]),
                )
            )
    try:
        reader = shapefile.Reader(
            shp=io.BytesIO(read_member(archive, members[shps[0]], filename)),
            shx=io.BytesIO(read_member(archive, members[stem + ".shx"], filename)),
            dbf=io.BytesIO(read_member(archive, members[stem + ".dbf"], filename)),
            encoding=encoding,
            encodingErrors="strict",
        )
        fields = [f[0] for f in reader.fields[1:]]
        chosen = choose_field(fields, code_field, filename, CODE_FIELDS)
        problems: list[Problem] = []
        features = []
        for number, record in enumerate(reader.iterShapeRecords(), 1):
            properties = record.record.as_dict()
            polygons: list[list[Any]] | Text
            if record.shape.shapeType in (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM):
                polygons = geojson_polygons(record.shape.__geo_interface__)
            elif record.shape.shapeType == shapefile.NULL:
                polygons = says(N_("it has no geometry"))
            else:
                polygons = says(
                    N_("its geometry is a %(kind)s, not a polygon"), kind=record.shape.shapeTypeName
                )
            code = text(properties.get(chosen))
            features.append(feature(number, code, name_of(properties), polygons, to_wgs84, problems))
    except UnicodeDecodeError as exc:
        raise BoundaryFileError(
            says(
                N_("%(file)s: the .dbf is not %(encoding)s; add a .cpg naming its encoding (GBK files: 936)"),
                file=filename,
                encoding=encoding,
            )
        ) from exc
    except BoundaryFileError:
        raise
    except (shapefile.ShapefileException, *_SHAPEFILE_ERRORS) as exc:
        raise BoundaryFileError(
            says(N_("%(file)s: not a readable Shapefile: %(why)s"), file=filename, why=exc)
        ) from exc
    return BoundaryFile("shapefile", why, chosen, fields, features, problems)


def _text_encoding(name: str) -> bool:
    """Whether `name` is a codec Python decodes text with (not base64, rot13 or an unknown name)."""
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


def _shapefile_system(prj: str | None, crs: str | None, filename: str) -> tuple[Transform, str]:
    """How a Shapefile's coordinates become WGS-84: --crs first, else its .prj (geographic or projected)."""
    if crs is not None:
        return system_of(crs, "wgs84", "")
    if prj is None:
        raise BoundaryFileError(
            says(
                N_(
                    "%(file)s: the Shapefile has no .prj, so its coordinate system is unknown; "
                    "add the .prj or say it with --crs (%(names)s)"
                ),
                file=filename,
                names=", ".join(FILE_CRS_NAMES),
            )
        )
    try:
        source = ProjCRS.from_wkt(prj)
    except CRSError as exc:
        raise BoundaryFileError(
            says(
                N_("%(file)s: its .prj is not a coordinate system PROJ can read: %(why)s"),
                file=filename,
                why=exc,
            )
        ) from exc
    label = source.name
    if source.is_geographic:
        datum = (source.datum.name if source.datum else "").lower()
        if "2000" in datum or "wgs" in datum or "world geodetic" in datum:
            return CRS.WGS84, f"{label} (.prj)"
    # A projected system (a 3-degree Gauss-Krüger zone of CGCS2000, say) or another datum: PROJ converts it.
    transformer = Transformer.from_crs(source, ProjCRS.from_epsg(4326), always_xy=True)

    def project(points: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(points[:, 0], points[:, 1])
        return np.column_stack([x, y])

    return project, f"{label} (.prj), converted to WGS-84"
