"""The census workbook's 样地调查 sheet: a plot with five quadrats, its figures against the test's own."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import openpyxl  # noqa: TID251 -- the test reads the workbook it asked for
import pytest

from app.clock import local_today
from app.exports.models import ExportKind
from app.exports.plot_sheet import plot_rows
from app.exports.rows import Scope
from app.exports.writing import write_export
from app.units import SQUARE_METRES_PER_MU
from tests.conftest import PADDY
from tests.surveys.test_plots import GRASS, SNAIL, WEED, _campaign, expected_figures, plot_body

NAMES = {WEED: "喜旱莲子草", GRASS: "藿香蓟", SNAIL: "福寿螺"}
HOSTILE = '=HYPERLINK("http://evil.example","点我")'


def _sheet(bureau: str, **filters: Any) -> list[dict[str, Any]]:
    buffer = io.BytesIO()
    today = local_today()
    write_export(
        buffer,
        bureau=bureau,
        kind=ExportKind.CENSUS,
        date_from=today - timedelta(days=7),
        date_to=today,
        filters=filters,
        generated_by="测试",
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    ws = book["样地调查"]
    rows = list(ws.iter_rows(values_only=True))
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    headers = rows[0]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:] if row[0] != "合计"]


def test_the_plot_sheet_shows_each_species_figures(
    api_as: Any, make_observation: Any, species_id: Any, make_user: Any
) -> None:
    surveyor = api_as("surveyor")
    site = make_observation(surveyor)
    campaign_id = _campaign(make_user)
    body = plot_body(species_id, site["site_id"], notes=HOSTILE, campaign_id=campaign_id)
    plot = surveyor.post("/api/v1/plots", json=body).get_json()
    empty = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], quadrats=[{"number": 1, "size_m2": 1}])
    ).get_json()

    site_code = surveyor.get(f"/api/v1/sites/{site['site_id']}").get_json()["code"]
    rows = _sheet("forestry")
    mine = [r for r in rows if r["样地编号"] == plot["id"]]
    assert {r["物种名称"] for r in mine} == set(NAMES.values())
    for key, name in NAMES.items():
        (row,) = [r for r in mine if r["物种名称"] == name]
        want = expected_figures(key)
        assert row["频度（%）"] == pytest.approx(want["frequency_pct"])
        assert row["平均密度（株或头/平方米）"] == pytest.approx(want["mean_density_per_m2"])
        if want["mean_cover_pct"] is None:
            assert row["平均盖度（%）"] is None
        else:
            assert row["平均盖度（%）"] == pytest.approx(want["mean_cover_pct"])
        if want["mean_height_cm"] is None:
            assert row["平均高度（厘米）"] is None
        else:
            assert row["平均高度（厘米）"] == pytest.approx(want["mean_height_cm"])
        assert row["总数量"] == want["total_count"]
        assert row["样方数"] == 5
        assert row["样地形状"] == "正方形"
        assert row["样地面积（平方米）"] == 100
        assert row["样地面积（亩）"] == pytest.approx(100 / SQUARE_METRES_PER_MU)
        assert row["发生点编号"] == site_code
        assert row["调查人"] == surveyor.user.display_name
        assert row["调查任务"] == "2026 普查"
        assert row["生境"] == "稻田"
        assert row["备注"] == HOSTILE  # kept as typed, as text: never a formula
    # The plot with no species found is still on the sheet, its species columns empty.
    (bare,) = [r for r in rows if r["样地编号"] == empty["id"]]
    assert bare["物种名称"] is None and bare["样方数"] == 1

    # Another bureau's census does not have them.
    assert _sheet("agriculture") == []


def test_the_notes_cell_is_text_and_the_count_has_a_subtotal(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    surveyor = api_as("surveyor")
    site = make_observation(surveyor)
    surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"], notes=HOSTILE))
    buffer = io.BytesIO()
    write_export(
        buffer,
        bureau="forestry",
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={},
        generated_by="t",
    )
    ws = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["样地调查"]
    headers = [c.value for c in ws[1]]
    notes = headers.index("备注") + 1
    count = headers.index("总数量") + 1
    cell = ws.cell(row=2, column=notes)
    assert cell.data_type == "s" and cell.value == HOSTILE and cell.quotePrefix
    last = ws.max_row
    assert ws.cell(row=last, column=1).value == "合计"
    letter = openpyxl.utils.get_column_letter(count)
    assert ws.cell(row=last, column=count).value == f"=SUBTOTAL(109,{letter}2:{letter}{last - 1})"


def test_a_campaigns_export_has_only_its_plots(
    api_as: Any, make_observation: Any, species_id: Any, make_user: Any
) -> None:
    surveyor = api_as("surveyor")
    site = make_observation(surveyor)
    campaign_id = _campaign(make_user)
    inside = surveyor.post(
        "/api/v1/plots", json=plot_body(species_id, site["site_id"], campaign_id=campaign_id)
    )
    outside = surveyor.post("/api/v1/plots", json=plot_body(species_id, site["site_id"]))
    scope = Scope("forestry", None, None, {"campaign_id": campaign_id})
    assert {r["plot_id"] for r in plot_rows(scope)} == {inside.get_json()["id"]}
    # The workbook of the campaign (POST /api/v1/exports with campaign_id keeps it among the filters).
    assert {r["样地编号"] for r in _sheet("forestry", campaign_id=campaign_id)} == {inside.get_json()["id"]}
    everything = Scope("forestry", None, None, {})
    assert {r["plot_id"] for r in plot_rows(everything)} == {
        inside.get_json()["id"],
        outside.get_json()["id"],
    }
    # A species filter keeps that species' rows of the plots where it was recorded.
    snail = Scope("forestry", None, None, {"species_id": species_id(SNAIL)})
    assert {r["species_name_zh"] for r in plot_rows(snail)} == {"福寿螺"}


def test_a_township_export_has_only_that_townships_plots(
    api_as: Any, make_observation: Any, species_id: Any
) -> None:
    surveyor = api_as("surveyor")
    here = make_observation(surveyor, township_code="500155001")
    there = make_observation(surveyor, latitude=PADDY[0] + 0.05, township_code="500155002")
    assert here["site_id"] != there["site_id"]
    in_t1 = surveyor.post("/api/v1/plots", json=plot_body(species_id, here["site_id"])).get_json()["id"]
    surveyor.post("/api/v1/plots", json=plot_body(species_id, there["site_id"]))
    scope = Scope("forestry", None, None, {"township_code": "500155001"})
    assert {r["plot_id"] for r in plot_rows(scope)} == {in_t1}
