"""A record's township when it names none: worked out from the position (the nearest site's township
without boundaries), and required before a record is verified (it is counted in the census by township)."""

from __future__ import annotations

from typing import Any

from tests.conftest import PADDY

METRES_PER_DEGREE_LAT = 111_320.0


def _north(metres: float) -> float:
    return PADDY[0] + metres / METRES_PER_DEGREE_LAT


def test_the_nearest_sites_township_is_taken(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    # Two places already recorded: one in 梁山街道 at the paddy, one in another township 2 km north.
    make_observation(api, township_code="500155001")
    make_observation(api, township_code="500155002", latitude=_north(2000))

    near_first = make_observation(api, township_code=None, latitude=_north(600))
    assert near_first["township_code"] == "500155001"
    near_second = make_observation(api, township_code=None, latitude=_north(1500))
    assert near_second["township_code"] == "500155002"
    # 8 km from anything recorded: not guessed.
    far = make_observation(api, township_code=None, latitude=_north(8000))
    assert far["township_code"] is None


def test_an_absence_record_takes_it_too(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    make_observation(api, township_code="500155001")
    absent = make_observation(
        api,
        township_code=None,
        detected=False,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
        latitude=_north(300),
    )
    assert absent["township_code"] == "500155001"


def test_a_record_without_a_township_is_not_verified(api_as: Any, make_observation: Any) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor, township_code=None)
    assert record["township_code"] is None  # nothing recorded near it yet
    verifier = api_as("verifier")
    response = verifier.post(f"/api/v1/observations/{record['id']}/review", json={"decision": "verified"})
    assert response.status_code == 422
    assert "township_code" in response.get_json()["errors"]
    assert verifier.get(f"/api/v1/observations/{record['id']}").get_json()["status"] == "submitted"

    # Named by its surveyor, it can be.
    assert (
        surveyor.patch(
            f"/api/v1/observations/{record['id']}", json={"township_code": "500155001"}
        ).status_code
        == 200
    )
    response = verifier.post(f"/api/v1/observations/{record['id']}/review", json={"decision": "verified"})
    assert response.status_code == 200
    assert response.get_json()["township_code"] == "500155001"


def test_field_data_gives_each_township_a_point_for_ordering(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    api = api_as("surveyor")
    make_observation(api, township_code="500155001")
    make_observation(api, township_code="500155001", latitude=_north(1000))  # a second site, 1 km north
    data = web_as(api.user).get("/app/field-data.json").get_json()
    by_code = {t["code"]: t for t in data["townships"]}
    assert by_code["500155001"]["lat"] == round((PADDY[0] + _north(1000)) / 2, 6)
    assert by_code["500155001"]["lon"] == PADDY[1]
    assert by_code["500155003"]["lat"] is None  # nothing recorded there yet
    # The phone's checks come from the API's own schema.
    assert data["limits"]["observation"]["density_per_m2"] == {"min": 0, "max": 1e6}
    assert data["limits"]["observation"]["count"]["integer"] is True


def test_field_data_says_whether_a_township_can_come_from_the_position(api_as: Any, web_as: Any) -> None:
    """The record form's hint follows it (app/static/js/record-pickers.js): without township boundaries a
    township left empty is taken only from a site nearby, and the form asks for one."""
    from app.district import boundaries
    from app.district.models import BoundaryLevel
    from app.extensions import db
    from tests.geo.synthetic import feature, geojson, square

    web = web_as(api_as("surveyor").user)
    assert web.get("/app/field-data.json").get_json()["township_from_position"] is False
    lat, lon = PADDY
    boundaries.load_boundaries(
        geojson(feature("500155001", square(lon - 0.3, lat - 0.25, lon + 0.28, lat + 0.2))),
        "t.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    db.session.commit()
    assert web.get("/app/field-data.json").get_json()["township_from_position"] is True


def test_the_review_queue_says_which_records_have_no_township(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    surveyor = api_as("surveyor")
    named = make_observation(surveyor, township_code="500155001", notes="named")
    unnamed = make_observation(surveyor, township_code=None, latitude=_north(8000), notes="unnamed")
    assert unnamed["township_code"] is None
    page = web_as(api_as("verifier").user).get("/review").get_data(as_text=True)
    cards = {
        name: next(card for card in page.split("<article")[1:] if f'/observations/{record["id"]}"' in card)
        for name, record in (("named", named), ("unnamed", unnamed))
    }
    assert "data-no-township" in cards["unnamed"]
    assert "没有乡镇" in cards["unnamed"] or "No township" in cards["unnamed"]
    assert "data-no-township" not in cards["named"]


def test_a_revisit_naming_another_township_than_its_sites_is_flagged_for_the_verifier(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    """Without township polygons nothing else tells a township picked wrong on a revisit; the site keeps
    the township it was opened in, so a verifier is asked to look (and the record may be returned)."""
    api = api_as("surveyor")
    first = make_observation(api, township_code="500155001", observed_at="2026-06-01T08:00:00+08:00")
    again = make_observation(api, township_code="500155005", observed_at="2026-06-08T08:00:00+08:00")
    assert again["site_id"] == first["site_id"]
    assert again["flags"] == ["site_township_mismatch"]
    assert first["flags"] == []

    page = web_as("verifier").get(f"/observations/{again['id']}").get_data(as_text=True)
    assert "与发生点乡镇不符" in page and "合兴街道" in page and "梁山街道" in page

    fixed = api.patch(f"/api/v1/observations/{again['id']}", json={"township_code": "500155001"})
    assert fixed.status_code == 200, fixed.get_json()
    assert fixed.get_json()["flags"] == []
