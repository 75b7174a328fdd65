"""GET /api/v1/{observations,sites,control-operations}/download: the lists as GIS files.

Each format read back; the same filters give the same rows as the list; who may download; bad input;
the body is streamed, not built in memory.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.audit.models import AuditLog
from app.control.models import ControlOperation
from app.extensions import db
from app.gis import layers
from app.gis.writers import base
from app.observations.models import Observation
from tests.conftest import PADDY
from tests.gis.formats import Shapefile, read_csv, read_geojson, read_kml

LAYERS = {"observations": "observations", "sites": "sites", "control-operations": "control_operations"}
FORMATS = ("geojson", "kml", "shapefile", "csv")


@pytest.fixture
def records(api_as: Any, make_observation: Any, species_id: Any, treat: Any) -> dict[str, Any]:
    """Two organizations' records of two species, an absence, and a control operation."""
    forestry = api_as("surveyor", "forestry")
    agriculture = api_as("surveyor", "agriculture")
    lat, lon = PADDY
    snail = make_observation(
        forestry,
        observed_at="2026-05-04T09:00:00+08:00",
        village_code="500155001001",
        place_name="双桂湖边的稻田",
        notes='=HYPERLINK("http://example.org") 卵块很多',
    )
    weed = make_observation(
        agriculture,
        species_id=species_id("alternanthera-philoxeroides"),
        observed_at="2026-05-05T23:30:00+08:00",
        latitude=lat + 0.05,
        longitude=lon + 0.05,
        township_code="500155002",
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
    )
    absent = make_observation(
        forestry,
        detected=False,
        observed_at="2026-06-01T10:00:00+08:00",
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
        accuracy_m=60,
    )
    operation, _baseline = treat(forestry)
    review = api_as("verifier", "forestry").post(
        f"/api/v1/observations/{snail['id']}/review", json={"decision": "verified"}
    )
    assert review.status_code == 200, review.get_json()
    return {"snail": snail, "weed": weed, "absent": absent, "operation": operation}


def download(api: Any, layer: str, fmt: str, query: str = "") -> Any:
    response = api.get(f"/api/v1/{layer}/download?format={fmt}{query}", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def listed(api: Any, layer: str, query: str = "") -> list[int]:
    response = api.get(f"/api/v1/{layer}?per_page=500{query}")
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def geojson_ids(api: Any, layer: str, query: str = "") -> list[int]:
    return [f["id"] for f in read_geojson(download(api, layer, "geojson", query).data)["features"]]


# ---------------------------------------------------------------------------------------------
# Each format


def test_observations_as_geojson(api_as: Any, records: dict[str, Any]) -> None:
    response = download(api_as("verifier"), "observations", "geojson")
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="observations-')
    document = read_geojson(response.data)
    by_id = {f["id"]: f for f in document["features"]}
    snail = by_id[records["snail"]["id"]]
    assert snail["geometry"] == {"type": "Point", "coordinates": [PADDY[1], PADDY[0]]}  # lon, lat
    properties = snail["properties"]
    assert properties["species"] == "福寿螺"
    assert properties["observed_at"] == "2026-05-04T09:00:00+08:00"
    assert properties["place_name"] == "双桂湖边的稻田"
    assert properties["notes"] == records["snail"]["notes"]
    assert properties["township_code"] == "500155001"
    assert (properties["village_code"], properties["village_name"]) == (
        "500155001001",
        records["snail"]["village_name"],
    )
    assert properties["area_mu"] == records["snail"]["area_mu"]
    assert properties["site_code"] == records["snail"]["site_code"]
    assert properties["detected"] is True
    assert by_id[records["absent"]["id"]]["properties"]["flags"] == "low_accuracy"
    assert [c.key for c in layers.OBSERVATIONS.columns] == list(properties)


def test_observations_as_kml(api_as: Any, records: dict[str, Any]) -> None:
    response = download(api_as("verifier"), "observations", "kml")
    assert response.mimetype == "application/vnd.google-earth.kml+xml"
    marks = {m["id"]: m for m in read_kml(response.data)}
    snail = marks[f"observations.{records['snail']['id']}"]
    assert snail["name"] == "福寿螺 2026-05-04"
    assert snail["data"]["place_name"] == "双桂湖边的稻田"
    assert snail["data"]["notes"] == records["snail"]["notes"]
    assert snail["data"]["detected"] == "1"
    assert snail["geometry"].findtext("{http://www.opengis.net/kml/2.2}coordinates") == "107.8003,30.6712"
    assert marks[f"observations.{records['absent']['id']}"]["name"] == "福寿螺（未发现） 2026-06-01"


def test_observations_as_shapefile(api_as: Any, records: dict[str, Any]) -> None:
    response = download(api_as("verifier"), "observations", "shapefile")
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].endswith('.zip"')
    zipped = Shapefile(response.data)
    assert zipped.text("observations.cpg") == "UTF-8"
    assert "GCS_China_Geodetic_Coordinate_System_2000" in zipped.text("observations.prj")
    names = zipped.field_names("observations")
    assert names == [c.dbf for c in layers.OBSERVATIONS.columns]
    assert {"物种", "乡镇码", "面积亩", "调查人"} <= set(names)
    assert all(len(raw) <= 10 for raw in zipped.raw_field_names("observations"))
    legend = {row[0]: row for row in zipped.legend("observations")[1:]}
    assert legend["乡镇码"][1:4] == ["乡镇（街道）代码", "township code", "township_code"]
    assert set(legend) == set(names)
    rows = {row["ID"]: (row, geometry) for row, geometry in zipped.rows("observations")}
    snail, geometry = rows[records["snail"]["id"]]
    assert snail["物种"] == "福寿螺" and snail["地名"] == "双桂湖边的稻田"
    assert (snail["村代码"], snail["村"]) == ("500155001001", records["snail"]["village_name"])
    assert snail["时间"] == "2026-05-04T09:00:00+08:00"
    assert snail["面积亩"] == pytest.approx(records["snail"]["area_mu"])
    assert snail["发现"] is True
    assert geometry == {"type": "Point", "coordinates": (PADDY[1], PADDY[0])}
    assert rows[records["absent"]["id"]][0]["发现"] is False


def test_observations_as_csv_for_excel(api_as: Any, records: dict[str, Any]) -> None:
    response = download(api_as("verifier"), "observations", "csv")
    assert response.mimetype == "text/csv" and response.mimetype_params == {"charset": "utf-8"}
    rows = read_csv(response.data)
    header = rows[0]
    assert header[:3] == ["记录编号", "物种中文名", "物种学名"] and header[-1] == "WKT"
    by_id = {int(row[0]): dict(zip(header, row, strict=True)) for row in rows[1:]}
    snail = by_id[records["snail"]["id"]]
    assert snail["物种中文名"] == "福寿螺"
    assert snail["备注"] == "'" + records["snail"]["notes"]  # never a formula in Excel
    assert snail["调查时间（北京时间）"] == "2026-05-04 09:00:00"
    assert snail["是否发现（否为未发现记录）"] == "是"
    assert snail["WKT"] == f"POINT ({PADDY[1]} {PADDY[0]})"


@pytest.mark.parametrize("fmt", FORMATS)
def test_sites_and_operations_in_every_format(api_as: Any, records: dict[str, Any], fmt: str) -> None:
    api = api_as("supervisor", "agriculture")
    operation = records["operation"]
    for layer, expected in (
        ("sites", listed(api, "sites")),
        ("control-operations", [operation["id"]]),
    ):
        data = download(api, layer, fmt).data
        if fmt == "geojson":
            ids = [f["id"] for f in read_geojson(data)["features"]]
        elif fmt == "kml":
            ids = [int(m["data"]["id"]) for m in read_kml(data)]
        elif fmt == "csv":
            ids = [int(row[0]) for row in read_csv(data)[1:]]
        else:
            ids = [row["ID"] for row, _geometry in Shapefile(data).rows(LAYERS[layer])]
        assert ids == expected, (layer, fmt)
    document = read_geojson(download(api, "control-operations", "geojson").data)
    properties = document["features"][0]["properties"]
    assert properties["method"] == "chemical" and properties["site_code"] == operation["site_code"]
    assert properties["area_mu"] == pytest.approx(2000 / (2000 / 3))
    assert '"product": "四聚乙醛"' in properties["details"]


# ---------------------------------------------------------------------------------------------
# The same rows as the list


@pytest.mark.parametrize(
    "query",
    [
        "",
        "&species_id={weed_species}",
        "&township_code=500155002",
        "&detected=false",
        "&status=verified",
        "&organization=agriculture",
        "&flag=low_accuracy",
        "&from=2026-05-05&to=2026-05-31",
        "&bbox=107.84,30.70,107.86,30.73",
        "&surveyor_id={forestry_surveyor}",
    ],
)
def test_observation_filters_give_the_lists_rows(
    api_as: Any, records: dict[str, Any], species_id: Any, query: str
) -> None:
    query = query.format(
        weed_species=species_id("alternanthera-philoxeroides"),
        forestry_surveyor=records["snail"]["surveyor_id"],
    )
    api = api_as("surveyor", "agriculture")
    expected = listed(api, "observations", query)
    assert geojson_ids(api, "observations", query) == expected  # same rows, same order
    rows = read_csv(download(api, "observations", "csv", query).data)[1:]
    assert [int(row[0]) for row in rows] == expected
    assert query == "" or len(expected) < len(listed(api, "observations"))  # the filter did filter


@pytest.mark.parametrize("query", ["", "&status=under_control", "&status=active", "&township_code=500155002"])
def test_site_filters_give_the_lists_rows(api_as: Any, records: dict[str, Any], query: str) -> None:
    api = api_as("verifier")
    assert geojson_ids(api, "sites", query) == listed(api, "sites", query)


@pytest.mark.parametrize("query", ["", "&method=chemical", "&method=duck_release", "&from=2099-01-01"])
def test_operation_filters_give_the_lists_rows(api_as: Any, records: dict[str, Any], query: str) -> None:
    api = api_as("verifier")
    assert geojson_ids(api, "control-operations", query) == listed(api, "control-operations", query)


# ---------------------------------------------------------------------------------------------
# Who may download


@pytest.mark.parametrize("layer", LAYERS)
def test_anonymous_callers_get_401(anonymous_api: Any, layer: str) -> None:
    response = anonymous_api.get(f"/api/v1/{layer}/download?format=geojson")
    assert response.status_code == 401


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor", "bureau_admin", "admin"])
def test_every_role_downloads_what_its_list_shows(api_as: Any, records: dict[str, Any], role: str) -> None:
    """All signed-in staff read the whole district (docs/contract.md §1): the other bureau's records too."""
    api = api_as(role, "agriculture")
    for layer in LAYERS:
        assert geojson_ids(api, layer) == listed(api, layer)
    assert records["snail"]["id"] in geojson_ids(api, "observations")  # forestry's, downloaded by agriculture


def test_a_download_is_audited(api_as: Any, records: dict[str, Any]) -> None:
    download(api_as("verifier"), "observations", "shapefile", "&township_code=500155002")
    entry = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "gis_download").order_by(AuditLog.id.desc())
    ).first()
    assert entry is not None and entry.entity_type == "observations"
    assert entry.changes == {"format": "shapefile", "filters": {"township_code": "500155002"}}


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("query", ["format=xlsx", "format=", "format=GeoJSON", ""])
def test_an_unknown_or_missing_format_is_a_422_naming_format(api_as: Any, layer: str, query: str) -> None:
    response = api_as("surveyor").get(f"/api/v1/{layer}/download?{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "format" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("layer", "query", "field"),
    [
        ("observations", "township_code=999999999", "township_code"),
        ("observations", "organization=nobody", "organization"),
        ("observations", "bbox=1,2,3", "bbox"),
        ("observations", "from=2026-05-02&to=2026-05-01", "to"),
        ("observations", "species_id=abc", "species_id"),
        ("sites", "township_code=999999999", "township_code"),
        ("sites", "status=gone", "status"),
        ("control-operations", "from=not-a-day", "from"),
    ],
)
def test_bad_filters_are_the_lists_422s(api_as: Any, layer: str, query: str, field: str) -> None:
    api = api_as("surveyor")
    response = api.get(f"/api/v1/{layer}/download?format=csv&{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["errors"]
    assert api.get(f"/api/v1/{layer}?{query}").status_code == 422


# ---------------------------------------------------------------------------------------------
# Streaming


def _many_observations(count: int, model: Any = Observation) -> None:
    """`count` more copies of the latest record (new uuids), written straight to the table."""
    table = model.__table__
    latest = db.session.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).mappings().one()
    row = {name: value for name, value in latest.items() if name != "id"}
    db.session.execute(sa.insert(table), [{**row, "client_uuid": uuid.uuid4()} for _ in range(count)])
    db.session.flush()


def test_a_large_download_is_streamed_not_built(
    app: Flask, api_as: Any, make_user: Any, records: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response body is a generator that reads the rows as it writes them: when its first chunk is
    out, only a part of the rows has been read."""
    _many_observations(1200)
    monkeypatch.setattr(base, "CHUNK_BYTES", 8 * 1024)
    converted: list[int] = []
    source = layers.SOURCES["observations"]

    def counting(row: Any, zone: Any) -> Any:
        converted.append(row.id)
        return source.record(row, zone)

    monkeypatch.setitem(layers.SOURCES, "observations", layers.Source(source.layer, counting))
    api = api_as("verifier")
    # An ordinary client, so that the body is read here, chunk by chunk, as a server would.
    client = FlaskClient(app, app.response_class, use_cookies=False)
    response = client.get(
        "/api/v1/observations/download?format=geojson",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 200
    assert response.is_streamed
    chunks = response.iter_encoded()
    first = next(chunks)
    assert 0 < len(converted) < 1200  # the first chunk went out before most rows were read
    data = first + b"".join(chunks)
    response.close()
    features = read_geojson(data)["features"]
    assert len(features) == len(converted) == 1200 + 4  # and the fixture's four


@pytest.mark.parametrize(
    ("layer", "model"), [("observations", Observation), ("control-operations", ControlOperation)]
)
def test_statements_do_not_grow_with_the_rows(
    api_as: Any, records: dict[str, Any], count_queries: Any, layer: str, model: Any
) -> None:
    """Related rows are loaded per batch of BATCH rows (or joined), never one query per row."""
    api = api_as("verifier")
    _many_observations(600, model)
    with count_queries() as statements:
        data = download(api, layer, "geojson").data
    assert len(read_geojson(data)["features"]) > 600
    assert len(statements) < 30, statements
