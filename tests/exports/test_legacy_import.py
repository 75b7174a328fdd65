"""Legacy census workbooks as the bureaus have them: only the columns an import needs, any species name
the search knows, the dates Excel users type, the legacy 调查人 kept, records kept for the bureau imported
for and attributed only to colleagues who record there, reasons in the reader's language."""

from __future__ import annotations

import io
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests build the workbooks people bring
import pytest
import sqlalchemy as sa

from app.accounts.models import Organization
from app.exports import imports, writing
from app.exports.models import ExportKind
from app.exports.reader import parse_datetime_text
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.species.models import NameKind, Species, SpeciesName
from app.species.sync import sync_registry
from tests.conftest import PADDY

LAT, LON = PADDY
SHANGHAI = timezone(timedelta(hours=8))
# A bureau's own form: no system columns (记录编号, 记录标识, 审核状态, 质量提示), no 学名,
# its own column order.
HEADERS = ["序号", "物种名称", "调查日期", "乡镇（街道）", "经度", "纬度", "发生面积（亩）", "调查人", "备注"]


def _workbook(rows: list[list[Any]], headers: list[str] = HEADERS, title: str = "调查记录") -> io.BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(["梁平区外来入侵物种普查登记表"])  # a title row above the table, as forms have
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def _row(number: int, species: str, when: Any, surveyor: str | None = None, **changes: Any) -> list[Any]:
    values = {
        "序号": number,
        "物种名称": species,
        "调查日期": when,
        "乡镇（街道）": "梁山街道",
        "经度": LON + number * 0.001,  # each row its own site
        "纬度": LAT,
        "发生面积（亩）": 1.5,
        "调查人": surveyor,
        "备注": f"第{number}行",
        **changes,
    }
    return [values[header] for header in HEADERS]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025/8/19", datetime(2025, 8, 19)),  # noqa: DTZ001 -- a wall time, as typed
        ("2025-08-19", datetime(2025, 8, 19)),  # noqa: DTZ001
        ("2025.8.19", datetime(2025, 8, 19)),  # noqa: DTZ001
        ("2025年8月19日", datetime(2025, 8, 19)),  # noqa: DTZ001
        ("2025年8月19日 14:30", datetime(2025, 8, 19, 14, 30)),  # noqa: DTZ001
        ("2025年8月19日14时30分", datetime(2025, 8, 19, 14, 30)),  # noqa: DTZ001
        ("2025/8/19 9:05", datetime(2025, 8, 19, 9, 5)),  # noqa: DTZ001
        ("2025-08-19 09:05:30", datetime(2025, 8, 19, 9, 5, 30)),  # noqa: DTZ001
        ("２０２５／８／１９", datetime(2025, 8, 19)),  # noqa: DTZ001 -- full-width, as IMEs type
        (" 2025.08.19 ", datetime(2025, 8, 19)),  # noqa: DTZ001
        ("2025-08-19T14:30:00+08:00", datetime(2025, 8, 19, 14, 30, tzinfo=SHANGHAI)),
    ],
)
def test_the_date_forms_excel_users_type(text: str, expected: datetime) -> None:
    assert parse_datetime_text(text) == expected


@pytest.mark.parametrize("text", ["2025/2/30", "2025/13/1", "19/8/2025", "去年八月", "2025/8/19 25:00", ""])
def test_what_is_not_a_date_is_not_guessed(text: str) -> None:
    assert parse_datetime_text(text) is None


def test_a_bureau_workbook_without_system_columns_imports_with_aliases_typed_dates_and_legacy_names(
    make_user: Any, species_id: Any
) -> None:
    agriculture = db.session.scalar(sa.select(Organization).where(Organization.code == "agriculture"))
    surveyor = make_user("surveyor", "agriculture", display_name="刘调查")
    make_user("verifier", "agriculture", display_name="陈审核")  # would review their own records
    make_user("surveyor", "forestry", display_name="林业小王")  # records in another bureau
    make_user("surveyor", "agriculture", display_name="张同名")
    make_user("supervisor", "agriculture", display_name="张同名")
    admin = make_user("admin", "forestry", display_name="区管理员")  # imports for agriculture
    snail = species_id("pomacea-canaliculata")
    weed = species_id("alternanthera-philoxeroides")
    real_date = datetime(2025, 8, 19, 10, 15)  # noqa: DTZ001 -- a date cell, as Excel keeps it
    rows = [
        _row(1, "水花生", "2025/8/19", "刘调查"),  # an alias
        _row(2, "Alternanthera philoxeroides", "2025-08-19", "陈审核"),  # Latin; a verifier named
        _row(3, "fushouluo", "2025.8.19", "林业小王"),  # pinyin; someone of another bureau named
        _row(4, "fsl", "2025年8月19日", "老周"),  # initials; nobody of that name
        _row(5, "福寿螺", "2025年8月19日 14:30", "张同名"),  # two colleagues of that name
        _row(6, "空心莲子草", real_date, None),  # another alias, a real date, no surveyor
        _row(7, "独角兽草", "2025/8/19", "刘调查"),  # unknown species
        _row(8, "福寿螺", "去年八月", "刘调查"),  # not a date
    ]

    report = imports.import_census(_workbook(rows), actor=admin, bureau="agriculture")

    outcome = {row: (status, reason, cell) for _sheet, row, status, reason, cell in report.rows}
    assert (report.imported, report.unchanged, report.rejected) == (6, 0, 2), report.rows
    assert outcome[9] == ("rejected", "未知物种。", "B9")  # rows count from the title row: data from 3
    assert outcome[10][0] == "rejected" and outcome[10][2] == "C10"
    assert outcome[10][1] == "调查日期: 不是日期和时间（例如 2025/8/19 14:30）。"
    assert outcome[3] == ("imported", None, None)  # 刘调查 records in agriculture
    assert "陈审核" in outcome[4][1] and "区管理员" in outcome[4][1] and "保留该姓名" in outcome[4][1]
    assert "林业小王" in outcome[5][1]
    assert "老周" in outcome[6][1]
    assert "2 位同事" in outcome[7][1]
    assert outcome[8] == ("imported", None, None)

    records = {
        o.notes: o for o in db.session.scalars(sa.select(Observation).where(Observation.notes.like("第%行")))
    }
    assert {o.organization_id for o in records.values()} == {agriculture.id}  # not the admin's forestry
    assert records["第1行"].surveyor_id == surveyor.id and records["第1行"].legacy_surveyor is None
    for note, name in (("第2行", "陈审核"), ("第3行", "林业小王"), ("第4行", "老周"), ("第5行", "张同名")):
        assert records[note].surveyor_id == admin.id, note
        assert records[note].legacy_surveyor == name, note
    assert records["第6行"].surveyor_id == admin.id and records["第6行"].legacy_surveyor is None
    assert [records[f"第{n}行"].species_id for n in range(1, 7)] == [weed, weed, snail, snail, snail, weed]
    local = {note: o.observed_at.astimezone(SHANGHAI) for note, o in records.items()}
    assert {local[f"第{n}行"].date() for n in range(1, 7)} == {datetime(2025, 8, 19).date()}  # noqa: DTZ001
    assert local["第5行"].time().isoformat() == "14:30:00"
    assert local["第6行"].replace(tzinfo=None) == real_date

    again = imports.import_census(_workbook(rows), actor=admin, bureau="agriculture")
    assert (again.imported, again.unchanged, again.rejected) == (0, 6, 2)  # nothing doubled


def test_the_same_workbook_imported_again_by_another_admin_creates_nothing_and_refuses_nothing(
    make_user: Any,
) -> None:
    """A bureau admin re-imports the workbook the district admin imported for them last week: rows
    whose 调查人 is unknown, or empty, fall back to whoever imports, and are the same rows all the same."""
    admin = make_user("admin", "forestry", display_name="区管理员")
    clerk = make_user("bureau_admin", "agriculture", display_name="农业文员")
    rows = [_row(1, "福寿螺", "2025/8/19", "老周"), _row(2, "水花生", "2025/8/19", None)]
    first = imports.import_census(_workbook(rows), actor=admin, bureau="agriculture")
    assert (first.imported, first.unchanged, first.rejected) == (2, 0, 0), first.rows
    again = imports.import_census(_workbook(rows), actor=clerk, bureau="agriculture")
    assert (again.imported, again.unchanged, again.rejected) == (0, 2, 0), again.rows


def test_the_legacy_surveyor_is_shown_on_the_record_and_exported(
    make_user: Any, api_as: Any, web_as: Any
) -> None:
    admin = make_user("bureau_admin", "agriculture", display_name="农业管理员")
    report = imports.import_census(
        _workbook([_row(1, "福寿螺", "2025/8/19", "老周")]), actor=admin, bureau="agriculture"
    )
    assert report.imported == 1, report.rows
    record = db.session.scalar(sa.select(Observation).where(Observation.legacy_surveyor == "老周"))
    assert record is not None
    db.session.commit()

    body = api_as(admin).get(f"/api/v1/observations/{record.id}").get_json()
    assert body["legacy_surveyor"] == "老周" and body["surveyor_id"] == admin.id
    page = web_as(admin).get(f"/observations/{record.id}").get_data(as_text=True)
    assert "data-legacy-surveyor>老周<" in page and "农业管理员" in page

    record.status = ReviewStatus.VERIFIED  # a census counts verified records
    db.session.commit()
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau="agriculture",
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={},
        generated_by="测试",
    )
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["调查记录"]
    headers = [cell.value for cell in sheet[1]]
    names = [row[headers.index("调查人")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "老周" in names


def test_only_the_needed_columns_are_required_and_their_absence_is_said_in_chinese(
    make_user: Any, api_as: Any
) -> None:
    admin = api_as(make_user("bureau_admin", "agriculture"))
    headers = [h for h in HEADERS if h not in ("纬度", "物种名称")]
    source = _workbook([[1] * len(headers)], headers=headers)
    response = admin.post(
        "/api/v1/imports?bureau=agriculture",
        data={"file": (source, "legacy.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    message = response.get_json()["errors"]["file"][0]
    assert message == "工作表 调查记录 缺少列：物种名称 / 学名、纬度。"


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "legacy.xls"),
        ("序号,物种名称\n1,福寿螺\n".encode(), "legacy.csv"),
    ],
)
def test_an_old_xls_or_a_csv_is_told_to_be_saved_as_xlsx_in_chinese(
    make_user: Any, api_as: Any, content: bytes, name: str
) -> None:
    admin = api_as(make_user("bureau_admin", "agriculture"))
    response = admin.post(
        "/api/v1/imports?bureau=agriculture",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["file"] == [
        "不是 .xlsx 工作簿：旧版 .xls 工作簿或 CSV 文件须先另存为 .xlsx。"
    ]


def test_a_bureau_admin_imports_for_their_own_bureau_only(make_user: Any) -> None:
    from app.errors import PermissionDenied

    admin = make_user("bureau_admin", "forestry")
    with pytest.raises(PermissionDenied):
        imports.import_census(_workbook([_row(1, "福寿螺", "2025/8/19")]), actor=admin, bureau="agriculture")


def test_the_import_page_says_which_rows_fell_back_to_the_importer(make_user: Any, web_as: Any) -> None:
    admin = make_user("bureau_admin", "agriculture", display_name="农业管理员")
    web = web_as(admin)
    source = _workbook([_row(1, "水花生", "2025年8月19日", "老周")])
    body = {"import-bureau": "agriculture", "import-file": (source, "legacy.xlsx")}
    response = web.post("/exports/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "data-import-notes" in html and "老周 不是" in html and "农业管理员" in html


def _merged_registry(tmp_path: Path) -> Path:
    """species_lists/ with 反枝苋 merged into 刺苋 the way species_lists/README.md says: the entry removed
    from the files, its names kept on the species it was merged into."""
    copy = tmp_path / "species_lists"
    shutil.copytree(Path(__file__).resolve().parents[2] / "species_lists", copy)
    species = (copy / "species.toml").read_text(encoding="utf-8")
    species, removed = re.subn(
        r'\[\[species\]\]\nkey = "amaranthus-retroflexus"\n.*?\n\n', "", species, count=1, flags=re.S
    )
    kept = 'name_sci = "Amaranthus spinosus"\nauthority = "L."\ngroup = "plant"\naliases = []\nsynonyms = []'
    assert removed == 1 and kept in species
    species = species.replace(
        kept,
        'name_sci = "Amaranthus spinosus"\nauthority = "L."\ngroup = "plant"\naliases = ["反枝苋"]\n'
        'synonyms = ["Amaranthus retroflexus"]',
    )
    (copy / "species.toml").write_text(species, encoding="utf-8")
    members = copy / "members" / "mee-ias-3.csv"
    lines = members.read_text(encoding="utf-8").splitlines(keepends=True)
    members.write_text(
        "".join(line for line in lines if "amaranthus-retroflexus" not in line), encoding="utf-8"
    )
    return copy


def test_after_a_merge_a_workbook_naming_the_old_name_imports_as_the_kept_species(
    tmp_path: Path, make_user: Any
) -> None:
    report = sync_registry(_merged_registry(tmp_path))
    old = db.session.scalar(sa.select(Species).where(Species.key == "amaranthus-retroflexus"))
    assert old is not None and old.retired_on is not None
    # The retired species keeps its name for its own records; that is no disagreement to report.
    assert not any("反枝苋" in line for line in report.differences), report.differences

    admin = make_user("bureau_admin", "agriculture")
    imported = imports.import_census(
        _workbook([_row(1, "反枝苋", "2025/8/19")]), actor=admin, bureau="agriculture"
    )
    assert (imported.imported, imported.rejected) == (1, 0), imported.rows
    record = db.session.scalar(sa.select(Observation).where(Observation.notes == "第1行"))
    assert record is not None and record.species.key == "amaranthus-spinosus"


def test_a_name_two_current_species_answer_to_is_said_to_be_ambiguous_naming_both(make_user: Any) -> None:
    spinosus = db.session.scalar(sa.select(Species).where(Species.key == "amaranthus-spinosus"))
    assert spinosus is not None
    db.session.add(SpeciesName(species_id=spinosus.id, kind=NameKind.ALIAS, weight=1, value="反枝苋"))
    db.session.flush()
    admin = make_user("bureau_admin", "agriculture")
    report = imports.import_census(
        _workbook([_row(1, "反枝苋", "2025/8/19")]), actor=admin, bureau="agriculture"
    )
    assert report.rejected == 1
    reasons = [reason for _s, _r, _st, reason, _c in report.rows]
    assert "反枝苋 是多个物种的名称：刺苋、反枝苋；请写明所指的物种。" in reasons, reasons


def test_a_township_station_surveyor_named_in_the_bureaus_workbook_is_the_records_surveyor(
    make_user: Any, api_as: Any
) -> None:
    """The agriculture commission's census workbook lists the records its township stations made."""
    admin = api_as("admin", "forestry")
    station = {
        "code": "lr-station",
        "name": "礼让镇农技站",
        "kind": "township_station",
        "parent": "agriculture",
    }
    assert admin.post("/api/v1/organizations", json=station).status_code == 201
    technician = make_user("surveyor", "lr-station", display_name="站技术员")
    clerk = make_user("bureau_admin", "agriculture", display_name="农业文员")
    report = imports.import_census(
        _workbook([_row(1, "福寿螺", "2025/8/19", "站技术员")]), actor=clerk, bureau="agriculture"
    )
    assert (report.imported, report.rejected) == (1, 0), report.rows
    record = db.session.scalar(sa.select(Observation).where(Observation.notes == "第1行"))
    assert record is not None and record.surveyor_id == technician.id, report.rows
    assert record.legacy_surveyor is None
    # A station of the other bureau is not this bureau's: its technician is not found here.
    other = {"code": "ls-station", "name": "梁山街道林业站", "kind": "township_station", "parent": "forestry"}
    assert admin.post("/api/v1/organizations", json=other).status_code == 201
    make_user("surveyor", "ls-station", display_name="林业站员")
    report = imports.import_census(
        _workbook([_row(2, "福寿螺", "2025/8/19", "林业站员")]), actor=clerk, bureau="agriculture"
    )
    record = db.session.scalar(sa.select(Observation).where(Observation.notes == "第2行"))
    assert record is not None and record.surveyor_id == clerk.id and record.legacy_surveyor == "林业站员"
