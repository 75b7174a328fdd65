"""Hostile boundary files (docs/contract.md §2 Boundaries, §6): whatever an uploaded GeoJSON, zipped
Shapefile, KML or KMZ holds, the reader refuses it with a sentence naming the file, never an exception
that becomes a 500 on /admin/boundaries or a traceback from `flask district boundaries`."""

from __future__ import annotations

import contextlib
import io
import random
import warnings
import zipfile
from typing import Any

import pytest
import shapefile

from app.geo.boundaries import BoundaryFileError, read_boundary_file

MAX = 10 * 1024 * 1024
WGS84_PRJ = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
    'UNIT["degree",0.0174532925199433]]'
)


def _shapefile_members() -> dict[str, bytes]:
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON)
    writer.field("code", "C")
    writer.poly([[[107.5, 30.5], [107.6, 30.6], [107.6, 30.5], [107.5, 30.5]]])
    writer.record("500155104")
    writer.close()
    return {
        "t.shp": shp.getvalue(),
        "t.shx": shx.getvalue(),
        "t.dbf": dbf.getvalue(),
        "t.prj": WGS84_PRJ.encode(),
    }


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _read(data: bytes, filename: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyshp warns about the headers these files damage
        return read_boundary_file(data, filename, max_bytes=MAX)


def _refused(data: bytes, filename: str) -> str:
    with pytest.raises(BoundaryFileError) as refusal:
        _read(data, filename)
    return str(refusal.value)


def test_a_sound_shapefile_is_read() -> None:  # the fixture the others damage
    read = _read(_zip(_shapefile_members()), "t.zip")
    assert [f.code for f in read.features] == ["500155104"] and read.features[0].geometry is not None


def test_geojson_nested_thousands_deep_is_refused_not_a_recursion_error() -> None:
    deep = b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in _refused(deep, "t.geojson")


@pytest.mark.parametrize("cpg", ["no-such-encoding", "rot13", "base64", "zip"])
def test_a_cpg_that_names_no_text_encoding_is_refused(cpg: str) -> None:
    members = {**_shapefile_members(), "t.cpg": cpg.encode()}
    assert "not a text encoding" in _refused(_zip(members), "t.zip")


def test_a_member_with_a_bad_crc_is_refused() -> None:
    data = bytearray(_zip(_shapefile_members(), zipfile.ZIP_STORED))
    data[data.find(b"500155104")] = ord("9")  # the .dbf's bytes change, its CRC does not
    assert "t.dbf cannot be unpacked" in _refused(bytes(data), "t.zip")


def test_an_encrypted_member_is_refused() -> None:
    data = bytearray(_zip(_shapefile_members()))
    data[6] |= 1  # the first local header says "encrypted"
    at = data.find(b"PK\x01\x02")
    while at != -1:  # and so does every central directory entry
        data[at + 8] |= 1
        at = data.find(b"PK\x01\x02", at + 1)
    assert "cannot be unpacked" in _refused(bytes(data), "t.zip")


def test_a_kmz_whose_kml_is_damaged_is_refused() -> None:
    data = bytearray(_zip({"doc.kml": b"<kml><Document/></kml>"}, zipfile.ZIP_STORED))
    data[data.find(b"Document")] = ord("d")
    assert "doc.kml cannot be unpacked" in _refused(bytes(data), "t.kmz")


@pytest.mark.parametrize(
    "kml",
    [
        b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><kml><Placemark><name>&c;</name></Placemark></kml>',
        b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<kml><Placemark><name>&x;</name></Placemark></kml>",
    ],
    ids=["billion-laughs", "xxe"],
)
def test_kml_with_a_dtd_is_refused(kml: bytes) -> None:
    assert "not readable KML" in _refused(kml, "t.kml")


@pytest.mark.parametrize("prj", ["+proj=pipeline +step +proj=utm +zone=49", "/etc/passwd", "EPSG:4326"])
def test_a_prj_that_is_not_wkt_is_refused(prj: str) -> None:
    members = {**_shapefile_members(), "t.prj": prj.encode()}
    assert "not a coordinate system" in _refused(_zip(members), "t.zip")


def test_damaged_shapefile_members_are_refused_not_a_500() -> None:
    """Truncated or garbled .shp, .shx and .dbf (pyshp raises struct.error, KeyError, ValueError … on
    them): each is refused with a reason or read, never another exception."""
    sound = _shapefile_members()
    shuffle = random.Random(20261206)  # noqa: S311 - a repeatable fuzz, not a secret
    for _trial in range(300):
        members = dict(sound)
        target = shuffle.choice(["t.shp", "t.shx", "t.dbf"])
        damaged = bytearray(members[target])
        if shuffle.random() < 0.3:
            damaged = damaged[: shuffle.randrange(len(damaged))]
        else:
            for _ in range(shuffle.randint(1, 4)):
                damaged[shuffle.randrange(len(damaged))] = shuffle.randrange(256)
        members[target] = bytes(damaged)
        with contextlib.suppress(BoundaryFileError):
            _read(_zip(members), "t.zip")


def test_the_admin_page_answers_a_damaged_zip_with_its_reason(web_as: Any) -> None:
    data = bytearray(_zip(_shapefile_members(), zipfile.ZIP_STORED))
    data[data.find(b"500155104")] = ord("9")
    web = web_as("admin", locale="en")
    form = {"level": "township", "file": (io.BytesIO(bytes(data)), "t.zip"), "dry_run": "1"}
    answer = web.post("/admin/boundaries", data=form, content_type="multipart/form-data")
    assert answer.status_code == 422
    assert "t.dbf cannot be unpacked" in answer.get_data(as_text=True)
