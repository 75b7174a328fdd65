"""Sites: presence records join the nearest site of their species within the radius, or open one."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.sites.models import Site, SiteStatus
from tests.conftest import PADDY

LAT, LON = PADDY
METRE = 1 / 111_195  # degrees of latitude per metre


def test_records_within_the_radius_join_one_site(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    first = make_observation(api, observed_at="2026-06-01T08:00:00+08:00")
    near = make_observation(api, latitude=LAT + 20 * METRE, observed_at="2026-06-10T08:00:00+08:00")
    far = make_observation(api, latitude=LAT + 45 * METRE, observed_at="2026-06-11T08:00:00+08:00")
    assert near["site_id"] == first["site_id"]
    assert far["site_id"] != first["site_id"]
    codes = {first["site_code"], far["site_code"]}
    assert len(codes) == 2
    assert all(code.startswith("500155001-") for code in codes)


def test_other_species_open_their_own_site(api_as: Any, make_observation: Any, species_id: Any) -> None:
    api = api_as("surveyor")
    snail = make_observation(api)
    weed = make_observation(
        api,
        species_id=species_id("alternanthera-philoxeroides"),
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=20,
    )
    assert weed["site_id"] != snail["site_id"]


def test_site_codes_count_up_within_a_township(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    serials = [
        int(
            make_observation(api, latitude=LAT + i * 0.01, township_code="500155002")["site_code"].split("-")[
                1
            ]
        )
        for i in range(3)
    ]
    assert serials == [serials[0], serials[0] + 1, serials[0] + 2]


def test_absence_joins_a_nearby_site_and_never_opens_one(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    site = make_observation(api, observed_at="2026-06-01T08:00:00+08:00")["site_id"]
    nothing = {"density_per_m2": None, "egg_masses_per_m2": None, "area_m2": None, "detected": False}
    at_site = make_observation(
        api, latitude=LAT + 5 * METRE, observed_at="2026-07-01T08:00:00+08:00", **nothing
    )
    elsewhere = make_observation(api, latitude=LAT + 0.01, **nothing)
    assert at_site["site_id"] == site
    assert elsewhere["site_id"] is None


def test_found_again_at_a_cleared_site_it_reemerges(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api, observed_at="2026-06-01T08:00:00+08:00")
    site = db.session.get(Site, record["site_id"])
    assert site is not None
    site.status = SiteStatus.CLEARED
    db.session.commit()
    make_observation(api, latitude=LAT + 3 * METRE, observed_at="2026-09-01T08:00:00+08:00")
    db.session.refresh(site)
    assert site.status == SiteStatus.REEMERGED


def test_site_timeline(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    later = make_observation(api, observed_at="2026-07-01T08:00:00+08:00", density_per_m2=3.0)
    earlier = make_observation(
        api, latitude=LAT + 4 * METRE, observed_at="2026-06-01T08:00:00+08:00", density_per_m2=22.0
    )
    response = api_as("verifier").get(f"/api/v1/sites/{later['site_id']}")
    assert response.status_code == 200
    site = response.get_json()
    assert site["code"] == later["site_code"]
    assert site["status"] == "active"
    assert site["first_observed_at"] == "2026-06-01T08:00:00+08:00"
    assert site["last_observed_at"] == "2026-07-01T08:00:00+08:00"
    assert [o["id"] for o in site["observations"]] == [earlier["id"], later["id"]]
    assert [(e["kind"], e["id"]) for e in site["timeline"]] == [
        ("observation", earlier["id"]),
        ("observation", later["id"]),
    ]
    assert api.get("/api/v1/sites/999999").status_code == 404


def test_sites_list(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    page = api.get("/api/v1/sites?township_code=500155001&status=active").get_json()
    assert [s["id"] for s in page["items"]] == [record["site_id"]]
    assert api.get("/api/v1/sites?status=gone").status_code == 422
