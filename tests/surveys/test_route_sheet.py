"""The census workbook for a survey campaign (docs/census.md, Survey campaigns): the 踏查记录 sheet (one row
per route, with its records and species found counted here again from the records), the cover naming the
campaign, the records narrowed to it, and `campaign_id` refused with a 422 naming it when unknown or
another bureau's."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import pytest
import sqlalchemy as sa

from app.clock import local_today
from app.exports.models import Export, ExportKind
from app.exports.writing import write_export
from app.extensions import db
from app.observations.models import ReviewStatus
from tests.surveys.coverage_fixtures import add_record, add_route, add_unit, make_campaign

WEED = "alternanthera-philoxeroides"  # 喜旱莲子草


def _table(book: Any, title: str) -> list[dict[str, Any]]:
    rows = list(book[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[0] != "合计"]


def _cover(book: Any) -> dict[str, Any]:
    return {row[0]: row[1] for row in book["封面"].iter_rows(min_row=2, values_only=True)}


@pytest.fixture
def season(make_user: Any, api_as: Any, make_observation: Any, species_id: Any) -> dict[str, Any]:
    admin = make_user("bureau_admin", display_name="林业局管理员")
    a = make_user("surveyor", display_name="张三")
    campaign = make_campaign(admin, name="2026 年林业普查")
    elsewhere = make_campaign(
        make_user("bureau_admin", organization="agriculture"), name="农业普查", organization="agriculture"
    )
    unit = add_unit(campaign, "500155001001", assignee=a)
    walked = add_route(
        campaign, a, [(107.80, 30.67), (107.801, 30.671)], unit=unit, length_m=3250.0, paused_s=30
    )
    stray = add_route(None, a, [(107.80, 30.67), (107.802, 30.672)], length_m=800.0)
    api = api_as(a)
    verified = ReviewStatus.VERIFIED
    along = [
        add_record(make_observation, api, lon=107.8002, lat=30.6702, route=walked, status=verified),
        add_record(
            make_observation,
            api,
            lon=107.8004,
            lat=30.6704,
            route=walked,
            status=verified,
            species_id=species_id(WEED),
            detected=False,
            area_m2=None,
            density_per_m2=None,
            egg_masses_per_m2=None,
        ),
        # A rejected record along the route is not in a verified-only workbook.
        add_record(
            make_observation, api, lon=107.8006, lat=30.6706, route=walked, status=ReviewStatus.REJECTED
        ),
    ]
    named = add_record(make_observation, api, lon=107.8008, lat=30.6708, campaign=campaign, status=verified)
    outside = add_record(make_observation, api, lon=107.8010, lat=30.6710, status=verified)
    return {
        "admin": admin,
        "campaign": campaign,
        "elsewhere": elsewhere,
        "walked": walked,
        "stray": stray,
        "along": along,
        "named": named,
        "outside": outside,
    }


def _workbook(campaign_id: int | None) -> Any:
    today = local_today()
    buffer = io.BytesIO()
    filters: dict[str, Any] = {"statuses": ["verified"]}
    if campaign_id is not None:
        filters["campaign_id"] = campaign_id
    write_export(
        buffer,
        bureau="forestry",
        kind=ExportKind.CENSUS,
        date_from=today - timedelta(days=1),
        date_to=today,
        filters=filters,
        generated_by="林业局管理员",
    )
    return openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))


def test_a_campaigns_workbook(season: dict[str, Any]) -> None:
    book = _workbook(season["campaign"].id)
    cover = _cover(book)
    campaign = season["campaign"]
    window = f"{campaign.starts_on.isoformat()}—{campaign.ends_on.isoformat()}"
    assert cover["调查任务"].startswith(f"2026 年林业普查（普查，{window}")
    assert "调查任务：2026 年林业普查" in cover["筛选条件"]

    # Only the campaign's records: those along its route (verified) and the one naming it.
    records = _table(book, "调查记录")
    expected = {season["along"][0].id, season["along"][1].id, season["named"].id}
    assert sorted(row["记录编号"] for row in records) == sorted(expected)

    (route,) = _table(book, "踏查记录")
    walked = season["walked"]
    assert route["路线编号"] == walked.id
    assert route["调查任务"] == "2026 年林业普查"
    assert route["调查单元"] == "梁山街道南华社区" and route["单元代码"] == "500155001001"
    assert route["调查人"] == "张三"
    assert route["路线长度（千米）"] == pytest.approx(walked.length_m / 1000)
    # The effort: the moving time, the pause left out (docs/surveys.md, Routes).
    assert walked.moving_s == walked.duration_s - 30
    assert route["用时（分钟）"] == pytest.approx(walked.moving_s / 60, abs=0.1)
    # Records along it in the workbook (the rejected one is not), and the species found present.
    in_book = [r for r in season["along"] if r.status is ReviewStatus.VERIFIED]
    assert route["记录数"] == len(in_book)
    assert route["发现物种"] == "、".join(sorted({r.species.name_zh for r in in_book if r.detected}))


def test_a_bureaus_workbook_has_every_route(season: dict[str, Any]) -> None:
    book = _workbook(None)
    routes = {row["路线编号"]: row for row in _table(book, "踏查记录")}
    assert set(routes) == {season["walked"].id, season["stray"].id}
    assert routes[season["stray"].id]["调查任务"] is None and routes[season["stray"].id]["记录数"] == 0
    assert "调查任务" not in _cover(book)
    assert len(_table(book, "调查记录")) == 4  # the verified ones, campaign or not


def test_post_exports_takes_the_bureaus_campaign(season: dict[str, Any], api_as: Any) -> None:
    api = api_as(season["admin"])
    body = {"kind": "census", "bureau": "forestry", "campaign_id": season["campaign"].id}
    started = api.post("/api/v1/exports", json=body)
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["filters"]["campaign_id"] == season["campaign"].id
    export = db.session.get(Export, started.get_json()["id"])
    assert export is not None and export.filters["campaign_id"] == season["campaign"].id

    for campaign_id in (season["elsewhere"].id, 987654):
        refused = api.post("/api/v1/exports", json={**body, "campaign_id": campaign_id})
        assert refused.status_code == 422, refused.get_json()
        assert list(refused.get_json()["errors"]) == ["campaign_id"]
    assert api.post("/api/v1/exports", json={**body, "campaign_id": "x"}).status_code == 422
    count = db.session.scalar(sa.select(sa.func.count(Export.id)))
    assert count == 1  # nothing kept of the refused requests

    # The district's census (an admin) may name any bureau's campaign.
    district = api_as("admin").post(
        "/api/v1/exports", json={**body, "bureau": "district", "campaign_id": season["elsewhere"].id}
    )
    assert district.status_code == 202, district.get_json()


def test_the_export_page_offers_the_bureaus_campaigns(season: dict[str, Any], web_as: Any) -> None:
    web = web_as(season["admin"])
    page = web.get("/exports").get_data(as_text=True)
    assert "2026 年林业普查" in page and "农业普查" not in page
    response = web.post(
        "/exports",
        data={
            "kind": "census",
            "bureau": "forestry",
            "campaign": str(season["campaign"].id),
            "statuses": "verified",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    export = db.session.scalars(sa.select(Export).order_by(Export.id.desc())).first()
    assert export is not None and export.filters["campaign_id"] == season["campaign"].id
