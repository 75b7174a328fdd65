"""A record and the loaded boundaries, on synthetic boundaries the tests make themselves: "inside the
district" is the polygon, the township comes from the point, a given one that disagrees is flagged; without
boundaries the district's box stands."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit.models import AuditLog
from app.district import boundaries
from app.district.loading import DistrictDataError, load_district
from app.district.models import BoundaryLevel, BoundaryLoad, Village
from app.district.services import township_at
from app.extensions import db
from app.geo.crs import wgs84_to_gcj02
from app.sites.models import Site
from tests.geo.synthetic import DISTRICT, EAST, WEST, feature, geojson, village_grid


@pytest.fixture
def synthetic_townships(app: Flask) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "synthetic.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )


@pytest.fixture
def synthetic_district(app: Flask) -> None:
    boundaries.load_boundaries(
        geojson(feature("500155", DISTRICT)), "synthetic.geojson", level=BoundaryLevel.DISTRICT
    )


def _payload_error(response: Any) -> str:
    return str(response.get_json())


def test_synthetic_township_comes_from_the_point(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    assert township_at(107.75, 30.65).code == "500155001"  # type: ignore[union-attr]
    assert township_at(107.85, 30.65).code == "500155002"  # type: ignore[union-attr]
    record = make_observation(api_as("surveyor"), township_code=None, latitude=30.65, longitude=107.85)
    assert record["township_code"] == "500155002" and record["flags"] == []


def test_synthetic_given_township_that_disagrees_is_flagged(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    record = make_observation(api, township_code="500155001", latitude=30.65, longitude=107.85)
    assert record["township_code"] == "500155001"  # as given: the surveyor may know better
    assert record["flags"] == ["township_mismatch"]
    # Within the tolerance of the edge (PADDY is ~30 m east of it) the given township stands unflagged.
    assert "township_mismatch" not in make_observation(api, township_code="500155001")["flags"]
    # A township with no polygon has nothing to disagree with.
    other = make_observation(api, township_code="500155003", latitude=30.66, longitude=107.86)
    assert "township_mismatch" not in other["flags"]


def test_synthetic_a_village_given_alone_whose_township_disagrees_is_flagged_at_once(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    """A record that names only its village takes the village's township; a point in the other
    township's polygon is flagged when the record is made, as its first edit would flag it."""
    api = api_as("surveyor")
    village = db.session.scalar(
        sa.select(Village.code).where(Village.code.startswith("500155001")).order_by(Village.code)
    )
    record = make_observation(api, township_code=None, village_code=village, latitude=30.65, longitude=107.85)
    assert (record["township_code"], record["village_code"]) == ("500155001", village)
    assert record["flags"] == ["township_mismatch"]
    edited = api.patch(f"/api/v1/observations/{record['id']}", json={"notes": "复核"}).get_json()
    assert edited["flags"] == record["flags"]
    # The point in its village's township: nothing to flag.
    inside = make_observation(api, township_code=None, village_code=village, latitude=30.65, longitude=107.75)
    assert inside["flags"] == []


def test_synthetic_the_district_polygon_replaces_the_box(
    synthetic_district: None, api_as: Any, observation_payload: Any
) -> None:
    api = api_as("surveyor")
    # In Liangping's box, outside the (synthetic) district polygon: refused.
    response = api.post("/api/v1/observations", json=observation_payload(latitude=30.80, longitude=107.60))
    assert response.status_code == 422 and "latitude" in response.get_json()["errors"]
    # 30 m outside the polygon is within the tolerance in metres: accepted.
    edge = observation_payload(latitude=30.70 + 30 / 111_320, longitude=107.75)
    assert api.post("/api/v1/observations", json=edge).status_code == 201


def test_synthetic_gcj02_hint_stays_with_a_polygon(
    synthetic_district: None, api_as: Any, observation_payload: Any
) -> None:
    lon, lat = wgs84_to_gcj02(107.898, 30.65)  # ~190 m inside the east edge; as GCJ-02, ~260 m outside
    api = api_as("surveyor")
    response = api.post("/api/v1/observations", json=observation_payload(latitude=lat, longitude=lon))
    assert response.status_code == 422
    assert "gcj02" in _payload_error(response)
    converted = observation_payload(latitude=lat, longitude=lon, crs="gcj02")
    assert api.post("/api/v1/observations", json=converted).status_code == 201


def test_without_boundaries_the_box_stands(api_as: Any, observation_payload: Any) -> None:
    assert not boundaries.has_outline()
    api = api_as("surveyor")
    # The same point the polygon refuses is in Liangping's box.
    assert (
        api.post(
            "/api/v1/observations", json=observation_payload(latitude=30.80, longitude=107.60)
        ).status_code
        == 201
    )
    outside = api.post("/api/v1/observations", json=observation_payload(latitude=31.5, longitude=107.60))
    assert outside.status_code == 422


@pytest.fixture
def synthetic_villages(app: Flask) -> list[str]:
    """Made-up squares, 3 × 3 over the west township's square, for nine real village codes of 梁山街道."""
    codes = list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith("500155001")).order_by(Village.code)
        )
    )[:9]
    features = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes)
    boundaries.load_boundaries(geojson(*features), "synthetic.geojson", level=BoundaryLevel.VILLAGE)
    return codes


def test_synthetic_village_comes_from_the_point(
    synthetic_townships: None, synthetic_villages: list[str], api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    record = make_observation(api, township_code=None, latitude=30.61, longitude=107.71)
    assert (record["township_code"], record["village_code"]) == ("500155001", synthetic_villages[0])
    # The village of a township given by hand, when the point agrees with it.
    record = make_observation(api, township_code="500155001", latitude=30.69, longitude=107.79)
    assert record["village_code"] == synthetic_villages[8]
    # Not a village of another township than the one given.
    record = make_observation(api, township_code="500155003", latitude=30.61, longitude=107.71)
    assert record["village_code"] is None


def test_synthetic_given_village_that_disagrees_is_flagged(
    synthetic_villages: list[str], api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    record = make_observation(
        api, township_code="500155001", village_code=synthetic_villages[0], latitude=30.69, longitude=107.79
    )
    assert record["village_code"] == synthetic_villages[0]  # as given
    assert "village_mismatch" in record["flags"]
    agrees = make_observation(
        api, township_code="500155001", village_code=synthetic_villages[0], latitude=30.61, longitude=107.71
    )
    assert "village_mismatch" not in agrees["flags"]


# --- a district folder that ships township polygons ------------------------------------------


def _folder(app: Flask, tmp_path: Path, data: bytes) -> Path:
    folder = tmp_path / "district"
    shutil.copytree(app.config["IAS_DISTRICT_DIR"], folder)
    toml = folder / "district.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace(
            'townships = "townships.csv"', 'townships = "townships.csv"\ntownship_boundaries = "t.geojson"'
        ),
        encoding="utf-8",
    )
    (folder / "t.geojson").write_bytes(data)
    return folder


def test_synthetic_folder_boundaries_load_through_the_same_check(app: Flask, tmp_path: Path) -> None:
    folder = _folder(app, tmp_path, geojson(feature("500155001", WEST), feature("500155002", EAST)))
    report = load_district(folder)
    assert report.boundaries.added == 1 and boundaries.township_code_at(107.85, 30.65) == "500155002"
    again = load_district(folder)  # unchanged file: not reloaded
    assert again.boundaries.unchanged == 1 and not again.changed_anything


def test_synthetic_bad_folder_boundaries_are_refused(app: Flask, tmp_path: Path) -> None:
    bad = geojson(
        feature("999999999", WEST), {"type": "Feature", "properties": {"code": "500155002"}, "geometry": None}
    )
    with pytest.raises(DistrictDataError) as caught:
        load_district(_folder(app, tmp_path, bad))
    assert len(caught.value.problems) == 2
    assert boundaries.current_version() is None


def test_loading_some_townships_does_not_shut_the_others_out_of_the_district(
    app: Flask, api_as: Any, observation_payload: Any
) -> None:
    """One township of 33 is not the district: with its polygon taken as the outline, every record in the
    other 32 was refused as outside the district. Until every township has a polygon the box stands, and
    the load report says so."""
    report = boundaries.load_boundaries(
        geojson(feature("500155001", WEST)), "west.geojson", level=BoundaryLevel.TOWNSHIP
    )
    assert report.ok
    assert any(p.kind == "district_outline" and "bounding box" in p.message for p in report.warnings)
    assert not boundaries.has_outline() and boundaries.outline() is None
    body = observation_payload(latitude=30.65, longitude=107.85, township_code="500155002")
    response = api_as("surveyor").post("/api/v1/observations", json=body)
    assert response.status_code == 201, response.get_json()
    # The loaded township still names the township of a point in it.
    inside_west = observation_payload(latitude=30.65, longitude=107.75, township_code=None)
    assert api_as("surveyor").post("/api/v1/observations", json=inside_west).get_json()["township_code"] == (
        "500155001"
    )


def test_with_some_townships_the_district_polygon_is_the_outline(
    app: Flask, synthetic_district: None
) -> None:
    report = boundaries.load_boundaries(
        geojson(feature("500155001", WEST)), "west.geojson", level=BoundaryLevel.TOWNSHIP
    )
    assert any(p.kind == "district_outline" and "district's polygon" in p.message for p in report.warnings)
    assert boundaries.has_outline()
    assert boundaries.locator().inside(107.85, 30.65) is True


def test_every_township_loaded_is_the_district(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every township's polygon (here the district has just the two), their union is the outline."""
    monkeypatch.setattr(
        boundaries, "known_units", lambda level: {"500155001": "梁山街道", "500155002": "双桂街道"}
    )
    report = boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    assert not any(p.kind == "district_outline" for p in report.problems)
    assert boundaries.has_outline()
    assert boundaries.locator().inside(107.85, 30.65) is True
    assert boundaries.locator().inside(107.95, 30.65) is False


def test_records_made_before_the_townships_get_theirs_when_they_are_loaded(
    app: Flask, api_as: Any, make_observation: Any
) -> None:
    """Without boundaries and with no site near, a record waits with no township; loading the townships
    gives it (and its site) the one its point lies in. A township the surveyor named is left as named."""
    api = api_as("surveyor")
    waiting = make_observation(api, township_code=None, latitude=30.65, longitude=107.85)
    named = make_observation(api, township_code="500155001", latitude=30.66, longitude=107.86)
    assert waiting["township_code"] is None
    report = boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    after = api.get(f"/api/v1/observations/{waiting['id']}").get_json()
    assert after["township_code"] == "500155002"
    assert api.get(f"/api/v1/observations/{named['id']}").get_json()["township_code"] == "500155001"
    site = db.session.get(Site, waiting["site_id"])
    assert site is not None and site.township is not None and site.township.code == "500155002"
    [placed] = [p for p in report.warnings if p.kind == "placed"]
    assert "1 records and 1 sites" in placed.message


def test_records_made_before_the_villages_get_theirs_when_they_are_loaded(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    before = make_observation(api, township_code=None, latitude=30.61, longitude=107.71)
    other = make_observation(api, township_code="500155002", latitude=30.69, longitude=107.79)
    assert (before["township_code"], before["village_code"]) == ("500155001", None)
    codes = list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith("500155001")).order_by(Village.code)
        )
    )[:9]
    features = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes)
    boundaries.load_boundaries(geojson(*features), "v.geojson", level=BoundaryLevel.VILLAGE)
    assert api.get(f"/api/v1/observations/{before['id']}").get_json()["village_code"] == codes[0]
    # Its point is in a village of 500155001, but the surveyor named 500155002: no village then.
    after = api.get(f"/api/v1/observations/{other['id']}").get_json()
    assert (after["township_code"], after["village_code"]) == ("500155002", None)


def _flags(api: Any, record: dict[str, Any]) -> list[str]:
    return list(api.get(f"/api/v1/observations/{record['id']}").get_json()["flags"])


def test_a_township_load_flags_the_records_it_disagrees_with_and_unflags_those_it_agrees_with(
    app: Flask, api_as: Any, make_observation: Any
) -> None:
    """Polygons loaded with the two townships' codes swapped, then loaded right: each record is flagged by
    what the polygons loaded now say, at the load, not at its next edit; the township it names stays."""
    api = api_as("surveyor")
    boundaries.load_boundaries(
        geojson(feature("500155002", WEST), feature("500155001", EAST)),
        "swapped.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    # Named 梁山街道 (001), point in the west square: the swapped polygons disagree, so it is flagged.
    was_wrong = make_observation(api, township_code="500155001", latitude=30.65, longitude=107.75)
    # Named 双桂街道 (002), point in the west square: the swapped polygons agree.
    becomes_wrong = make_observation(api, township_code="500155002", latitude=30.66, longitude=107.76)
    # Placed by its point (no township named): 002 now, and the right polygons will disagree with it.
    placed = make_observation(api, township_code=None, latitude=30.64, longitude=107.74)
    assert _flags(api, was_wrong) == ["township_mismatch"]
    assert _flags(api, becomes_wrong) == [] and placed["township_code"] == "500155002"

    report = boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "right.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )

    assert _flags(api, was_wrong) == []
    assert _flags(api, becomes_wrong) == ["township_mismatch"]
    assert _flags(api, placed) == ["township_mismatch"]
    for record, code in ((was_wrong, "500155001"), (becomes_wrong, "500155002"), (placed, "500155002")):
        assert api.get(f"/api/v1/observations/{record['id']}").get_json()["township_code"] == code
    [rechecked] = [p for p in report.warnings if p.kind == "rechecked"]
    assert rechecked.message.startswith("2 records whose township these polygons disagree with")
    assert "1 flagged before now agree" in rechecked.message
    load_id = db.session.scalar(sa.select(BoundaryLoad.id).order_by(BoundaryLoad.id.desc()).limit(1))
    audit = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "boundaries.load", AuditLog.entity_id == str(load_id))
    ).one()
    assert (audit.changes["flagged_records"], audit.changes["unflagged_records"]) == (2, 1)
    # The flag rows are those a list filters by.
    flagged = api.get("/api/v1/observations", query_string={"flag": "township_mismatch"}).get_json()
    assert {r["id"] for r in flagged["items"]} == {becomes_wrong["id"], placed["id"]}


def test_a_dry_run_a_rolled_back_load_or_the_same_townships_again_change_no_flag(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    wrong = make_observation(api, township_code="500155001", latitude=30.65, longitude=107.85)
    right = make_observation(api, township_code="500155002", latitude=30.66, longitude=107.86)
    swapped = geojson(feature("500155002", WEST), feature("500155001", EAST))
    boundaries.load_boundaries(swapped, "s.geojson", level=BoundaryLevel.TOWNSHIP, dry_run=True)
    assert (_flags(api, wrong), _flags(api, right)) == (["township_mismatch"], [])
    # A load that is rolled back takes its flags with it: they are written in its unit of work.
    nested = db.session.begin_nested()
    report = boundaries.load_boundaries(swapped, "s.geojson", level=BoundaryLevel.TOWNSHIP)
    assert next(p for p in report.warnings if p.kind == "rechecked").message.startswith("1 records")
    nested.rollback()
    assert (_flags(api, wrong), _flags(api, right)) == (["township_mismatch"], [])
    again = boundaries.load_boundaries(
        geojson(feature("500155001", WEST), feature("500155002", EAST)),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    assert not [p for p in again.warnings if p.kind == "rechecked"]
    assert (_flags(api, wrong), _flags(api, right)) == (["township_mismatch"], [])


def test_a_village_load_rechecks_the_village_mismatch_flag(
    synthetic_townships: None, api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    codes = list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith("500155001")).order_by(Village.code)
        )
    )[:9]
    # Named the first village (the grid's south-west cell), made at the north-east cell's point.
    record = make_observation(
        api, township_code="500155001", village_code=codes[0], latitude=30.69, longitude=107.79
    )
    assert _flags(api, record) == []  # no village polygons yet
    features = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes)
    report = boundaries.load_boundaries(geojson(*features), "v.geojson", level=BoundaryLevel.VILLAGE)
    assert _flags(api, record) == ["village_mismatch"]
    rechecked = next(p for p in report.warnings if p.kind == "rechecked")
    assert rechecked.message.startswith("1 records whose village")
    # The grid again with its codes in reverse order: the first village's cell is now the north-east one.
    features = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes[::-1])
    boundaries.load_boundaries(geojson(*features), "v2.geojson", level=BoundaryLevel.VILLAGE)
    after = api.get(f"/api/v1/observations/{record['id']}").get_json()
    assert after["flags"] == [] and after["village_code"] == codes[0]


def test_a_record_a_village_load_gives_a_township_is_checked_against_the_townships_at_the_load(
    app: Flask, api_as: Any, make_observation: Any
) -> None:
    """A record made with no township before any polygon; 梁山街道's polygon then loaded over the east
    square only (its point, in the west, is in none: it stays without a township); then 梁山街道's
    villages over the west square. The village load gives it a village and 梁山街道, whose polygon does
    not hold its point: it is flagged township_mismatch at the load, as its next edit would flag it."""
    api = api_as("surveyor")
    record = make_observation(api, township_code=None, latitude=30.65, longitude=107.75)
    boundaries.load_boundaries(geojson(feature("500155001", EAST)), "t.geojson", level=BoundaryLevel.TOWNSHIP)
    assert api.get(f"/api/v1/observations/{record['id']}").get_json()["township_code"] is None
    codes = list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith("500155001")).order_by(Village.code)
        )
    )[:9]
    features = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes)

    report = boundaries.load_boundaries(geojson(*features), "v.geojson", level=BoundaryLevel.VILLAGE)

    after = api.get(f"/api/v1/observations/{record['id']}").get_json()
    assert (after["township_code"], after["village_code"]) == ("500155001", codes[4])
    assert after["flags"] == ["township_mismatch"]
    [flagged] = [p for p in report.warnings if p.kind == "placed_flagged"]
    assert flagged.message.startswith("1 of the records given a village")
    edited = api.patch(f"/api/v1/observations/{record['id']}", json={"notes": "复核"}).get_json()
    assert edited["flags"] == after["flags"]  # what the load set is what an edit sets


def test_the_flags_are_rechecked_by_statements_not_per_record(
    app: Flask, api_as: Any, make_observation: Any, count_queries: Any
) -> None:
    """The district has ~100k records: the re-check reads them once and writes a chunk of ids per
    statement, however many records it flags (no record loaded as an object, no INSERT per flag)."""
    api = api_as("surveyor")
    records = [
        make_observation(api, township_code="500155001", latitude=30.65, longitude=107.81 + i / 100)
        for i in range(6)
    ]
    with count_queries() as statements:
        boundaries.load_boundaries(
            geojson(feature("500155001", WEST), feature("500155002", EAST)),
            "t.geojson",
            level=BoundaryLevel.TOWNSHIP,
        )
    on_flags = [s for s in statements if "observation_flags" in s]
    assert len(on_flags) == 2, on_flags  # the read, and one INSERT … SELECT for the six
    assert (
        on_flags[1].lstrip().upper().startswith("INSERT INTO OBSERVATION_FLAGS") and "SELECT" in on_flags[1]
    )
    assert all(_flags(api, r) == ["township_mismatch"] for r in records)
