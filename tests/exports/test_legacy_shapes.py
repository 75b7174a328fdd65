"""Legacy workbooks shaped by hand: cells merged over several rows read as a person reads them."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

import openpyxl  # noqa: TID251 -- tests build the workbooks people bring
import sqlalchemy as sa

from app.exports import import_columns, imports
from app.exports.layouts import load_template
from app.exports.reader import write_row_report
from app.extensions import db
from app.observations.models import Observation
from tests.conftest import PADDY

LAT, LON = PADDY
SHANGHAI = timezone(timedelta(hours=8))
# A bureau's own form, its title in row 1 and its headers in row 2: data from row 3.
HEADERS = ["序号", "物种名称", "调查日期", "乡镇（街道）", "经度", "纬度", "发生面积（亩）", "调查人", "备注"]
B, C, D, E, G = 2, 3, 4, 5, 7  # columns of 物种名称, 调查日期, 乡镇（街道）, 经度, 发生面积（亩）


def _row(number: int, species: str | None, when: Any, **changes: Any) -> list[Any]:
    values = {
        "序号": number,
        "物种名称": species,
        "调查日期": when,
        "乡镇（街道）": "梁山街道",
        "经度": LON + number * 0.001,  # each row its own site
        "纬度": LAT,
        "发生面积（亩）": 1.5,
        "调查人": None,
        "备注": f"并{number}行",
        **changes,
    }
    return [values[header] for header in HEADERS]


def _workbook(rows: list[list[Any]], merges: list[str], headers: list[str] = HEADERS) -> io.BytesIO:
    """The rows under a title row and the headers, then the cells merged as Excel merges them: the
    cells under a merge are emptied, only its first cell keeps a value."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "调查记录"
    sheet.append(["梁平区外来入侵物种普查登记表"])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    for ref in merges:
        sheet.merge_cells(ref)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def _records() -> dict[str, Observation]:
    query = sa.select(Observation).where(Observation.notes.like("并%行"))
    return {o.notes: o for o in db.session.scalars(query)}


def test_cells_merged_over_rows_give_every_row_their_value(make_user: Any, species_id: Any) -> None:
    """福寿螺 merged over three rows and 水花生 over two; one day's date merged over the first four rows
    (of two species), another's over the last one; every row is a record with the values it shows."""
    admin = make_user("bureau_admin", "agriculture")
    day = datetime(2025, 8, 19, 9, 30)  # noqa: DTZ001 -- a date cell, as Excel keeps it
    rows = [
        _row(1, "福寿螺", day),
        _row(2, None, None),
        _row(3, None, None),
        _row(4, "水花生", None),
        _row(5, None, "2025/8/20"),
    ]
    merges = ["B3:B5", "B6:B7", "C3:C6"]

    report = imports.import_census(_workbook(rows, merges), actor=admin, bureau="agriculture")

    assert (report.imported, report.rejected) == (5, 0), report.rows
    records = _records()
    snail, weed = species_id("pomacea-canaliculata"), species_id("alternanthera-philoxeroides")
    assert [records[f"并{n}行"].species_id for n in range(1, 6)] == [snail, snail, snail, weed, weed]
    local = [records[f"并{n}行"].observed_at.astimezone(SHANGHAI).replace(tzinfo=None) for n in range(1, 6)]
    assert local[:4] == [day] * 4
    assert local[4] == datetime(2025, 8, 20)  # noqa: DTZ001

    again = imports.import_census(_workbook(rows, merges), actor=admin, bureau="agriculture")
    assert (again.imported, again.unchanged, again.rejected) == (0, 5, 0), again.rows


def test_a_merge_past_the_last_record_makes_no_rows_and_one_from_the_header_gives_no_value(
    make_user: Any,
) -> None:
    """A date merged on down over empty rows below the records is no record; a 物种名称 header merged
    down over the first data row gives that row no species (a heading is not data): it is refused,
    naming its cell, while the next rows import."""
    admin = make_user("bureau_admin", "agriculture")
    rows = [
        _row(1, None, "2025/8/19"),
        _row(2, "福寿螺", None),
        _row(3, "福寿螺", None),
        [None] * len(HEADERS),
        [None] * len(HEADERS),
    ]
    merges = ["B2:B3", "C3:C7"]

    report = imports.import_census(_workbook(rows, merges), actor=admin, bureau="agriculture")

    outcome = {row: (status, reason, cell) for _sheet, row, status, reason, cell in report.rows}
    assert sorted(outcome) == [3, 4, 5], report.rows  # rows 6 and 7 hold only the merged date
    assert outcome[3] == ("rejected", "未知物种。", "B3")
    assert outcome[4][0] == outcome[5][0] == "imported"
    records = _records()
    assert {r.observed_at.astimezone(SHANGHAI).date() for r in records.values()} == {
        datetime(2025, 8, 19).date()  # noqa: DTZ001
    }


def test_merges_across_columns_keep_the_header_and_are_not_copied_sideways(make_user: Any) -> None:
    """The title merged over the whole width and 备注 merged over two header cells read as
    before; a 乡镇 value merged over the 经度 cell beside it does not become the longitude."""
    admin = make_user("bureau_admin", "agriculture")
    headers = [*HEADERS, None]  # 备注 spans its own column and this one
    rows = [
        [*_row(1, "福寿螺", "2025/8/19", **{"发生面积（亩）": 3}), None],
        [*_row(2, "福寿螺", "2025/8/19", **{"经度": None}), None],
    ]
    merges = ["A1:J1", "I2:J2", "D4:E4"]

    report = imports.import_census(_workbook(rows, merges, headers), actor=admin, bureau="agriculture")

    outcome = {row: (status, reason, cell) for _sheet, row, status, reason, cell in report.rows}
    assert outcome[3][0] == "imported", report.rows
    assert outcome[4] == ("rejected", "经度: 为必填项。", "E4")
    record = _records()["并1行"]
    assert record.area_m2 == 2000  # 3 亩


# A form with more than the template knows: 序号 (A), 备注 merged over its own column and the next (I:J),
# 联系电话 (K), and a column without any header (L).
WIDE_HEADERS = [*HEADERS, None, "联系电话", None]


def _wide_workbook() -> io.BytesIO:
    rows = [
        [*_row(1, "福寿螺", "2025/8/19"), "补充说明", "13800000000", None],
        [*_row(2, "水花生", "2025/8/19"), None, None, "多余"],
    ]
    return _workbook(rows, ["I2:J2"], WIDE_HEADERS)


WIDE_IGNORED = [
    ("调查记录", "A", "序号", "A2", "A 列“序号”不是导入认识的列，其中的数据未导入。"),
    (
        "调查记录",
        "J",
        "备注",
        "J3",
        "J 列没有自己的列名，只在自 I 列合并的列名“备注”之下，只读取 I 列：本列的数据（自 J3 起）未导入。",
    ),
    ("调查记录", "K", "联系电话", "K2", "K 列“联系电话”不是导入认识的列，其中的数据未导入。"),
    ("调查记录", "L", None, "L4", "L 列没有列名，其中的数据（自 L4 起）未导入。"),
]


def test_every_column_not_imported_is_named_with_its_header_and_letter(make_user: Any) -> None:
    """Columns with a header the template does not know, with values under no header, or under a header
    merged over them: each named once, in Chinese; the rows still import."""
    admin = make_user("bureau_admin", "agriculture")

    report = imports.import_census(_wide_workbook(), actor=admin, bureau="agriculture")

    assert (report.imported, report.rejected) == (2, 0), report.rows
    assert [(c.sheet, c.column, c.header, c.cell, c.reason) for c in report.ignored] == WIDE_IGNORED
    assert report.report_rows()[: len(WIDE_IGNORED)] == [
        (sheet, int(cell[1:]), "ignored", reason, cell) for sheet, _c, _h, cell, reason in WIDE_IGNORED
    ]


def test_the_api_the_row_report_the_page_and_the_command_name_the_columns_not_imported(
    app: Any, make_user: Any, api_as: Any, web_as: Any, tmp_path: Any
) -> None:
    admin = make_user("bureau_admin", "agriculture")
    api = api_as(admin)

    def upload(query: str) -> Any:
        return api.post(
            f"/api/v1/imports?bureau=agriculture{query}",
            data={"file": (_wide_workbook(), "legacy.xlsx")},
            content_type="multipart/form-data",
        )

    body = upload("").get_json()
    assert body["imported"] == 2 and len(body["rows"]) == 2  # the rows' list is the rows'
    assert [
        (c["sheet"], c["column"], c["header"], c["cell"], c["reason"]) for c in body["ignored_columns"]
    ] == WIDE_IGNORED

    response = upload("&report=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    response.close()
    lines = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert lines[0] == ("调查记录", 2, "未导入的列", WIDE_IGNORED[0][4], "A2")
    assert [line[2] for line in lines] == ["未导入的列"] * 4 + ["已导入"] * 2

    web = web_as(admin)
    page = web.post(
        "/exports/import",
        data={"import-bureau": "agriculture", "import-file": (_wide_workbook(), "legacy.xlsx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "data-import-ignored" in page and "联系电话" in page and WIDE_IGNORED[3][4] in page

    path = tmp_path / "legacy.xlsx"
    path.write_bytes(_wide_workbook().getvalue())
    args = ["imports", "census", str(path), "--bureau", "agriculture", "--user", admin.username]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "调查记录 column K (K2) not imported: " + WIDE_IGNORED[2][4] in result.output


# A workbook exported once and kept by hand: 审核状态 (J) and 记录编号 (K) written by the export, a 复查记录
# sheet, and a 说明 sheet of the bureau's own.
EXPORTED_HEADERS = [*HEADERS, "审核状态", "记录编号"]


def _exported_workbook() -> io.BytesIO:
    book = openpyxl.load_workbook(
        _workbook([[*_row(1, "福寿螺", "2025/8/19"), "已通过", 17]], [], EXPORTED_HEADERS)
    )
    book.create_sheet("复查记录").append(["样点编号", "复查类型"])
    book.create_sheet("说明").append(["本表由梁山街道填报"])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


UNUSED = [
    ("调查记录", "J", "审核状态", "J2", "J 列“审核状态”是普查工作簿列出但导入不使用的列，其中的数据未导入。"),
    ("调查记录", "K", "记录编号", "K2", "K 列“记录编号”是普查工作簿列出但导入不使用的列，其中的数据未导入。"),
]
SHEETS_NOT_IMPORTED = [
    (
        "复查记录",
        "工作表“复查记录”是普查工作簿中导入不读取的工作表（只导入调查记录、防治记录），其中的内容均未导入。",
    ),
    ("说明", "工作表“说明”不是普查工作簿的工作表，其中的内容均未导入。"),
]


def test_the_template_columns_not_used_and_the_sheets_not_read_are_named_everywhere(
    app: Any, make_user: Any, api_as: Any, web_as: Any, tmp_path: Any
) -> None:
    """审核状态 and 记录编号 are the template's but not imported; 复查记录 and 说明 are not read at all: the
    API, the row report, the page and the command say so, as they say the unknown columns."""
    admin = make_user("bureau_admin", "agriculture")

    body = (
        api_as(admin)
        .post(
            "/api/v1/imports?bureau=agriculture",
            data={"file": (_exported_workbook(), "legacy.xlsx")},
            content_type="multipart/form-data",
        )
        .get_json()
    )
    assert body["imported"] == 1 and body["ignored_columns"] == [
        {"sheet": "调查记录", "column": "A", "header": "序号", "cell": "A2", "reason": WIDE_IGNORED[0][4]}
    ]
    assert [
        (c["sheet"], c["column"], c["header"], c["cell"], c["reason"]) for c in body["unused_columns"]
    ] == UNUSED
    assert [(s["sheet"], s["reason"]) for s in body["ignored_sheets"]] == SHEETS_NOT_IMPORTED

    report = imports.import_census(_exported_workbook(), actor=admin, bureau="agriculture")
    assert report.report_rows()[:5] == [
        *((sheet, None, "ignored_sheet", reason, None) for sheet, reason in SHEETS_NOT_IMPORTED),
        ("调查记录", 2, "ignored", WIDE_IGNORED[0][4], "A2"),
        *((sheet, 2, "ignored", reason, cell) for sheet, _c, _h, cell, reason in UNUSED),
    ]
    path = tmp_path / "report.xlsx"
    write_row_report(path, report.report_rows())
    lines = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    assert lines[0] == ("复查记录", None, "未导入的工作表", SHEETS_NOT_IMPORTED[0][1], None)
    assert [line[2] for line in lines] == ["未导入的工作表"] * 2 + ["未导入的列"] * 3 + ["已导入"]

    page = (
        web_as(admin)
        .post(
            "/exports/import",
            data={"import-bureau": "agriculture", "import-file": (_exported_workbook(), "legacy.xlsx")},
            content_type="multipart/form-data",
        )
        .get_data(as_text=True)
    )
    assert "data-import-ignored-sheets" in page
    assert all(reason in page for *_x, reason in [*UNUSED, *SHEETS_NOT_IMPORTED])

    path = tmp_path / "legacy.xlsx"
    path.write_bytes(_exported_workbook().getvalue())
    args = ["imports", "census", str(path), "--bureau", "agriculture", "--user", admin.username]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "sheet 说明 not imported: " + SHEETS_NOT_IMPORTED[1][1] in result.output
    assert "调查记录 column J (J2) not imported: " + UNUSED[0][4] in result.output


def test_the_fields_imported_are_template_fields_and_the_rest_are_named() -> None:
    """IMPORTED_FIELDS names only fields the template sheets have (a typo would hide a column), and each
    bureau's template has columns it leaves out (those the report then names)."""
    for bureau in ("agriculture", "forestry"):
        template = import_columns.with_square_metre_columns(load_template(bureau))
        for key, fields in import_columns.IMPORTED_FIELDS.items():
            known = {c.field for c in template.sheet(key).columns} | {"method_code"}
            assert fields <= known, (bureau, key, fields - known)
            assert {"id", "organization"} <= known - fields


def _area_workbook(headers: list[str], rows: list[list[Any]]) -> io.BytesIO:
    return _workbook(rows, [], headers)


def test_an_area_in_square_metres_is_read_as_square_metres(make_user: Any) -> None:
    """发生面积（平方米） (or m², ㎡, 平米, half-width brackets) where the template has 发生面积（亩）: the
    record's area is the m² given, not dropped, not taken for 亩; a re-import is a replay."""
    admin = make_user("bureau_admin", "agriculture")
    forms = ["发生面积（平方米）", "发生面积(m²)", "发生面积（㎡）", "发生面积（平米）"]
    for number, header in enumerate(forms, 1):
        headers = [h if h != "发生面积（亩）" else header for h in HEADERS]
        rows = [_row(number, "福寿螺", "2025/8/19", **{"发生面积（亩）": 1000 + number})]  # column G
        report = imports.import_census(_area_workbook(headers, rows), actor=admin, bureau="agriculture")
        assert (report.imported, report.rejected, report.ignored) == (1, 0, [report.ignored[0]]), report
        assert report.ignored[0].header == "序号"  # the area column is not among those not imported
        assert _records()[f"并{number}行"].area_m2 == 1000 + number, header
        again = imports.import_census(_area_workbook(headers, rows), actor=admin, bureau="agriculture")
        assert (again.imported, again.unchanged) == (0, 1), again.rows


def test_an_area_in_both_units_must_agree_and_a_bad_one_is_named(make_user: Any, species_id: Any) -> None:
    admin = make_user("bureau_admin", "agriculture")
    headers = [*HEADERS, "发生面积（平方米）"]  # 发生面积（亩） in G, m² in J
    rows = [
        [*_row(1, "福寿螺", "2025/8/19", **{"发生面积（亩）": 1.5}), 1001.3],  # 1.5 亩 = 1000 m²: agree
        [*_row(2, "福寿螺", "2025/8/19", **{"发生面积（亩）": 1.5}), 2000],  # they disagree
        [*_row(3, "福寿螺", "2025/8/19", **{"发生面积（亩）": None}), "两千"],  # no number
        [*_row(4, "福寿螺", "2025/8/19", **{"发生面积（亩）": None}), -5],  # not an area
    ]

    report = imports.import_census(_area_workbook(headers, rows), actor=admin, bureau="agriculture")

    outcome = {row: (status, reason, cell) for _sheet, row, status, reason, cell in report.rows}
    assert outcome[3] == ("imported", None, None)
    assert _records()["并1行"].area_m2 == 1001.3  # the finer figure
    assert outcome[4] == (
        "rejected",
        "面积填了两次且不一致：G4 的 1.5 亩折合 1000.00 平方米，而 J4 为 2000 平方米；请只保留一个。",
        "G4",
    )
    assert outcome[5] == ("rejected", "发生面积（平方米）: 应为数字。", "J5")
    assert outcome[6][0] == "rejected" and outcome[6][2] == "J6", outcome[6]
    assert outcome[6][1].startswith("发生面积（平方米）: ")


def test_the_control_sheet_reads_its_area_in_square_metres_too() -> None:
    template = import_columns.with_square_metre_columns(
        load_template("forestry").restricted_to({"observations", "control_operations"})
    )
    for key, header in (("observations", "发生面积"), ("control_operations", "防治面积")):
        columns = {c.header: c.field for c in template.sheet(key).columns}
        assert columns[f"{header}（亩）"] == "area_mu"
        assert columns[f"{header}（平方米）"] == columns[f"{header}（m2）"] == "area_m2"


def test_a_row_imported_before_its_square_metres_were_read_is_never_a_second_record(make_user: Any) -> None:
    """A workbook imported when its m² column was not read, imported again now that it is: the rows are
    the same rows (their derived identity leaves the m² area out), a replay where the area agrees with
    what was stored, a refusal naming the clash where it adds to it; never a second record."""
    admin = make_user("bureau_admin", "agriculture")
    first = imports.import_census(
        _area_workbook(HEADERS, [_row(1, "福寿螺", "2025/8/19"), _row(2, "福寿螺", "2025/8/19")]),
        actor=admin,
        bureau="agriculture",
    )
    assert first.imported == 2, first.rows
    headers = [*HEADERS, "发生面积（平方米）"]
    rows = [[*_row(1, "福寿螺", "2025/8/19"), 1000], [*_row(2, "福寿螺", "2025/8/19"), 1003]]  # 1.5 亩 both

    again = imports.import_census(_area_workbook(headers, rows), actor=admin, bureau="agriculture")

    assert (again.imported, again.unchanged, again.rejected) == (0, 1, 1), again.rows
    assert len(_records()) == 2 and _records()["并2行"].area_m2 == 1000
    # The refusal speaks of the workbook's row and the record it became, not of a client_uuid it never had.
    [(_sheet, _row_number, _status, reason, _cell)] = [r for r in again.rows if r[2] == "rejected"]
    kept = _records()["并2行"].id
    expected = f"这一行之前已导入为观测 {kept}，但数字不同；请直接更正那条记录，不要再次导入这一行。"
    assert reason == expected, reason
