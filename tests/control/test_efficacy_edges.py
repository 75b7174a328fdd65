"""Efficacy edges: Henderson–Tilton without a before-figure, re-inspections dated before their treatment
or made far from their site, and when a re-inspection counts as completed."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import sqlalchemy as sa

from app.control.efficacy import CHECK_BEFORE_ZERO, henderson_tilton_gap, henderson_tilton_pct
from app.control.models import FollowUp
from app.extensions import db
from app.geo.crs import distance_m
from app.observations.models import Observation
from tests.conftest import PADDY
from tests.control.fieldwork import visit

LAT, LON = PADDY


def _completion(**observation: Any) -> dict[str, Any]:
    return {"observation": visit(**observation)}


def test_henderson_tilton_is_not_computed_on_a_before_figure_of_zero() -> None:
    # CK 0 → 5, T 20 → 3: the formula would say 1 − (0 × 3) / (5 × 20) = 100 %, which means nothing.
    assert henderson_tilton_pct(20, 3, 0, 5) is None
    assert henderson_tilton_gap(20, 3, 0, 5) == CHECK_BEFORE_ZERO
    assert henderson_tilton_pct(0, 3, 18, 24) is None
    assert henderson_tilton_gap(0, 3, 18, 24) == "treated_before_zero"
    assert henderson_tilton_gap(20, 3, 18, 24) is None


def test_check_plot_with_none_before_gives_null_with_a_reason_in_the_answer_and_on_the_page(
    api_as: Any, web_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=LAT + 0.01, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=0.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    make_observation(
        api, latitude=LAT + 0.01, observed_at=(now - timedelta(hours=3)).isoformat(), density_per_m2=5.0
    )
    first = operation["follow_ups"][0]
    response = api.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json=_completion(density_per_m2=3.0),
        headers={"Accept-Language": "zh"},
    )
    assert response.status_code == 200, response.get_json()
    efficacy = response.get_json()["efficacy"]
    assert efficacy["check"] == {"site_id": check["site_id"], "before": 0.0, "after": 5.0}
    assert efficacy["corrected_efficacy_pct"] is None  # not 100 %
    assert efficacy["corrected_efficacy_reason"] == "check_before_zero"
    assert efficacy["corrected_efficacy_reason_text"] == "对照区防治前密度为 0"
    assert efficacy["density_reduction_pct"] == 85.0  # the plain reduction still stands: (20 − 3) / 20
    english = api.get(f"/api/v1/follow-ups/{first['id']}", headers={"Accept-Language": "en"}).get_json()
    assert english["efficacy"]["corrected_efficacy_reason_text"] == (
        "the check plot's density before treatment was 0"
    )

    page = web_as(api.user).get(f"/follow-ups/{first['id']}").get_data(as_text=True)
    assert "data-corrected-efficacy-gap" in page and "对照区防治前密度为 0" in page


def test_without_a_check_plot_the_reason_says_so(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    first = operation["follow_ups"][0]
    body = _completion(density_per_m2=3.0)
    done = api.post(f"/api/v1/follow-ups/{first['id']}/complete", json=body).get_json()
    assert done["efficacy"]["corrected_efficacy_pct"] is None
    assert done["efficacy"]["corrected_efficacy_reason"] == "no_check_plot"


def test_a_re_inspection_observed_before_its_treatment_is_refused_and_nothing_is_written(
    api_as: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    first = operation["follow_ups"][0]
    performed = datetime.fromisoformat(operation["performed_at"])
    observations_before = db.session.scalar(sa.select(sa.func.count()).select_from(Observation))
    body = _completion(observed_at=(performed - timedelta(hours=1)).isoformat(), density_per_m2=0.5)
    response = api.post(
        f"/api/v1/follow-ups/{first['id']}/complete", json=body, headers={"Accept-Language": "zh"}
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == ["observation.observed_at"]
    assert "早于" in errors["observation.observed_at"][0]  # in the user's language
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == observations_before
    again = api.get(f"/api/v1/follow-ups/{first['id']}").get_json()
    assert again["status"] == "pending" and again["efficacy"] is None

    # One minute after the treatment is fine, and it counts as completed when it was observed.
    observed = performed + timedelta(minutes=1)
    done = api.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json=_completion(observed_at=observed.isoformat(), density_per_m2=0.5),
    )
    assert done.status_code == 200, done.get_json()
    assert datetime.fromisoformat(done.get_json()["completed_at"]) == observed


def test_a_far_re_inspection_is_flagged_and_left_out_until_a_supervisor_accepts_it(
    api_as: Any, web_as: Any, make_user: Any, treat: Any, app: Any
) -> None:
    supervisor = make_user("supervisor")
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    first, second = operation["follow_ups"][:2]
    # 0.01° of latitude is about 1.1 km: far beyond 3 × the 30 m site radius.
    far = _completion(latitude=LAT + 0.01, density_per_m2=3.0)
    response = api.post(f"/api/v1/follow-ups/{first['id']}/complete", json=far)
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    expected = distance_m(LON, LAT + 0.01, LON, LAT)
    assert 1000 < expected < 1200
    assert abs(done["distance_m"] - expected) < 1
    assert done["far_from_site"] is True and done["far_accepted_at"] is None
    assert done["efficacy"] is None  # left out of efficacy

    # Close by (10 m, inside 90 m): counted at once.
    near = api.post(
        f"/api/v1/follow-ups/{second['id']}/complete",
        json=_completion(latitude=LAT + 0.00009, density_per_m2=2.0),
    ).get_json()
    assert near["far_from_site"] is False and near["efficacy"]["density_reduction_pct"] == 90.0

    assert api.post(f"/api/v1/follow-ups/{first['id']}/accept").status_code == 403  # a surveyor
    other = api_as("supervisor", "agriculture")
    assert other.post(f"/api/v1/follow-ups/{first['id']}/accept").status_code == 403
    boss = api_as(supervisor)
    assert boss.post(f"/api/v1/follow-ups/{second['id']}/accept").status_code == 409  # not far

    page = web_as(supervisor).get(f"/follow-ups/{first['id']}").get_data(as_text=True)
    assert "data-far-from-site" in page and 'value="accept_far"' in page
    accepted = boss.post(f"/api/v1/follow-ups/{first['id']}/accept")
    assert accepted.status_code == 200, accepted.get_json()
    body = accepted.get_json()
    assert body["far_accepted_by_id"] == supervisor.id
    assert body["efficacy"]["density_reduction_pct"] == 85.0  # (20 − 3) / 20, now counted
    again = boss.post(f"/api/v1/follow-ups/{first['id']}/accept").get_json()
    assert again["far_accepted_at"] == body["far_accepted_at"]  # accepting twice changes nothing


def test_the_follow_up_page_accepts_a_far_re_inspection(
    api_as: Any, web_as: Any, make_user: Any, treat: Any
) -> None:
    supervisor = make_user("supervisor")
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    first = operation["follow_ups"][0]
    far = _completion(latitude=LAT + 0.01, density_per_m2=3.0)
    assert api.post(f"/api/v1/follow-ups/{first['id']}/complete", json=far).status_code == 200
    surveyor_page = web_as(api.user).get(f"/follow-ups/{first['id']}").get_data(as_text=True)
    assert 'value="accept_far"' not in surveyor_page
    web = web_as(supervisor)
    response = web.post(f"/follow-ups/{first['id']}", data={"action": "accept_far"})
    assert response.status_code == 302
    db.session.expire_all()
    follow_up = db.session.get(FollowUp, first["id"])
    assert follow_up is not None and follow_up.far_accepted_by_id == supervisor.id
    assert follow_up.efficacy is not None and follow_up.efficacy["density_reduction_pct"] == 85.0


def test_the_workbook_shows_cover_reduction_and_the_observed_completion_time(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    from app.exports import writing
    from app.exports.models import ExportKind

    api = api_as("surveyor", "agriculture")
    now = datetime.now(UTC)
    weed = species_id("alternanthera-philoxeroides")
    baseline = make_observation(
        api,
        species_id=weed,
        observed_at=(now - timedelta(days=20)).isoformat(),
        cover_pct=80.0,
        density_per_m2=None,
        egg_masses_per_m2=None,
    )
    response = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "observation_id": baseline["id"],
            "method": "manual_removal",
            "performed_at": (now - timedelta(days=19)).isoformat(),
            "details": {"fresh_weight_kg": 40},
            "follow_up_days": [15],
        },
    )
    assert response.status_code == 201, response.get_json()
    follow_up = next(f for f in response.get_json()["follow_ups"] if f["offset_days"] == 15)
    observed = (now - timedelta(days=3)).replace(microsecond=0)
    done = api.post(
        f"/api/v1/follow-ups/{follow_up['id']}/complete",
        json=_completion(observed_at=observed.isoformat(), cover_pct=20.0),
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["efficacy"]["cover_reduction_pct"] == 75.0  # (80 − 20) / 80

    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau="agriculture",
        kind=ExportKind.FOLLOW_UPS,
        date_from=None,
        date_to=None,
        filters={},
        generated_by="测试",
    )
    data = buffer.getvalue()
    sheet = openpyxl.load_workbook(io.BytesIO(data))["复查记录"]
    headers = [c.value for c in sheet[1]]
    assert headers.index("盖度下降率（%）") == headers.index("卵块减退率（%）") + 1
    site, days = headers.index("样点编号"), headers.index("防治后天数")
    rows = sheet.iter_rows(min_row=2, values_only=True)
    row = next(r for r in rows if r[site] == follow_up["site_code"] and r[days] == 15)
    assert row[headers.index("盖度下降率（%）")] == 75.0
    completed = row[headers.index("完成时间")]
    assert completed == observed.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=8)
