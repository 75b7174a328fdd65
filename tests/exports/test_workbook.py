"""Census workbooks written from a template and read back: layout, types, totals, hostile text, the reader.

Workbooks are opened with openpyxl in normal mode, as a person's spreadsheet program would see them.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 - tests inspect the workbooks
import pytest
from openpyxl.utils import get_column_letter  # noqa: TID251
from openpyxl.worksheet._write_only import WriteOnlyWorksheet  # noqa: TID251
from openpyxl.worksheet._writer import ALL_TEMP_FILES  # noqa: TID251

from app.exports.layouts import SOURCES, Template, load_template, parse_template
from app.exports.reader import ReaderError, SheetRow, read_census, write_row_report
from app.exports.workbook import PROGRESS_EVERY, write_census

LOCAL = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991
WHEN = datetime(2024, 5, 1, 10, 12, 13, tzinfo=LOCAL)

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-1+2",
    "=1+1",
    "#N/A",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(1)",
]


# --- Rows as the export job hands them over -----------------------------------------------------------


def observation(i: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "client_uuid": f"00000000-0000-4000-8000-{i:012d}",
        "observed_at": WHEN + timedelta(hours=i),
        "species_name_zh": "福寿螺",
        "species_name_sci": "Pomacea canaliculata",
        "detected": i % 2 == 1,
        "township_code": "500155001",
        "township_name": "梁山街道",
        "village_code": "500155001001",
        "village_name": "南华社区",
        "place_name": f"文化村{i}组",
        "latitude": round(30.671234 + i / 1e6, 6),  # Excel keeps 15 significant digits
        "longitude": 107.800312,
        "accuracy_m": 6.5,
        "altitude_m": 452.3 if i % 3 else None,
        "position_source": "gps",
        "habitat_class": "耕地",
        "habitat": "稻田",
        "area_m2": 1333.4,
        "area_mu": 2.0 + i,
        "cover_pct": 35.5,
        "density_per_m2": 12.25,
        "egg_masses_per_m2": 3.0,
        "count": 17 + i,
        "severity": "中等发生",
        "status": "verified",
        "site_code": f"S-{i:04d}",
        "surveyor": "张三",
        "organization": "梁平区林业局",
        "flags": "",
        "notes": None,
    }
    row.update(changes)
    return row


def control_operation(i: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "client_uuid": f"10000000-0000-4000-8000-{i:012d}",
        "performed_at": WHEN + timedelta(days=i),
        "site_code": f"S-{i:04d}",
        "species_name_zh": "福寿螺",
        "method_code": "chemical",
        "method_name": "化学防治",
        "township_name": "梁山街道",
        "area_m2": 2000.0,
        "area_mu": 3.0,
        "labour_person_days": 1.5,
        "cost_yuan": 320.0 + i,
        "team": "梁山街道农技站",
        "details": "四聚乙醛 PD20101234，500 克/亩",
        "operator": "李四",
        "organization": "梁平区农业农村委",
        "follow_ups": "+1、+3、+7 天",
        "notes": None,
    }
    row.update(changes)
    return row


def follow_up(i: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "site_code": f"S-{i:04d}",
        "species_name_zh": "福寿螺",
        "township_name": "梁山街道",
        "kind": "复查",
        "offset_days": 7,
        "due_on": date(2024, 5, 8) + timedelta(days=i),
        "status": "已完成" if i % 2 else "待复查",
        "overdue": i % 2 == 0,
        "assignee": "王五",
        "completed_at": WHEN + timedelta(days=7) if i % 2 else None,
        "density_reduction_pct": 72.5 if i % 2 else None,
        "egg_mass_reduction_pct": 60.0 if i % 2 else None,
        "cover_reduction_pct": 40.0 if i % 2 else None,
        "corrected_efficacy_pct": 68.25 if i % 2 else None,
    }
    row.update(changes)
    return row


def survey_route(i: int = 1) -> dict[str, Any]:
    return {
        "id": i,
        "client_uuid": f"00000000-0000-4000-8000-{i:012d}",
        "campaign": "2024 年普查",
        "unit_code": "500155001001",
        "unit_name": "梁山街道南华社区",
        "township_name": "梁山街道",
        "date": date(2024, 5, 2),
        "started_at": WHEN,
        "ended_at": WHEN + timedelta(hours=2),
        "surveyor": "张三",
        "organization": "梁平区林业局",
        "length_km": 3.25,
        "duration_min": 120.0,
        "point_count": 480,
        "poor_point_count": 3,
        "records": 4,
        "species_found": "福寿螺、空心莲子草",
        "notes": None,
    }


SUMMARIES: dict[str, list[dict[str, Any]]] = {
    "species_summary": [
        {
            "species_name_zh": "福寿螺",
            "species_name_sci": "Pomacea canaliculata",
            "townships": 3,
            "points": 12,
            "area_mu": 20.5,
            "max_severity": "偏重发生",
        },
        {
            "species_name_zh": "喜旱莲子草",
            "species_name_sci": "Alternanthera philoxeroides",
            "townships": 1,
            "points": 2,
            "area_mu": 1.25,
            "max_severity": "轻发生",
        },
    ],
    "category_summary": [
        {
            "category_name": "林草外来入侵植物",
            "category_code": "fg_plant",
            "species": 1,
            "species_names": "喜旱莲子草",
            "points": 2,
            "area_mu": 1.25,
            "townships": 1,
        },
    ],
    "species_township": [
        {
            "species_name_zh": "福寿螺",
            "species_name_sci": "Pomacea canaliculata",
            "township_name": "梁山街道",
            "points": 10,
            "area_mu": 18.0,
            "max_severity": "偏重发生",
        }
    ],
    "control_by_method": [
        {
            "species_name_zh": "福寿螺",
            "method_name": "化学防治",
            "operations": 5,
            "area_mu": 15.0,
            "extent_mu": 6.0,
            "labour_person_days": 7.5,
            "cost_yuan": 1600.0,
        },
        {
            "species_name_zh": "福寿螺",
            "method_name": "人工捡螺",
            "operations": 2,
            "area_mu": 4.0,
            "extent_mu": 2.0,
            "labour_person_days": 6.0,
            "cost_yuan": 900.0,
        },
    ],
    "control_by_township": [
        {
            "township_name": "梁山街道",
            "township_code": "500155001",
            "operations": 7,
            "area_mu": 19.0,
            "extent_mu": 8.0,
            "labour_person_days": 13.5,
            "cost_yuan": 2500.0,
        },
    ],
    "township_summary": [
        {
            "township_name": "梁山街道",
            "township_code": "500155001",
            "species": "福寿螺、喜旱莲子草",
            "points": 14,
            "area_mu": 21.75,
            "control_area_mu": 19.0,
            "reinspections_due": 10,
            "reinspections_done": 6,
            "reinspections_overdue": 1,
        },
        {
            "township_name": "礼让镇",
            "township_code": "500155101",
            "species": "福寿螺",
            "points": 2,
            "area_mu": 3.0,
            "control_area_mu": 0.0,
            "reinspections_due": 0,
            "reinspections_done": 0,
            "reinspections_overdue": 0,
        },
    ],
    "follow_up_summary": [
        {
            "species_name_zh": "福寿螺",
            "total": 10,
            "done": 6,
            "pending": 3,
            "overdue": 1,
            "cancelled": 0,
            "completion_pct": 60.0,
            "mean_density_reduction_pct": 71.2,
        }
    ],
    "plots": [
        {
            "plot_id": 1,
            "site_code": "500155101-0001",
            "township_name": "梁山街道",
            "surveyed_at": datetime(2024, 6, 3, 10, 0, tzinfo=LOCAL),
            "surveyor": "张三",
            "organization": "梁平区林业局",
            "campaign": "2024 普查",
            "shape": "正方形",
            "area_m2": 100.0,
            "area_mu": 0.15,
            "quadrats": 5,
            "quadrat_area_m2": 5.0,
            "habitat": "稻田",
            "latitude": 30.674,
            "longitude": 107.801,
            "species_name_zh": "喜旱莲子草",
            "species_name_sci": "Alternanthera philoxeroides",
            "quadrats_present": 3,
            "frequency_pct": 60.0,
            "mean_density_per_m2": 24.7,
            "mean_cover_pct": 37.0,
            "mean_height_cm": 35.8,
            "total_count": 123,
            "notes": "=cmd|' /C calc'!A0",
        }
    ],
}

COVER = [
    ("行政区", "梁平区（500155）"),
    ("填报单位", "梁平区林业局"),
    ("统计时段", "2024-04-01—2024-06-30"),
    ("筛选条件", "=cmd|' /C calc'!A0"),
    ("生成时间", datetime(2024, 7, 1, 9, 30, tzinfo=LOCAL)),
    ("生成人", "admin"),
    ("坐标系", "EPSG:4490 (CGCS2000) / WGS-84"),
]


def all_rows(observations: int = 5, operations: int = 3, follow_ups: int = 4) -> dict[str, list[Any]]:
    return {
        "observations": [observation(i) for i in range(1, observations + 1)],
        "control_operations": [control_operation(i) for i in range(1, operations + 1)],
        "follow_ups": [follow_up(i) for i in range(1, follow_ups + 1)],
        "survey_routes": [survey_route()],
        **SUMMARIES,
    }


@pytest.fixture
def forestry() -> Template:
    return load_template("forestry")


def write(template: Template, rows: dict[str, Any], **kwargs: Any) -> tuple[dict[str, int], Any, bytes]:
    buffer = io.BytesIO()
    counts = write_census(buffer, template, cover=kwargs.pop("cover", COVER), rows=rows, **kwargs)
    data = buffer.getvalue()
    return counts, openpyxl.load_workbook(io.BytesIO(data)), data


def column_of(template: Template, sheet_key: str, field: str) -> int:
    columns = template.sheet(sheet_key).columns
    return next(index for index, column in enumerate(columns, 1) if column.field == field)


def test_openpyxl_writes_with_lxml() -> None:
    assert openpyxl.xml.LXML is True


def test_the_sample_rows_have_exactly_the_source_fields() -> None:
    rows = all_rows()
    for source, fields in SOURCES.items():
        for row in rows[source]:
            assert set(row) == set(fields.fields), source


# --- Layout -------------------------------------------------------------------------------------------


def test_sheets_come_in_the_template_order_after_the_cover(forestry: Template) -> None:
    counts, book, _ = write(forestry, all_rows())

    details = ["调查记录", "防治记录", "复查记录"]
    summaries = ["物种汇总", "类别汇总", "物种乡镇汇总", "乡镇汇总", "防治汇总", "乡镇防治汇总", "复查汇总"]
    assert book.sheetnames == ["封面", *details, *summaries, "样地调查", "踏查记录"]
    assert counts == {
        "observations": 5,
        "control_operations": 3,
        "follow_ups": 4,
        "species_summary": 2,
        "category_summary": 1,
        "species_township": 1,
        "township_summary": 2,
        "control_by_method": 2,
        "control_by_township": 1,
        "follow_up_summary": 1,
        "plots": 1,
        "survey_routes": 1,
    }


def test_the_cover_lists_the_pairs_neutralised(forestry: Template) -> None:
    _, book, _ = write(forestry, all_rows())
    cover = book["封面"]

    assert [[cell.value for cell in row] for row in cover.iter_rows()] == [
        ["项目", "内容"],
        ["行政区", "梁平区（500155）"],
        ["填报单位", "梁平区林业局"],
        ["统计时段", "2024-04-01—2024-06-30"],
        ["筛选条件", "=cmd|' /C calc'!A0"],
        ["生成时间", datetime(2024, 7, 1, 9, 30)],  # noqa: DTZ001 - Excel holds the local wall time
        ["生成人", "admin"],
        ["坐标系", "EPSG:4490 (CGCS2000) / WGS-84"],
    ]
    assert cover["B5"].data_type == "s"
    assert cover["B6"].number_format == "yyyy-mm-dd hh:mm"
    assert not cover.merged_cells.ranges


def test_every_data_sheet_has_one_header_row_frozen_panes_filter_and_widths(forestry: Template) -> None:
    counts, book, _ = write(forestry, all_rows())

    for sheet in forestry.sheets:
        ws = book[sheet.title]
        last = get_column_letter(len(sheet.columns))
        assert [cell.value for cell in ws[1]] == [column.header for column in sheet.columns]
        assert all(cell.font.bold for cell in ws[1])
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{last}{counts[sheet.key] + 1}"
        for index, column in enumerate(sheet.columns, 1):
            width = ws.column_dimensions[get_column_letter(index)].width
            if SOURCES[sheet.source].summary:  # fitted to the contents, never below the template's
                assert width >= column.width
                values = [ws.cell(row, index).value for row in range(1, ws.max_row + 1)]
                assert all(
                    width >= len(str(v)) for v in values if v is not None and not str(v).startswith("=")
                )
            else:
                assert width == column.width
        assert not ws.merged_cells.ranges
        assert ws.max_column == len(sheet.columns)


def test_cells_have_their_types_and_number_formats(forestry: Template) -> None:
    rows = all_rows()
    _, book, _ = write(forestry, rows)
    ws = book["调查记录"]

    def cell(field: str, row: int = 2) -> Any:
        return ws.cell(row=row, column=column_of(forestry, "observations", field))

    assert cell("observed_at").value == datetime(2024, 5, 1, 11, 12, 13)  # noqa: DTZ001 - local wall time
    assert cell("observed_at").is_date
    assert cell("observed_at").number_format == "yyyy-mm-dd hh:mm"
    assert cell("area_mu").value == 3.0
    assert cell("area_mu").data_type == "n"
    assert cell("area_mu").number_format == "0.00"
    for field in ("latitude", "longitude"):
        assert cell(field).number_format == "0.000000"
        assert cell(field).data_type == "n"
    assert cell("latitude").value == 30.671235
    assert cell("count").value == 18
    assert isinstance(cell("count").value, int)
    assert cell("altitude_m").value == 452.3
    assert cell("altitude_m", row=4).value is None  # i = 3: no altitude
    assert cell("detected").value == "是"
    assert cell("detected", row=3).value == "否"
    assert cell("township_code").value == "500155001"  # a code stays text
    assert cell("township_code").data_type == "s"
    assert cell("notes").value is None

    follow_ups = book["复查记录"]
    due = follow_ups.cell(row=2, column=column_of(forestry, "follow_ups", "due_on"))
    assert due.value == datetime(2024, 5, 9)  # noqa: DTZ001 - openpyxl reads all Excel dates as datetimes
    assert due.number_format == "yyyy-mm-dd"
    assert follow_ups.cell(row=3, column=column_of(forestry, "follow_ups", "overdue")).value == "是"


def test_odd_values_are_shown_not_lost(forestry: Template) -> None:
    rows = {
        "observations": [
            observation(
                1,
                cover_pct=math.nan,
                density_per_m2=math.inf,
                count=True,
                site_code=1234,
                notes="a\x01b\x1fc",
                area_mu="约 2 亩",
                surveyor="",
                place_name="  ",
            )
        ]
    }
    _, book, _ = write(forestry, rows)
    ws = book["调查记录"]

    def value(field: str) -> Any:
        return ws.cell(row=2, column=column_of(forestry, "observations", field)).value

    assert value("cover_pct") is None
    assert value("density_per_m2") is None
    assert value("count") == "是"
    assert value("site_code") == "1234"
    assert value("notes") == "abc"  # XML cannot hold control characters
    assert value("area_mu") == "约 2 亩"
    assert value("surveyor") is None
    assert value("place_name") == "  "


def test_a_date_column_given_a_datetime_shows_the_day(forestry: Template) -> None:
    rows = {"follow_ups": [follow_up(1, due_on=datetime(2024, 5, 9, 23, 30, tzinfo=LOCAL))]}
    _, book, _ = write(forestry, rows)

    cell = book["复查记录"].cell(row=2, column=column_of(forestry, "follow_ups", "due_on"))
    assert cell.value == datetime(2024, 5, 9)  # noqa: DTZ001


# --- Totals -------------------------------------------------------------------------------------------


def test_totals_use_subtotal_below_the_filtered_range(forestry: Template) -> None:
    _, book, _ = write(forestry, all_rows(operations=5))
    ws = book["防治记录"]

    assert ws.max_row == 7
    assert ws["A7"].value == "合计"
    assert ws["A7"].font.bold
    cost = get_column_letter(column_of(forestry, "control_operations", "cost_yuan"))
    assert ws[f"{cost}7"].value == f"=SUBTOTAL(109,{cost}2:{cost}6)"
    assert ws[f"{cost}7"].data_type == "f"
    totals = {cell.column_letter for cell in ws[7] if cell.value is not None}
    assert totals == {"A"} | {
        get_column_letter(column_of(forestry, "control_operations", field))
        for field in ("area_mu", "labour_person_days", "cost_yuan")
    }
    assert ws.auto_filter.ref.endswith("6")


def test_the_visit_sheet_has_no_total_row(forestry: Template) -> None:
    """调查记录 is a row per visit: neither 数量 nor 发生面积 adds up over it (docs/census.md)."""
    _, book, _ = write(forestry, all_rows(observations=5))
    ws = book["调查记录"]

    assert ws.max_row == 6
    assert "合计" not in [cell.value for cell in ws["A"]]
    assert ws.auto_filter.ref.endswith("6")


def test_each_summary_sheet_totals_its_total_columns(forestry: Template) -> None:
    _, book, _ = write(forestry, all_rows())

    for sheet in forestry.sheets:
        ws = book[sheet.title]
        last = ws.max_row
        if not any(column.total for column in sheet.columns):
            # 类别汇总: a species in two categories is in two rows, so nothing is totalled; 调查记录: a
            # site visited twice is two rows.
            assert sheet.key in ("observations", "follow_ups", "category_summary")
            assert "合计" not in [cell.value for cell in ws["A"]]  # nothing to total, no 合计 row
            continue
        assert ws.cell(row=last, column=1).value == "合计"
        for index, column in enumerate(sheet.columns, 1):
            letter = get_column_letter(index)
            expected = f"=SUBTOTAL(109,{letter}2:{letter}{last - 1})" if column.total else None
            if index > 1:
                assert ws.cell(row=last, column=index).value == expected, (sheet.key, column.header)


def test_an_empty_sheet_has_its_header_and_no_totals(forestry: Template) -> None:
    counts, book, _ = write(forestry, {"observations": iter(())})

    assert set(counts.values()) == {0}
    for sheet in forestry.sheets:
        ws = book[sheet.title]
        assert ws.max_row == 1
        assert [cell.value for cell in ws[1]] == [column.header for column in sheet.columns]
        assert ws.auto_filter.ref == f"A1:{get_column_letter(len(sheet.columns))}1"


def test_no_formula_but_the_totals(forestry: Template) -> None:
    rows = all_rows()
    rows["observations"] = [observation(i, notes=text, place_name=text) for i, text in enumerate(HOSTILE, 1)]
    _, _, data = write(forestry, rows)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        formulas = [
            formula
            for name in archive.namelist()
            if name.startswith("xl/worksheets/")
            for formula in archive.read(name).decode().split("<f>")[1:]
        ]
    assert formulas
    assert all(formula.startswith("SUBTOTAL(109,") for formula in formulas)


# --- Hostile text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_looks_like_a_formula_stays_text(forestry: Template, text: str) -> None:
    rows = {
        "observations": [observation(1, notes=text, species_name_zh=text)],
        "control_operations": [control_operation(1, team=text)],
        "species_summary": [{**SUMMARIES["species_summary"][0], "max_severity": text}],
    }
    _, book, _ = write(forestry, rows, cover=[("筛选条件", text)])

    cells = [
        book["调查记录"].cell(row=2, column=column_of(forestry, "observations", "notes")),
        book["调查记录"].cell(row=2, column=column_of(forestry, "observations", "species_name_zh")),
        book["防治记录"].cell(row=2, column=column_of(forestry, "control_operations", "team")),
        book["物种汇总"].cell(row=2, column=column_of(forestry, "species_summary", "max_severity")),
        book["封面"]["B2"],
    ]
    for cell in cells:
        assert cell.value == text
        assert cell.data_type == "s"
        assert cell.quotePrefix  # Excel's mark for text typed with a leading apostrophe


@pytest.mark.parametrize("text", ["田埂 = 卵块多；-5 ℃ 以下少见", "#3 样地", "TRUE", "12.5"])
def test_harmless_text_is_plain(forestry: Template, text: str) -> None:
    _, book, _ = write(forestry, {"observations": [observation(1, notes=text)]})

    cell = book["调查记录"].cell(row=2, column=column_of(forestry, "observations", "notes"))
    assert cell.value == text
    assert cell.data_type == "s"
    assert not cell.quotePrefix


def test_a_text_column_in_the_text_format_styles_every_cell() -> None:
    template = parse_template(
        {
            "bureau": "test",
            "title": "测试",
            "sheets": [
                {
                    "key": "observations",
                    "title": "调查记录",
                    "source": "observations",
                    "columns": [
                        {"header": "记录编号", "field": "id", "type": "integer"},
                        {
                            "header": "乡镇代码",
                            "field": "township_code",
                            "type": "text",
                            "number_format": "@",
                        },
                        {"header": "是否发现", "field": "detected", "type": "bool", "number_format": "@"},
                    ],
                }
            ],
        }
    )
    rows = [observation(1), observation(2, township_code="=1+1"), observation(3, township_code=500155001)]
    _, book, _ = write(template, {"observations": rows})
    ws = book["调查记录"]

    assert [ws.cell(row=row, column=2).value for row in (2, 3, 4)] == ["500155001", "=1+1", "500155001"]
    assert [ws.cell(row=row, column=3).value for row in (2, 3, 4)] == ["是", "否", "是"]
    for row in (2, 3, 4):
        for column in (2, 3):
            assert ws.cell(row=row, column=column).number_format == "@"
            assert ws.cell(row=row, column=column).data_type == "s"
    assert ws.cell(row=3, column=2).quotePrefix


# --- Streaming, progress, errors ----------------------------------------------------------------------


def test_rows_are_streamed_with_progress_every_thousand(forestry: Template) -> None:
    seen: list[int] = []
    progress_when_yielding: dict[int, list[int]] = {}

    def observations() -> Iterator[dict[str, Any]]:
        for i in range(1, 2501):
            if i in (1001, 2001):
                progress_when_yielding[i] = list(seen)
            yield observation(i)

    def operations() -> Iterator[dict[str, Any]]:
        for i in range(1, 1001):
            yield control_operation(i)

    rows = {"observations": observations(), "control_operations": operations()}
    counts, _, _ = write(forestry, rows, on_progress=seen.append)

    assert counts["observations"] == 2500 and counts["control_operations"] == 1000
    assert seen == [1000, 2000, 3000, 3500]
    # The writer had reported the first thousand before it asked for the 1001st row: nothing is held.
    assert progress_when_yielding == {1001: [1000], 2001: [1000, 2000]}
    assert PROGRESS_EVERY == 1000


def test_writes_to_a_path(forestry: Template, tmp_path: Path) -> None:
    target = tmp_path / "census.xlsx"

    counts = write_census(target, forestry, cover=COVER, rows={"observations": [observation()]})

    assert counts["observations"] == 1
    assert openpyxl.load_workbook(target).sheetnames[0] == "封面"


def test_unknown_sources_are_refused(forestry: Template) -> None:
    with pytest.raises(ValueError, match="unknown sources: observation"):
        write_census(io.BytesIO(), forestry, cover=[], rows={"observation": []})


def test_rows_for_sources_the_template_lacks_are_ignored(forestry: Template) -> None:
    control = forestry.restricted_to({"control_operations"})

    counts, book, _ = write(control, all_rows())

    assert counts == {"control_operations": 3}
    assert book.sheetnames == ["封面", "防治记录"]


def test_a_row_missing_a_field_fails_cleanly(forestry: Template) -> None:
    bad = observation(2)
    del bad["area_mu"]
    temp_files = list(ALL_TEMP_FILES)

    with pytest.raises(ValueError, match="sheet 'observations': row 2 has no field 'area_mu'"):
        write_census(io.BytesIO(), forestry, cover=COVER, rows={"observations": [observation(1), bad]})

    assert temp_files == ALL_TEMP_FILES  # the half-written sheets' temporary files are gone


def test_openpyxl_still_has_the_row_loop_we_replace() -> None:
    # workbook._direct_cells replaces it for speed. Should an openpyxl upgrade drop it, workbooks stay
    # right but the export slows down by a third: run bench/census_export.py and look again.
    assert callable(WriteOnlyWorksheet._values_to_row)


def test_ten_thousand_streamed_rows_are_all_written_in_order(forestry: Template) -> None:
    # The export streams its rows from a generator, past PROGRESS_EVERY many times. How fast is
    # bench/census_export.py's question (against bare openpyxl); here: every row arrives, in order, and the
    # filter covers all of them. (Read from the sheet's XML: openpyxl would take longer
    # to load 10 000 rows than the writer takes to write them.)
    observations = forestry.restricted_to({"observations"})
    numbers = range(1, 10_001)
    buffer = io.BytesIO()

    counts = write_census(buffer, observations, cover=COVER, rows={"observations": map(observation, numbers)})

    assert counts["observations"] == 10_000
    with zipfile.ZipFile(buffer) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()  # sheet1 is the cover
    # the header row and the 10 000 rows (调查记录 has no totals row: docs/census.md)
    assert re.findall(r'<row r="(\d+)"', sheet) == [str(n) for n in range(1, 10_002)]
    assert re.findall(r"<t>00000000-0000-4000-8000-(\d{12})</t>", sheet) == [f"{i:012d}" for i in numbers]
    last_column = get_column_letter(len(observations.sheet("observations").columns))
    assert f'<autoFilter ref="A1:{last_column}10001"/>' in sheet
    assert "SUBTOTAL" not in sheet


# --- Reading back -------------------------------------------------------------------------------------


def test_a_written_workbook_reads_back_the_same_values(forestry: Template) -> None:
    rows = all_rows()
    rows["observations"].append(observation(6, notes=HOSTILE[0], place_name="\t=1+1", detected=False))
    _, _, data = write(forestry, rows)

    read = list(read_census(io.BytesIO(data), forestry, tz=LOCAL))

    by_sheet: dict[str, list[SheetRow]] = {}
    for row in read:
        by_sheet.setdefault(row.sheet_key, []).append(row)
    for sheet in forestry.sheets:
        got = by_sheet.get(sheet.key, [])
        expected = rows[sheet.source]
        assert [row.row_number for row in got] == list(range(2, len(expected) + 2)), sheet.key
        for row, source_row in zip(got, expected, strict=True):
            for column in sheet.columns:
                value = source_row[column.field]
                if value == "":
                    value = None
                assert row.values[column.field] == value, (sheet.key, column.field)
                assert type(row.values[column.field]) is type(value) or (
                    column.type == "number" and isinstance(value, int | float)
                ), (sheet.key, column.field)
    first = by_sheet["observations"][0]
    assert first.cells["observed_at"] == "A2"
    assert first.cells["notes"] == f"{get_column_letter(column_of(forestry, 'observations', 'notes'))}2"
    assert set(first.values) == {column.field for column in forestry.sheet("observations").columns}


def test_without_a_zone_datetimes_come_back_naive(forestry: Template) -> None:
    _, _, data = write(forestry, {"observations": [observation(1)]})

    (row,) = read_census(io.BytesIO(data), forestry.restricted_to({"observations"}))

    assert row.values["observed_at"] == datetime(2024, 5, 1, 11, 12, 13)  # noqa: DTZ001


def legacy_workbook(
    rows: list[list[Any]], title: str = "调查记录", dimension: str | None = None
) -> io.BytesIO:
    """A workbook as another program wrote it; `dimension` replaces the size it declares."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = title
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    if dimension is None:
        buffer.seek(0)
        return buffer
    rewritten = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(rewritten, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data)
            target.writestr(item, data)
    rewritten.seek(0)
    return rewritten


def test_a_legacy_layout_is_read_by_header_text(forestry: Template) -> None:
    headers = [column.header for column in forestry.sheet("observations").columns]
    shuffled = ["序号", *reversed(headers)]
    shuffled[shuffled.index("乡镇（街道）")] = "乡镇(街道)"
    shuffled[shuffled.index("发生面积（亩）")] = "发生面积\n（亩）"
    values = {
        "调查日期": "2023/07/15 09:30",
        "经度": "107.8",
        "纬度": 30.7,
        "发生面积（亩）": "2.5",
        "数量（株/头）": 12.0,
        "是否发现": "是",
        "乡镇代码": 500155001,
        "物种名称": "福寿螺",
        "备注": "=SUM(A1)",  # a formula: read as its cached result, which openpyxl never stores
        "盖度（%）": "约三成",
    }
    record = [1] + [values.get(header) for header in reversed(headers)]
    source = legacy_workbook(
        [
            ["梁平区外来入侵物种普查表"],  # a title row above the header
            [*shuffled, "审核意见"],
            [*record, "通过"],
            [None] * len(shuffled),
            ["", None, "  "],
            [2] + [values.get(header) for header in reversed(headers)],
            ["合计", None, None, 5],
        ],
        dimension="A1",  # declared wrongly, as some programs do
    )

    rows = list(read_census(source, forestry.restricted_to({"observations"}), tz=LOCAL))

    assert [row.row_number for row in rows] == [3, 6]
    values_read = rows[0].values
    assert values_read["observed_at"] == datetime(2023, 7, 15, 9, 30, tzinfo=LOCAL)
    assert values_read["longitude"] == 107.8
    assert values_read["latitude"] == 30.7
    assert values_read["area_mu"] == 2.5
    assert values_read["count"] == 12
    assert isinstance(values_read["count"], int)
    assert values_read["detected"] is True
    assert values_read["township_code"] == "500155001"
    assert values_read["notes"] is None
    assert values_read["cover_pct"] == "约三成"  # passed on as found: validation names it
    assert values_read["surveyor"] is None
    position = shuffled.index("经度") + 1
    assert rows[0].cells["longitude"] == f"{get_column_letter(position)}3"


def test_missing_headers_are_all_listed_before_any_row(forestry: Template) -> None:
    headers = [c.header for c in forestry.sheet("observations").columns if c.header not in ("经度", "纬度")]
    source = legacy_workbook([headers, ["x"] * len(headers)])

    with pytest.raises(ReaderError) as raised:
        read_census(source, forestry.restricted_to({"observations"}))

    assert raised.value.missing_headers == {"调查记录": ["经度", "纬度"]}
    assert raised.value.problems == ["sheet '调查记录': no column 经度, 纬度"]


def test_missing_sheets_and_repeated_headers_are_listed(forestry: Template) -> None:
    headers = [column.header for column in forestry.sheet("observations").columns]
    source = legacy_workbook([[*headers, "经度"]])

    with pytest.raises(ReaderError) as raised:
        read_census(source, forestry.restricted_to({"observations", "control_operations"}))

    assert raised.value.missing_sheets == ["防治记录"]
    assert any("column 经度 appears more than once" in problem for problem in raised.value.problems)


@pytest.mark.parametrize("data", [b"", b"not a workbook", b"PK\x03\x04broken"])
def test_a_file_that_is_not_a_workbook_is_refused(forestry: Template, data: bytes) -> None:
    with pytest.raises(ReaderError, match=r"not an \.xlsx workbook"):
        read_census(io.BytesIO(data), forestry)


def test_a_zip_that_would_unpack_too_large_is_refused(forestry: Template) -> None:
    _, _, data = write(forestry, {"observations": [observation(1)]})

    with pytest.raises(ReaderError, match="would unpack to"):
        read_census(io.BytesIO(data), forestry, max_uncompressed_bytes=10_000)


def test_a_zip_without_a_workbook_inside_is_refused(forestry: Template) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hello")

    with pytest.raises(ReaderError, match=r"not a readable \.xlsx workbook"):
        read_census(buffer, forestry)


def test_reads_from_a_path(forestry: Template, tmp_path: Path) -> None:
    target = tmp_path / "census.xlsx"
    write_census(target, forestry, cover=COVER, rows={"observations": [observation(1), observation(2)]})

    rows = read_census(target, forestry.restricted_to({"observations"}))

    assert [row.values["id"] for row in rows] == [1, 2]


# --- The row report -----------------------------------------------------------------------------------


def test_the_row_report_lists_each_row_neutralised() -> None:
    buffer = io.BytesIO()

    counts = write_row_report(
        buffer,
        [
            ("调查记录", 1, "ignored", "K 列“联系电话”不是导入认识的列，其中的数据未导入。", "K1"),
            ("调查记录", 2, "imported", None, None),
            ("调查记录", 3, "rejected", '=HYPERLINK("http://x","y") 不是有效的物种', "C3"),
            ("防治记录", 5, "rejected", "防治面积不能为负数", "G5"),
        ],
    )

    assert counts == {"imported": 1, "rejected": 2, "ignored": 1, "ignored_sheet": 0}
    ws = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["导入结果"]
    assert [[cell.value for cell in row] for row in ws.iter_rows()] == [
        ["工作表", "行号", "结果", "原因", "单元格"],
        ["调查记录", 1, "未导入的列", "K 列“联系电话”不是导入认识的列，其中的数据未导入。", "K1"],
        ["调查记录", 2, "已导入", None, None],
        ["调查记录", 3, "已拒绝", '=HYPERLINK("http://x","y") 不是有效的物种', "C3"],
        ["防治记录", 5, "已拒绝", "防治面积不能为负数", "G5"],
    ]
    assert ws["D4"].data_type == "s"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E5"


def test_the_row_report_refuses_an_unknown_status() -> None:
    temp_files = list(ALL_TEMP_FILES)

    rows = [("调查记录", 2, "imported", None, None), ("调查记录", 3, "skipped", "", "")]
    with pytest.raises(ValueError, match="unknown status 'skipped'"):
        write_row_report(io.BytesIO(), rows)

    assert temp_files == ALL_TEMP_FILES
