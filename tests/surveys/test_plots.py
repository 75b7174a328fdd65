"""Plots (样地) and quadrats (样方) through the API: figures, idempotency, bad input, editing, photos."""

from __future__ import annotations

import io
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image  # noqa: TID251 -- tests build their own images
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Organization
from app.clock import local_today
from app.extensions import db
from app.photos.models import Photo
from app.surveys.models import Campaign, CampaignKind, Plot

SNAIL = "pomacea-canaliculata"
WEED = "alternanthera-philoxeroides"
GRASS = "ageratum-conyzoides"


def _hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


# Five 1 m² quadrats in a 10 m × 10 m plot; what each species measured in each (None: not recorded there).
FIVE_QUADRATS: list[dict[str, dict[str, Any] | None]] = [
    {
        WEED: {"cover_pct": 60, "density_per_m2": 40, "height_cm": 35, "count": 40},
        GRASS: {"cover_pct": 10, "count": 3},
    },
    {WEED: {"cover_pct": 45, "density_per_m2": 28, "height_cm": 30, "count": 28}},
    {
        WEED: {"cover_pct": 0, "density_per_m2": 0, "count": 0},
        GRASS: {"cover_pct": 5, "height_cm": 12, "count": 2},
    },
    {WEED: {"cover_pct": 80, "density_per_m2": 55.5, "height_cm": 42.5, "count": 55}},
    {SNAIL: {"density_per_m2": 3, "count": 3}},
]


def plot_body(species_id: Any, site_id: int, **changes: Any) -> dict[str, Any]:
    quadrats = []
    for number, measured in enumerate(FIVE_QUADRATS, start=1):
        records = [{"species_id": species_id(key), **figures} for key, figures in measured.items() if figures]
        quadrats.append({"number": number, "size_m2": 1.0, "records": records})
    body: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "site_id": site_id,
        "surveyed_at": _hours_ago(1),
        "shape": "square",
        "length_m": 10,
        "habitat": "paddy",
        "notes": "田埂边",
        "quadrats": quadrats,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def expected_figures(species_key: str) -> dict[str, Any]:
    """The same figures, computed here in the plainest way: five quadrats, absent counts 0."""
    n = len(FIVE_QUADRATS)
    densities, covers, heights, counts, present, covered = [], [], [], [], 0, 0
    for measured in FIVE_QUADRATS:
        rec = measured.get(species_key)
        values = [v for v in (rec or {}).values() if v is not None]
        here = rec is not None and (not values or any(v > 0 for v in values))
        if rec is not None and "count" in rec:
            counts.append(rec["count"])
        if not here:
            densities.append(0)
            covers.append(0)
            continue
        present += 1
        # density as typed, else count / 1 m²
        densities.append(rec["density_per_m2"] if "density_per_m2" in rec else rec["count"] / 1.0)
        if "cover_pct" in rec:
            covers.append(rec["cover_pct"])
            covered += 1
        if "height_cm" in rec:
            heights.append(rec["height_cm"])
    return {
        "frequency_pct": 100 * present / n,
        "mean_density_per_m2": sum(densities) / len(densities),
        # Present somewhere but its cover measured nowhere it is present: not known (not 0).
        "mean_cover_pct": sum(covers) / len(covers) if covered or not present else None,
        "mean_height_cm": sum(heights) / len(heights) if heights else None,
        "total_count": sum(counts) if counts else None,
        "quadrats_present": present,
    }


@pytest.fixture
def site(api_as: Any, make_observation: Any) -> dict[str, Any]:
    """A 福寿螺 site recorded by a forestry surveyor."""
    return make_observation(api_as("surveyor"))


@pytest.fixture
def surveyor(api_as: Any) -> Any:
    return api_as("surveyor")


def _campaign(
    make_user: Any, organization: str = "forestry", *, starts: date | None = None, ends: date | None = None
) -> int:
    """A campaign of the bureau, made directly (the campaigns API is another piece of work)."""
    org = db.session.scalar(sa.select(Organization).where(Organization.code == organization))
    creator = make_user("bureau_admin", organization).id
    campaign = Campaign(
        organization_id=org.id,
        name="2026 普查",
        kind=CampaignKind.CENSUS,
        starts_on=starts or local_today() - timedelta(days=30),
        ends_on=ends or local_today() + timedelta(days=30),
        created_by_id=creator,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign.id


# ---------------------------------------------------------------------------------------------
# Creating, figures, idempotency


def test_plot_with_five_quadrats_has_its_figures(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    body = plot_body(species_id, site["site_id"])
    response = surveyor.post("/api/v1/plots", json=body)
    assert response.status_code == 201, response.get_json()
    plot = response.get_json()
    assert plot["site_id"] == site["site_id"]
    assert plot["area_m2"] == 100
    assert plot["area_mu"] == pytest.approx(100 / 666.6667, abs=1e-4)
    assert (plot["length_m"], plot["width_m"]) == (10, 10)
    assert len(plot["quadrats"]) == 5
    # No position sent: the site's.
    assert (plot["latitude"], plot["longitude"]) == pytest.approx((site["latitude"], site["longitude"]))
    figures = plot["figures"]
    assert figures["quadrats"] == 5
    assert figures["quadrat_area_m2"] == 5
    by_species = {f["species_id"]: f for f in figures["species"]}
    assert set(by_species) == {species_id(WEED), species_id(GRASS), species_id(SNAIL)}
    for key in (WEED, GRASS, SNAIL):
        got = by_species[species_id(key)]
        want = expected_figures(key)
        for name, value in want.items():
            if value is None:
                assert got[name] is None, (key, name)
            else:
                assert got[name] == pytest.approx(value), (key, name)
    # Spelled out once, for the reader: 喜旱莲子草 in 3 of 5 quadrats (the zeros of quadrat 3 are absence).
    weed = by_species[species_id(WEED)]
    assert weed["frequency_pct"] == 60
    assert weed["mean_density_per_m2"] == pytest.approx((40 + 28 + 0 + 55.5 + 0) / 5)
    assert weed["mean_cover_pct"] == pytest.approx((60 + 45 + 0 + 80 + 0) / 5)
    assert weed["mean_height_cm"] == pytest.approx((35 + 30 + 42.5) / 3)
    assert weed["total_count"] == 123
    # 胜红蓟 has counts but no typed density: count / quadrat size.
    grass = by_species[species_id(GRASS)]
    assert grass["mean_density_per_m2"] == pytest.approx((3 + 2) / 5)

    again = surveyor.get(f"/api/v1/plots/{plot['id']}")
    assert again.status_code == 200
    assert again.get_json()["figures"] == figures


def test_same_plot_twice_is_one_plot_and_different_content_conflicts(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    body = plot_body(species_id, site["site_id"])
    first = surveyor.post("/api/v1/plots", json=body)
    assert first.status_code == 201
    retry = surveyor.post("/api/v1/plots", json=body)
    assert retry.status_code == 200
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Plot)) == 1
    changed = surveyor.post("/api/v1/plots", json={**body, "notes": "另一块"})
    assert changed.status_code == 409
    assert "client_uuid" in changed.get_json()["errors"]


def test_circle_rectangle_and_irregular_areas(surveyor: Any, site: dict[str, Any], species_id: Any) -> None:
    cases = [
        ({"shape": "circle", "radius_m": 5.64, "length_m": None}, math.pi * 5.64**2),
        ({"shape": "rectangle", "length_m": 20, "width_m": 5}, 100.0),
        ({"shape": "strip", "length_m": 50, "width_m": 2}, 100.0),
        ({"shape": "rectangle", "length_m": None, "area_m2": 150.0}, 150.0),
    ]
    for changes, area in cases:
        response = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"], **changes))
        assert response.status_code == 201, (changes, response.get_json())
        assert response.get_json()["area_m2"] == pytest.approx(area, abs=1e-3)


def test_list_by_site_and_campaign(
    make_user: Any, surveyor: Any, site: dict[str, Any], species_id: Any, make_observation: Any
) -> None:
    campaign_id = _campaign(make_user)
    in_campaign = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    ).get_json()
    other_site = make_observation(surveyor, latitude=30.70, longitude=107.70, township_code=None)
    alone = surveyor.post("/api/v1/plots", json=plot_body(species_id, other_site["site_id"])).get_json()
    assert other_site["site_id"] != site["site_id"]

    by_site = surveyor.get(f"/api/v1/plots?site_id={site['site_id']}").get_json()
    assert [p["id"] for p in by_site["items"]] == [in_campaign["id"]]
    by_campaign = surveyor.get(f"/api/v1/plots?campaign_id={campaign_id}").get_json()
    assert [p["id"] for p in by_campaign["items"]] == [in_campaign["id"]]
    everything = surveyor.get("/api/v1/plots").get_json()
    assert {p["id"] for p in everything["items"]} == {in_campaign["id"], alone["id"]}
    assert everything["total"] == 2


def test_the_list_asks_the_same_number_of_queries_for_one_plot_or_six(
    surveyor: Any, site: dict[str, Any], species_id: Any, count_queries: Any
) -> None:
    def queries_for_the_list() -> int:
        with count_queries() as queries:
            response = surveyor.get(f"/api/v1/plots?site_id={site['site_id']}")
        assert response.status_code == 200
        return len(queries)

    surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"]))
    one = queries_for_the_list()
    for _ in range(5):
        surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"]))
    assert surveyor.get(f"/api/v1/plots?site_id={site['site_id']}").get_json()["total"] == 6
    assert queries_for_the_list() == one


# ---------------------------------------------------------------------------------------------
# Bad input: 422 naming the field, nothing written


def _with_quadrat(body: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    quadrats = [dict(q) for q in body["quadrats"]]
    quadrats[index] = {**quadrats[index], **changes}
    return {**body, "quadrats": quadrats}


def _with_record(body: dict[str, Any], q: int, r: int, **changes: Any) -> dict[str, Any]:
    quadrats = [dict(x, records=[dict(y) for y in x["records"]]) for x in body["quadrats"]]
    quadrats[q]["records"][r].update(changes)
    return {**body, "quadrats": quadrats}


BAD: list[tuple[str, Any, str]] = [
    ("quadrat larger than its plot", lambda b: _with_quadrat(b, 2, size_m2=150), "quadrats.2.size_m2"),
    (
        "quadrats together larger than the plot",
        lambda b: {**b, "quadrats": [{**q, "size_m2": 30} for q in b["quadrats"]]},
        "quadrats",
    ),
    ("cover over 100 %", lambda b: _with_record(b, 0, 1, cover_pct=120), "quadrats.0.records.1.cover_pct"),
    ("negative cover", lambda b: _with_record(b, 0, 0, cover_pct=-5), "quadrats.0.records.0.cover_pct"),
    (
        "negative density",
        lambda b: _with_record(b, 1, 0, density_per_m2=-1),
        "quadrats.1.records.0.density_per_m2",
    ),
    ("negative height", lambda b: _with_record(b, 3, 0, height_cm=-2), "quadrats.3.records.0.height_cm"),
    ("negative count", lambda b: _with_record(b, 4, 0, count=-3), "quadrats.4.records.0.count"),
    ("fractional count", lambda b: _with_record(b, 4, 0, count=2.5), "quadrats.4.records.0.count"),
    ("duplicate quadrat number", lambda b: _with_quadrat(b, 3, number=1), "quadrats.3.number"),
    (
        "duplicate species in a quadrat",
        lambda b: _with_record(b, 0, 1, species_id=b["quadrats"][0]["records"][0]["species_id"]),
        "quadrats.0.records.1.species_id",
    ),
    (
        "unknown species",
        lambda b: _with_record(b, 2, 1, species_id=999_999),
        "quadrats.2.records.1.species_id",
    ),
    ("unknown site", lambda b: {**b, "site_id": 999_999}, "site_id"),
    ("unknown campaign", lambda b: {**b, "campaign_id": 999_999}, "campaign_id"),
    ("zero length", lambda b: {**b, "length_m": 0}, "length_m"),
    ("negative length", lambda b: {**b, "length_m": -10}, "length_m"),
    ("a square of two sides", lambda b: {**b, "width_m": 4}, "width_m"),
    ("a rectangle with one side", lambda b: {**b, "shape": "rectangle"}, "width_m"),
    ("a circle with a side", lambda b: {**b, "shape": "circle", "radius_m": 5}, "length_m"),
    ("a square with a radius", lambda b: {**b, "radius_m": 5}, "radius_m"),
    ("no dimensions at all", lambda b: {**b, "length_m": None}, "length_m"),
    ("area not matching the sides", lambda b: {**b, "area_m2": 400}, "area_m2"),
    ("a kilometre-and-a-half side", lambda b: {**b, "length_m": 1500}, "length_m"),
    ("unknown shape", lambda b: {**b, "shape": "hexagon"}, "shape"),
    ("surveyed tomorrow", lambda b: {**b, "surveyed_at": _hours_ago(-26)}, "surveyed_at"),
    ("only a latitude", lambda b: {**b, "latitude": 30.68}, "longitude"),
    ("outside the district", lambda b: {**b, "latitude": 39.9, "longitude": 116.4}, "latitude"),
    ("unknown habitat", lambda b: {**b, "habitat": "moon"}, "habitat"),
    ("quadrat of no size", lambda b: _with_quadrat(b, 0, size_m2=0), "quadrats.0.size_m2"),
    ("quadrat without a number", lambda b: {**b, "quadrats": [{"size_m2": 1}]}, "quadrats.0.number"),
    ("no client_uuid", lambda b: {**b, "client_uuid": None}, "client_uuid"),
    (
        "a density of 0 with a count",
        lambda b: _with_record(b, 0, 0, density_per_m2=0, count=5),
        "quadrats.0.records.0.density_per_m2",
    ),
    (
        "a density with a count of 0",
        lambda b: _with_record(b, 1, 0, density_per_m2=3, count=0),
        "quadrats.1.records.0.density_per_m2",
    ),
]


@pytest.mark.parametrize(("what", "spoil", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(
    surveyor: Any, site: dict[str, Any], species_id: Any, what: str, spoil: Any, field: str
) -> None:
    body = spoil(plot_body(species_id, site["site_id"]))
    body = {k: v for k, v in body.items() if v is not None}
    response = surveyor.post("/api/v1/plots", json=body)
    assert response.status_code == 422, (what, response.get_json())
    errors = response.get_json()["errors"]
    assert field in errors, (what, errors)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Plot)) == 0


def test_one_answer_names_the_schema_faults_and_the_plots_own(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    """A body with a missing field and faults only the plot's own checks find: all named at once."""
    body = plot_body(species_id, site["site_id"], latitude=39.9, longitude=116.4, area_m2=400)
    body = _with_quadrat(body, 3, number=1)  # a repeated number
    body = _with_record(body, 0, 1, cover_pct=120)  # a schema fault inside a quadrat
    body = _with_record(body, 2, 1, species_id=999_999)  # an unknown species
    del body["surveyed_at"]
    response = surveyor.post("/api/v1/plots", json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert set(errors) == {
        "surveyed_at",
        "quadrats.0.records.1.cover_pct",
        "latitude",
        "longitude",
        "area_m2",
        "quadrats.3.number",
        "quadrats.2.records.1.species_id",
    }, errors
    assert all(len(messages) == 1 for messages in errors.values()), errors
    assert "梁平区" in errors["latitude"][0] and "100.00" in errors["area_m2"][0]
    # A field the schema refused is not judged again; one that depends on it is not judged on a guess.
    body = {**plot_body(species_id, site["site_id"], length_m=-1, width_m=4), "site_id": 999_999}
    body = _with_quadrat(body, 0, size_m2="big")
    errors = surveyor.post("/api/v1/plots", json=body).get_json()["errors"]
    assert set(errors) == {"length_m", "quadrats.0.size_m2", "site_id"}, errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Plot)) == 0


def test_an_edit_names_the_schema_faults_and_the_plots_own(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    path = f"/api/v1/plots/{plot['id']}"
    response = surveyor.patch(
        path,
        json={"notes": 5, "latitude": 39.9, "longitude": 116.4, "quadrats": [{"number": 1, "size_m2": 400}]},
    )
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"notes", "latitude", "longitude", "quadrats.0.size_m2"}
    only_one = surveyor.patch(path, json={"notes": 5, "latitude": 30.68})
    assert set(only_one.get_json()["errors"]) == {"notes", "longitude"}
    assert surveyor.get(path).get_json()["notes"] == plot["notes"]


def test_an_edit_by_another_is_judged_on_its_body_only(
    surveyor: Any, api_as: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    colleague = api_as("supervisor")
    body = {"notes": 5, "latitude": 39.9, "longitude": 116.4}
    refused = colleague.patch(f"/api/v1/plots/{plot['id']}", json=body)
    assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"notes"}


def test_another_bureaus_campaign_is_refused(
    make_user: Any, api_as: Any, site: dict[str, Any], species_id: Any
) -> None:
    campaign_id = _campaign(make_user, "agriculture")
    response = api_as("surveyor").post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    )
    assert response.status_code == 422
    assert "campaign_id" in response.get_json()["errors"]


def test_a_plot_outside_its_campaigns_window_is_refused(
    make_user: Any, surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    campaign_id = _campaign(
        make_user, starts=local_today() + timedelta(days=5), ends=local_today() + timedelta(days=40)
    )
    response = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    )
    assert response.status_code == 422
    assert "surveyed_at" in response.get_json()["errors"]


# ---------------------------------------------------------------------------------------------
# Editing


def test_surveyor_edits_quadrats_and_figures_follow(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    weed = species_id(WEED)
    response = surveyor.patch(
        f"/api/v1/plots/{plot['id']}",
        json={
            "quadrats": [
                {"number": 1, "size_m2": 4, "records": [{"species_id": weed, "cover_pct": 50, "count": 20}]},
                {"number": 2, "size_m2": 4, "records": []},
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert [q["number"] for q in edited["quadrats"]] == [1, 2]
    (figures,) = edited["figures"]["species"]
    assert figures["frequency_pct"] == 50
    assert figures["mean_density_per_m2"] == pytest.approx((20 / 4 + 0) / 2)
    assert figures["mean_cover_pct"] == pytest.approx(25)
    assert edited["area_m2"] == 100  # untouched

    resized = surveyor.patch(
        f"/api/v1/plots/{plot['id']}", json={"shape": "rectangle", "length_m": 2, "width_m": 2}
    )
    assert resized.status_code == 422  # two 4 m² quadrats do not fit in 4 m²
    assert "quadrats" in resized.get_json()["errors"]
    resized = surveyor.patch(f"/api/v1/plots/{plot['id']}", json={"shape": "circle", "radius_m": 3})
    assert resized.status_code == 200, resized.get_json()
    body = resized.get_json()
    assert body["area_m2"] == pytest.approx(math.pi * 9, abs=1e-3)
    assert (body["length_m"], body["width_m"], body["radius_m"]) == (None, None, 3)


def test_a_plot_of_a_species_or_habitat_retired_since_is_still_edited(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    """A species retired from the registry (merged, gone from the lists) or a habitat retired takes no
    new plot, but the plots that recorded it are still corrected: their own species and habitat stand."""
    from app.species.models import Habitat, Species

    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    path = f"/api/v1/plots/{plot['id']}"
    grass = db.session.get(Species, species_id(GRASS))
    grass.retired_on = local_today()
    db.session.scalar(sa.select(Habitat).where(Habitat.code == "paddy")).retired = True
    db.session.commit()
    response = surveyor.patch(path, json={"notes": "更正：田埂东侧"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["notes"] == "更正：田埂东侧" and response.get_json()["habitat"] == "paddy"
    # The quadrats sent back as they are, one figure corrected: the retired species is kept.
    quadrats = response.get_json()["quadrats"]
    quadrats[0]["records"] = [
        {k: v for k, v in r.items() if k != "species_name_zh"} for r in quadrats[0]["records"]
    ]
    for q in quadrats[1:]:
        q["records"] = [{k: v for k, v in r.items() if k != "species_name_zh"} for r in q["records"]]
    quadrats[0]["records"][-1]["count"] = 4
    response = surveyor.patch(path, json={"quadrats": quadrats, "habitat": "paddy"})
    assert response.status_code == 200, response.get_json()
    # The plot's own retired species may be recorded in another of its quadrats; a retired species new
    # to the plot, and a new plot with the retired habitat, are refused as before.
    quadrats[1]["records"].append({"species_id": grass.id, "count": 1})
    assert surveyor.patch(path, json={"quadrats": quadrats}).status_code == 200
    moth = db.session.get(Species, species_id("hyphantria-cunea"))
    moth.retired_on = local_today()
    db.session.commit()
    quadrats[1]["records"].append({"species_id": moth.id, "count": 1})
    refused = surveyor.patch(path, json={"quadrats": quadrats})
    assert set(refused.get_json()["errors"]) == {"quadrats.1.records.2.species_id"}
    refused = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"]))
    assert refused.status_code == 422 and "habitat" in refused.get_json()["errors"]


def test_only_its_surveyor_edits_and_not_after_the_campaign(
    make_user: Any, surveyor: Any, api_as: Any, site: dict[str, Any], species_id: Any
) -> None:
    campaign_id = _campaign(make_user)
    plot = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    ).get_json()
    colleague = api_as("supervisor")
    assert colleague.patch(f"/api/v1/plots/{plot['id']}", json={"notes": "改"}).status_code == 403
    assert surveyor.patch(f"/api/v1/plots/{plot['id']}", json={}).status_code == 422
    campaign = db.session.get(Campaign, campaign_id)
    campaign.starts_on = local_today() - timedelta(days=60)
    campaign.ends_on = local_today() - timedelta(days=1)
    db.session.commit()
    late = surveyor.patch(f"/api/v1/plots/{plot['id']}", json={"notes": "改"})
    assert late.status_code == 409
    assert "campaign_id" in late.get_json()["errors"]


# ---------------------------------------------------------------------------------------------
# Photos


def _jpeg(colour: tuple[int, int, int] = (40, 160, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _upload(api: Any, plot_id: int, data: bytes) -> Any:
    return api.post(
        f"/api/v1/plots/{plot_id}/photos",
        data={"file": (io.BytesIO(data), "plot.jpg")},
        content_type="multipart/form-data",
    )


def test_plot_photos(
    storage_dir: Path, surveyor: Any, api_as: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    first = _upload(surveyor, plot["id"], _jpeg())
    assert first.status_code == 201, first.get_json()
    photo = first.get_json()
    assert photo["plot_id"] == plot["id"] and photo["observation_id"] is None
    assert (photo["width"], photo["height"]) == (640, 480)
    assert _upload(surveyor, plot["id"], _jpeg()).status_code == 200  # the same bytes: the same photo
    assert _upload(surveyor, plot["id"], _jpeg((200, 30, 30))).status_code == 201
    shown = surveyor.get(f"/api/v1/plots/{plot['id']}").get_json()
    assert shown["photos"][0]["id"] == photo["id"]
    assert len(shown["photos"]) == 2
    # The display copy for anyone signed in; the original for the plot's organization only.
    stranger = api_as("surveyor", "agriculture")
    for api, url, status in (
        (stranger, photo["display_url"], 200),
        (stranger, photo["original_url"], 403),
        (surveyor, photo["original_url"], 200),
    ):
        response = api.get(url)
        response.close()  # send_file's file stays open until then
        assert response.status_code == status, url
    # Someone else cannot add photos to it.
    assert _upload(stranger, plot["id"], _jpeg((0, 0, 200))).status_code == 403
    assert _upload(surveyor, plot["id"], b"not an image").status_code == 415


def test_a_plot_photo_sent_again_after_its_campaign_ended_is_the_same_photo(
    storage_dir: Path, make_user: Any, surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    """The photo's answer was lost on the last day of the campaign and the phone retries the next day:
    the server has it, so the retry gets it back (200), not a refusal that keeps it on the phone."""
    campaign_id = _campaign(make_user)
    plot = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    ).get_json()
    first = _upload(surveyor, plot["id"], _jpeg())
    assert first.status_code == 201
    campaign = db.session.get(Campaign, campaign_id)
    campaign.starts_on = local_today() - timedelta(days=60)
    campaign.ends_on = local_today() - timedelta(days=1)
    db.session.commit()
    again = _upload(surveyor, plot["id"], _jpeg())
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _upload(surveyor, plot["id"], _jpeg((200, 30, 30))).status_code == 409  # a new one: too late


def test_a_photo_has_exactly_one_parent(
    storage_dir: Path, surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    photo_id = _upload(surveyor, plot["id"], _jpeg()).get_json()["id"]
    photo = db.session.get(Photo, photo_id)
    photo.observation_id = site["id"]  # a second parent
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# ---------------------------------------------------------------------------------------------
# The site's timeline


def test_the_site_timeline_shows_the_plot_with_its_figures(
    surveyor: Any, web_as: Any, site: dict[str, Any], species_id: Any
) -> None:
    plot = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    history = surveyor.get(f"/api/v1/sites/{site['site_id']}").get_json()
    [entry] = [e for e in history["timeline"] if e["kind"] == "plot"]
    assert entry["id"] == plot["id"]
    weed = expected_figures(WEED)
    # 喜旱莲子草: 3 of 5 quadrats, mean density 24.7 per m², mean cover 37 %.
    # (in Chinese, the API's default language)
    assert f"喜旱莲子草 频度 {weed['frequency_pct']:g}%" in entry["summary"]
    assert f"密度 {round(weed['mean_density_per_m2'], 2):g}/平方米" in entry["summary"]
    assert f"盖度 {round(weed['mean_cover_pct'], 1):g}%" in entry["summary"]
    page = web_as(surveyor.user).get(f"/sites/{site['site_id']}").get_data(as_text=True)
    assert f'data-plot="{plot["id"]}"' in page
    assert "5 个样方" in page
    detail = web_as(surveyor.user).get(f"/plots/{plot['id']}").get_data(as_text=True)
    assert f"{weed['mean_density_per_m2']:.2f}" in detail


def test_the_plot_form_offers_the_running_campaigns_the_surveyor_takes_part_in(
    make_user: Any, surveyor: Any, web_as: Any, site: dict[str, Any]
) -> None:
    mine = _campaign(make_user)
    theirs = _campaign(make_user, "agriculture")
    today = local_today()
    over = _campaign(make_user, starts=today - timedelta(days=60), ends=today - timedelta(days=2))
    web = web_as(surveyor.user)
    page = web.get(f"/sites/{site['site_id']}/plots/new").get_data(as_text=True)
    assert f'<option value="{mine}">' in page
    assert f'value="{theirs}"' not in page and f'value="{over}"' not in page
    chosen = web.get(f"/sites/{site['site_id']}/plots/new?campaign_id={mine}").get_data(as_text=True)
    assert f'<option value="{mine}" selected>' in chosen
    # Another bureau's campaign named in the address is not offered.
    other = web.get(f"/sites/{site['site_id']}/plots/new?campaign_id={theirs}").get_data(as_text=True)
    assert f'value="{theirs}"' not in other
    # ... and the page says the plot will not count for it, the same for a campaign that does not exist.
    assert "您不参加该调查任务" in other
    unknown = web.get(f"/sites/{site['site_id']}/plots/new?campaign_id=2147483647").get_data(as_text=True)
    assert "您不参加该调查任务" in unknown
    assert "您不参加该调查任务" not in chosen


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "99999999999999"])
def test_the_plot_form_refuses_a_malformed_campaign_naming_it(
    surveyor: Any, web_as: Any, site: dict[str, Any], value: str
) -> None:
    response = web_as(surveyor.user).get(f"/sites/{site['site_id']}/plots/new?campaign_id={value}")
    assert response.status_code == 422
    assert "调查任务" in response.get_data(as_text=True)


def test_a_density_contradicting_the_count_is_named_in_chinese(
    surveyor: Any, site: dict[str, Any], species_id: Any
) -> None:
    body = _with_record(plot_body(species_id, site["site_id"]), 0, 0, density_per_m2=0, count=5)
    errors = surveyor.post("/api/v1/plots", json=body).get_json()["errors"]
    assert errors["quadrats.0.records.0.density_per_m2"] == [
        "为每平方米 0，而样方中计数为 5；两者矛盾，请留空以按计数计算密度。"
    ]
    # Both 0 says "looked for, not found"; a density with no count, or a count with no density, stands.
    for figures in ({"density_per_m2": 0, "count": 0}, {"density_per_m2": 2, "count": None}):
        ok = _with_record(plot_body(species_id, site["site_id"]), 0, 0, **figures)
        assert surveyor.post("/api/v1/plots", json=ok).status_code == 201
