"""Supervisor dashboard: who may see it, whose follow-ups it counts, and months in Asia/Shanghai."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyproj import Geod
from shapely.geometry import shape

from app.dashboard.charts import nice_scale, share
from app.dashboard.services import month_starts
from tests.areas.shapes import square
from tests.conftest import PADDY

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOWNSHIP = "500155001"  # the township of the test paddy (tests/conftest.py)


def _cells(row_html: str) -> list[str]:
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row_html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def _table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table as cell texts; [] when the table is not on the page."""
    match = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    if match is None:
        return []
    return [_cells(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)]


def _month(html: str, table_id: str, month: date) -> list[str]:
    """The figures of one month's row of a data table."""
    pattern = rf'<table id="{table_id}">.*?<tr data-month="{month:%Y-%m}">(.*?)</tr>'
    match = re.search(pattern, html, re.S)
    assert match, f"no row {month:%Y-%m} in {table_id}"
    return _cells(match.group(1))[1:]


def _figure(html: str, name: str) -> int:
    match = re.search(rf'data-figure="{name}"[^>]*>(\d+)<', html)
    assert match, f"no figure {name}"
    return int(match.group(1))


def _local_month(moment: datetime) -> date:
    local = moment.astimezone(SHANGHAI)
    return date(local.year, local.month, 1)


def _page(web: Any, path: str = "/dashboard") -> str:
    response = web.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Who may see it


@pytest.mark.parametrize("role", ["supervisor", "bureau_admin", "admin"])
def test_desk_roles_see_the_dashboard(web_as: Any, role: str) -> None:
    html = _page(web_as(role))
    assert html.count('<svg class="chart columns"') == 2
    assert "<title" in html


@pytest.mark.parametrize("role", ["surveyor", "verifier"])
def test_field_roles_are_refused(web_as: Any, role: str) -> None:
    assert web_as(role).get("/dashboard").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------
# Overdue follow-ups


def test_overdue_counted_by_township_and_assignee(
    api_as: Any, make_user: Any, web_as: Any, treat: Any
) -> None:
    supervisor = make_user("supervisor")  # new follow-ups go to who recorded the treatment
    surveyor = api_as("surveyor")
    ten_days, _ = treat(surveyor, method="chemical", days_ago=10)  # +1, +3, +7 overdue
    treat(surveyor, method="chemical", days_ago=7)  # +1, +3 overdue, +7 due today
    moved = ten_days["follow_ups"][0]
    response = api_as(supervisor).patch(
        f"/api/v1/follow-ups/{moved['id']}", json={"assignee_id": supervisor.id}
    )
    assert response.status_code == 200, response.get_json()
    done = ten_days["follow_ups"][1]
    response = api_as(supervisor).post(
        f"/api/v1/follow-ups/{done['id']}/complete",
        json={
            "observation": {
                "client_uuid": str(uuid.uuid4()),
                "observed_at": datetime.now(UTC).isoformat(),
                "latitude": 30.6712,
                "longitude": 107.8003,
                "accuracy_m": 5,
                "township_code": TOWNSHIP,
                "density_per_m2": 2.0,
            }
        },
    )
    assert response.status_code == 200, response.get_json()

    web = web_as(supervisor)
    html = _page(web)
    assert _figure(html, "overdue") == 4  # 3 + 2, less the one completed
    assert _figure(html, "due-today") == 1
    [township] = _table(html, "overdue-by-township")
    assert township[1] == "4"
    org = supervisor.organization.code  # the links list what the figures count: this organization's
    assert (
        f'href="/follow-ups?scope=all&amp;overdue=1&amp;organization={org}&amp;township_code={TOWNSHIP}"'
        in html
    )
    assert _table(html, "overdue-by-assignee") == [
        [surveyor.user.display_name, "3", ""],
        [supervisor.display_name, "1", ""],
    ]
    assert (
        f'href="/follow-ups?scope=all&amp;overdue=1&amp;organization={org}&amp;assignee_id={surveyor.user.id}"'
        in html
    )
    link = f"/follow-ups?scope=all&overdue=1&organization={org}&assignee_id={supervisor.id}"
    assert link.replace("&", "&amp;") in html
    listed = web.get(link)  # the count's link opens the list of exactly those follow-ups
    assert listed.status_code == 200
    assert f'href="/follow-ups/{moved["id"]}"' in listed.get_data(as_text=True)
    # The longest row has the full bar, the other its share.
    assert re.findall(r'<rect class="bar-warn" x="0" y="0" width="([\d.]+)"', html) == [
        "100.0",
        "100.0",
        "33.3",
    ]


def test_a_supervisor_sees_only_their_own_organization(
    api_as: Any, make_user: Any, web_as: Any, treat: Any
) -> None:
    treat(api_as("surveyor", "forestry"), method="chemical", days_ago=10, area_m2=2000)
    agriculture = web_as("supervisor", "agriculture")
    html = _page(agriculture)
    assert _figure(html, "overdue") == 0
    assert _table(html, "overdue-by-township") == []
    assert _table(html, "overdue-by-assignee") == []
    months = month_starts(datetime.now(SHANGHAI).date())
    assert [_month(html, "treated-area-by-month", m)[0] for m in months] == ["0.00"] * 12
    assert agriculture.get("/dashboard?organization=forestry").status_code == 403
    assert agriculture.get("/dashboard?organization=agriculture").status_code == 200
    assert _figure(_page(web_as("supervisor", "forestry")), "overdue") == 3
    assert _figure(_page(web_as("bureau_admin", "forestry")), "overdue") == 3


def test_an_admin_sees_every_organization_or_picks_one(api_as: Any, web_as: Any, treat: Any) -> None:
    treat(api_as("surveyor", "forestry"), method="chemical", days_ago=10)
    treat(api_as("surveyor", "agriculture"), method="chemical", days_ago=10)
    admin = web_as("admin", "forestry")
    html = _page(admin)
    assert _figure(html, "overdue") == 6
    assert '<option value="agriculture"' in html
    assert _figure(_page(admin, "/dashboard?organization=agriculture"), "overdue") == 3
    assert admin.get("/dashboard?organization=nobody").status_code == 422


# ---------------------------------------------------------------------------------------------
# Monthly trends


def test_observations_are_counted_in_shanghai_months(
    api_as: Any, web_as: Any, make_observation: Any, species_id: Any
) -> None:
    today = datetime.now(SHANGHAI).date()
    this_month = date(today.year, today.month, 1)
    month = date(this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 1)
    earlier = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    # The first local midnight of `month`: 16:00 UTC on the last day of the month before.
    boundary = datetime(month.year, month.month, 1, tzinfo=SHANGHAI).astimezone(UTC)
    api = api_as("surveyor")
    absence = {"detected": False, "density_per_m2": None, "egg_masses_per_m2": None, "area_m2": None}
    # 20:00 UTC on the last day of the earlier month is already `month` in Shanghai.
    make_observation(api, observed_at=(boundary + timedelta(hours=4)).isoformat().replace("+00:00", "Z"))
    make_observation(api, observed_at=(boundary + timedelta(hours=5)).isoformat(), **absence)
    make_observation(api, observed_at=(boundary - timedelta(hours=1)).isoformat())
    assert (boundary + timedelta(hours=4)).month == earlier.month  # the UTC month differs

    web = web_as("supervisor", "agriculture")  # the census is shared by every organization
    html = _page(web)
    assert _month(html, "observations-by-month", month) == ["1", "1"]
    assert _month(html, "observations-by-month", earlier) == ["1", "0"]
    assert _month(html, "observations-by-month", this_month) == ["0", "0"]
    web.post("/language", data={"lang": "en", "next": "/"})
    english = _page(web)
    assert f"<title>{month:%Y-%m} · Presence: 1</title>" in english  # the column's tooltip
    assert f"<title>{month:%Y-%m} · Absence: 1</title>" in english

    other = _page(web, f"/dashboard?species_id={species_id('eichhornia-crassipes')}")
    assert _month(other, "observations-by-month", month) == ["0", "0"]
    same = _page(web, f"/dashboard?species_id={species_id('pomacea-canaliculata')}")
    assert _month(same, "observations-by-month", month) == ["1", "1"]
    assert web.get("/dashboard?species_id=snail").status_code == 422
    assert web.get("/dashboard?species_id=999999").status_code == 404


def test_rejected_records_are_left_out_of_the_trend(api_as: Any, web_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"))
    kept = make_observation(api_as("surveyor"))
    response = api_as("verifier").post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "rejected", "comment": "not a snail"}
    )
    assert response.status_code == 200, response.get_json()
    html = _page(web_as("supervisor"))
    observed = datetime.fromisoformat(kept["observed_at"])
    assert _month(html, "observations-by-month", _local_month(observed)) == ["1", "0"]


def test_treated_area_is_shown_in_mu_by_month(api_as: Any, web_as: Any, treat: Any) -> None:
    surveyor = api_as("surveyor")
    first, _ = treat(surveyor, days_ago=10, area_m2=2000)  # 3 亩
    treat(surveyor, days_ago=10, area_m2=1000)  # 1.5 亩
    old, _ = treat(surveyor, days_ago=100, area_m2=6666.7)  # 10 亩
    html = _page(web_as("supervisor"))
    recent = _local_month(datetime.fromisoformat(first["performed_at"]))
    earlier = _local_month(datetime.fromisoformat(old["performed_at"]))
    assert _month(html, "treated-area-by-month", recent) == ["4.50"]
    assert _month(html, "treated-area-by-month", earlier) == ["10.00"]
    total = re.search(r'<table id="treated-area-by-month">.*?<tfoot>(.*?)</tfoot>', html, re.S)
    assert total is not None
    assert _cells(total.group(1))[1] == "14.50"
    # Summed over operations, as the census's 防治面积（亩次）, not the distinct extent (防治范围（亩）).
    assert '<th scope="col" class="num">防治面积（亩次）</th>' in html
    assert "每月防治面积（亩次）" in html


def test_treated_area_by_month_counts_a_drawn_polygon_as_the_census_does(
    api_as: Any, web_as: Any, treat: Any
) -> None:
    """An operation typed as 2,000 m² with a 60 m square drawn: the month's figure is the square's area,
    as the census figure above it and GET /api/v1/census/summary count it (it was the typed 3 亩)."""
    lat, lon = PADDY
    polygon = square(lon, lat, 60)
    first, _ = treat(api_as("surveyor"), days_ago=0, area_m2=2000, geometry=polygon)
    drawn_mu = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape(polygon))[0]) / (10000 / 15)
    html = _page(web_as("supervisor"))
    month = _local_month(datetime.fromisoformat(first["performed_at"]))
    assert _month(html, "treated-area-by-month", month) == [f"{drawn_mu:.2f}"]
    census = re.search(r'data-figure="census-treated">([\d.,]+)<', html)
    assert census is not None and census.group(1) == f"{drawn_mu:.2f}"


def test_query_count_does_not_grow_with_the_rows(
    api_as: Any, web_as: Any, treat: Any, make_observation: Any, count_queries: Any
) -> None:
    surveyor = api_as("surveyor")
    treat(surveyor, days_ago=10)
    web = web_as("admin")
    web.get("/dashboard")
    with count_queries() as few:
        _page(web)
    for days in (3, 40, 70, 200):
        treat(api_as("surveyor", "agriculture"), days_ago=days)
        make_observation(surveyor, observed_at=(datetime.now(UTC) - timedelta(days=days)).isoformat())
    with count_queries() as many:
        html = _page(web)
    assert _figure(html, "overdue") > 3
    # The ceiling counts what a page costs besides its figures: the server-side session check and the
    # header's unread count take one statement each; the running survey campaigns one more (none here:
    # each running campaign adds its coverage's own few statements, app/dashboard/campaigns.py).
    assert len(many) == len(few) <= 12


# ---------------------------------------------------------------------------------------------
# Drawing


def test_charts_are_accessible_svg_without_inline_styles(web_as: Any) -> None:
    html = _page(web_as("supervisor"))
    assert "style=" not in html
    assert "<script>" not in html
    for chart in ("observations-chart", "area-chart"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert f'<title id="{chart}-title">' in html
    assert '<table id="observations-by-month">' in html
    assert '<table id="treated-area-by-month">' in html


def test_axis_steps_are_round_numbers() -> None:
    assert nice_scale(0, whole=True) == (1.0, 1.0)
    assert nice_scale(3, whole=True) == (3.0, 1.0)
    assert nice_scale(37, whole=True) == (40.0, 10.0)
    assert nice_scale(4.5, whole=False) == (6.0, 2.0)
    assert share(1, 3) == 33.3
    assert share(0, 0) == 0.0


def test_months_run_back_a_year_across_new_year() -> None:
    months = month_starts(date(2026, 2, 10))
    assert months[0] == date(2025, 3, 1)
    assert months[-1] == date(2026, 2, 1)
    assert len(months) == 12
