"""Census templates as data: the shipped ones, and every way a template can be wrong, reported at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.exports.layouts import (
    LAYOUTS_DIR,
    SOURCES,
    Template,
    TemplateError,
    bureaus,
    header_key,
    load_template,
    parse_template,
)

# --- The shipped templates ----------------------------------------------------------------------------


def test_a_template_ships_for_each_bureau() -> None:
    assert bureaus() == ["agriculture", "forestry"]


@pytest.mark.parametrize("bureau", ["forestry", "agriculture"])
def test_each_template_has_every_detail_and_summary_sheet(bureau: str) -> None:
    template = load_template(bureau)

    assert template.bureau == bureau
    assert template.cover_title == "封面"
    assert [sheet.source for sheet in template.sheets] == [
        "observations",
        "control_operations",
        "follow_ups",
        "species_summary",
        "category_summary",
        "species_township",
        "township_summary",
        "control_by_method",
        "control_by_township",
        "follow_up_summary",
        "plots",
        "survey_routes",
    ]
    assert {sheet.source for sheet in template.sheets} == set(SOURCES)
    for sheet in template.sheets:
        assert len(sheet.title) <= 31
        assert len({header_key(column.header) for column in sheet.columns}) == len(sheet.columns)
        assert {column.field for column in sheet.columns} <= set(SOURCES[sheet.source].fields)


@pytest.mark.parametrize("bureau", ["forestry", "agriculture"])
def test_areas_show_two_decimals_and_coordinates_six(bureau: str) -> None:
    template = load_template(bureau)

    for sheet in template.sheets:
        for column in sheet.columns:
            if column.field == "area_mu":
                # A control summary's area is summed over operations: 亩次, not 亩.
                expected = ("防治面积（亩次）",) if sheet.source.startswith("control_by") else None
                expected = ("样地面积（亩）",) if sheet.source == "plots" else expected
                assert column.header in (expected or ("发生面积（亩）", "防治面积（亩）"))
                assert column.number_format == "0.00"
                # 类别汇总 counts a species in two categories twice, 样地调查 a plot once per species,
                # 调查记录 a site once per visit: no total there.
                assert column.total == (sheet.source not in ("category_summary", "plots", "observations"))
            if column.field in ("latitude", "longitude"):
                assert column.number_format == "0.000000"
            if column.type == "datetime":
                assert column.number_format == "yyyy-mm-dd hh:mm"


@pytest.mark.parametrize("bureau", ["forestry", "agriculture"])
def test_the_census_headers_are_there(bureau: str) -> None:
    headers = [column.header for column in load_template(bureau).sheet("observations").columns]

    census = ["调查日期", "物种名称", "学名", "乡镇（街道）", "小地名", "经度", "纬度", "海拔（米）"]
    census += ["生境", "发生面积（亩）", "盖度（%）", "危害程度", "调查人"]
    for header in census:
        assert header in headers
    assert headers.index("经度") + 1 == headers.index("纬度")


def test_forestry_leads_with_plant_cover_and_agriculture_with_densities() -> None:
    forestry = [c.field for c in load_template("forestry").sheet("observations").columns]
    agriculture = [c.field for c in load_template("agriculture").sheet("observations").columns]

    assert forestry.index("cover_pct") < forestry.index("density_per_m2")
    assert forestry.index("density_per_m2") < forestry.index("egg_masses_per_m2")
    assert agriculture.index("density_per_m2") < agriculture.index("egg_masses_per_m2")
    assert agriculture.index("egg_masses_per_m2") < agriculture.index("cover_pct")
    assert sorted(forestry) == sorted(agriculture)


def test_restricted_to_keeps_only_the_sheets_of_those_sources() -> None:
    template = load_template("forestry")

    control = template.restricted_to({"control_operations", "control_by_method"})

    assert [sheet.key for sheet in control.sheets] == ["control_operations", "control_by_method"]
    assert control.bureau == template.bureau
    assert len(template.sheets) == 12  # the original is untouched
    with pytest.raises(ValueError, match="unknown sources: observation"):
        template.restricted_to({"observation"})


def test_sheet_looks_up_by_key() -> None:
    template = load_template("agriculture")

    assert template.sheet("follow_ups").title == "复查记录"
    with pytest.raises(KeyError):
        template.sheet("nope")


def test_header_key_is_blind_to_width_and_spaces() -> None:
    assert header_key("乡镇（街道）") == header_key("乡镇(街道)") == header_key(" 乡镇\n(街道) ")
    assert header_key("盖度（％）") == header_key("盖度(%)")
    assert header_key("经度") != header_key("纬度")


# --- Loading ------------------------------------------------------------------------------------------


def minimal() -> dict[str, Any]:
    return {
        "bureau": "test",
        "title": "测试",
        "sheets": [
            {
                "key": "observations",
                "title": "调查记录",
                "source": "observations",
                "columns": [
                    {"header": "调查日期", "field": "observed_at", "type": "datetime"},
                    {"header": "物种名称", "field": "species_name_zh", "type": "text"},
                    {"header": "发生面积（亩）", "field": "area_mu", "type": "number"},
                ],
            }
        ],
    }


def test_a_minimal_template_gets_defaults() -> None:
    template = parse_template(minimal())

    assert template == Template(bureau="test", title="测试", sheets=template.sheets, cover_title="封面")
    date_column, text_column, area = template.sheets[0].columns
    assert date_column.number_format == "yyyy-mm-dd hh:mm"
    assert date_column.width == 17
    assert text_column.number_format is None
    assert text_column.width == 14
    assert area.width == 16  # 发生面积（亩） is 14 columns wide, plus 2
    assert area.total is False and text_column.total is False


def test_a_total_is_kept_for_amounts_and_refused_where_rows_overlap() -> None:
    data = minimal()
    data["sheets"].append(
        {
            "key": "control",
            "title": "防治记录",
            "source": "control_operations",
            "columns": [
                {"header": "防治日期", "field": "performed_at", "type": "datetime"},
                {"header": "防治面积（亩）", "field": "area_mu", "type": "number", "total": True},
                {"header": "费用（元）", "field": "cost_yuan", "type": "number", "total": True},
            ],
        }
    )
    template = parse_template(data)
    assert [c.total for c in template.sheets[1].columns] == [False, True, True]

    # 调查记录 is a row per visit: a site counted four times in 数量 or 发生面积 would be a false figure.
    columns = data["sheets"][0]["columns"]
    columns[2]["total"] = True
    columns.append({"header": "数量（头/株）", "field": "count", "type": "integer", "total": True})
    with pytest.raises(TemplateError) as raised:
        parse_template(data)

    assert raised.value.problems == [
        f"template: sheets[0] (observations): columns[{i}] ({header}): {field!r} cannot have a total: its "
        "rows overlap (a site visited twice, a species in two categories) or it is a rate; "
        "'observations' totals only: none"
        for i, header, field in ((2, "发生面积（亩）", "area_mu"), (3, "数量（头/株）", "count"))
    ]


@pytest.mark.parametrize("bureau", ["forestry", "agriculture"])
def test_the_visit_sheet_totals_nothing_a_revisit_would_count_again(bureau: str) -> None:
    (observations,) = [s for s in load_template(bureau).sheets if s.source == "observations"]
    assert [c.header for c in observations.columns if c.total] == []


def test_a_template_loads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text((LAYOUTS_DIR / "forestry.toml").read_text(encoding="utf-8"), encoding="utf-8")

    assert load_template(path) == load_template("forestry")
    assert load_template(str(path)) == load_template("forestry")


def test_broken_toml_is_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('bureau = "x"\n[[sheets]\n', encoding="utf-8")

    with pytest.raises(TemplateError, match=r"broken\.toml: not valid TOML"):
        load_template(path)


@pytest.mark.parametrize("bureau", ["fisheries", "../forestry", "Forestry", ""])
def test_a_bureau_without_a_template_is_named(bureau: str) -> None:
    with pytest.raises(TemplateError) as raised:
        load_template(bureau)

    assert bureau.strip() == "" or repr(bureau) in raised.value.problems[0]


def test_the_bureau_in_the_file_must_match_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (LAYOUTS_DIR / "forestry.toml").read_text(encoding="utf-8")
    (tmp_path / "wetlands.toml").write_text(text, encoding="utf-8")
    monkeypatch.setattr("app.exports.layouts.LAYOUTS_DIR", tmp_path)

    with pytest.raises(TemplateError, match="bureau is 'forestry', expected 'wetlands'"):
        load_template("wetlands")


# --- Every problem, at once ---------------------------------------------------------------------------


def test_every_problem_is_listed_at_once() -> None:
    data = minimal()
    data["colour"] = "green"
    sheet = data["sheets"][0]
    sheet["title"] = "调查记录: 2024/05 [全部]"
    sheet["columns"] = [
        # The first column carries the 合计 label; 物种 名称 is 物种名称 but for a space.
        {"header": "面积", "field": "area_mu", "type": "number", "total": True},
        {"header": "物种名称", "field": "species_name_zh", "type": "string"},
        {"header": "物种 名称", "field": "species_name_sci", "type": "text"},
        {"header": "经度", "type": "number"},
        {"header": "海拔", "field": "elevation", "type": "number"},
        {"header": "调查日期", "field": "observed_at", "type": "date", "number_format": "0.00"},
        {"header": "数量", "field": "count", "type": "integer", "number_format": "yyyy-mm-dd"},
        {"header": "是否发现", "field": "detected", "type": "bool", "total": True},
        {"header": "备注", "field": "notes", "type": "text", "width": 0},
        {"header": "小地名", "field": "place_name", "type": "text", "width": "wide", "total": "yes"},
        {"header": "学名", "field": "species_name_zh", "type": "text"},
        {"header": "乡镇", "field": "township_name", "type": "text", "colour": "red"},
    ]
    data["sheets"].append(
        {
            "key": "observations",
            "title": "调查记录（二）",
            "source": "observations",
            "columns": [{"header": "备注", "field": "notes", "type": "text"}],
        }
    )
    data["sheets"].append({"key": "ops", "title": "封面", "source": "operations", "columns": []})
    data["sheets"].append({"key": "Bad Key", "title": "'quoted'", "source": "follow_ups", "columns": "none"})
    data["sheets"].append(
        {
            "key": "long",
            "title": "这是一个非常非常非常非常非常非常非常非常非常非常非常长的工作表名称",
            "source": "species_summary",
            "columns": [{"header": "物种名称", "field": "species_name_zh", "type": "text"}],
        }
    )

    with pytest.raises(TemplateError) as raised:
        parse_template(data, origin="test.toml")

    problems = "\n".join(raised.value.problems)
    expected = [
        "test.toml: unknown key 'colour'",
        "contains / : [ ], which Excel forbids in sheet names",
        "(面积): the first column carries the 合计 label, so it cannot have a total",
        "(物种名称): unknown type 'string'; types are: text, integer, number, date, datetime, bool",
        "(物种 名称): header is the same as '物种名称' in this sheet",
        "(经度): missing field",
        "(海拔): field 'elevation' is not offered by source 'observations'",
        "(调查日期): number_format '0.00' does not show a date",
        "(数量): number_format 'yyyy-mm-dd' would show numbers as dates",
        "(是否发现): total = true needs an integer or number column, not bool",
        "(备注): width must be a number above 0 and at most 255",
        "(小地名): width must be a number above 0 and at most 255",
        "(小地名): total must be true or false",
        "(学名): field 'species_name_zh' has another column in this sheet",
        "(乡镇): unknown key 'colour'",
        "sheets[1] (observations): key 'observations' is used by another sheet",
        "sheets[1] (observations): source 'observations' already fills sheet 'observations'",
        "sheets[2] (ops): unknown source 'operations'",
        "sheets[2] (ops): needs at least one [[sheets.columns]] table",
        "sheets[3] (Bad Key): key 'Bad Key' must be lower-case letters, digits and _",
        "\"'quoted'\" cannot start or end with an apostrophe",
        "sheets[3] (Bad Key): needs at least one [[sheets.columns]] table",
        "sheets[2] (ops): title '封面' is the same as cover_title's",
        "is longer than Excel's 31 characters",
    ]
    for message in expected:
        assert message in problems, message
    assert len(raised.value.problems) >= len(expected)


def test_a_sheet_title_is_unique_whatever_its_case() -> None:
    data = minimal()
    data["cover_title"] = "Summary"
    second = copy.deepcopy(data["sheets"][0])
    second.update(key="other", title="summary", source="follow_ups")
    second["columns"] = [{"header": "样点编号", "field": "site_code", "type": "text"}]
    data["sheets"].append(second)

    with pytest.raises(TemplateError, match="title 'summary' is the same as cover_title's"):
        parse_template(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bureau": None}, "missing bureau"),
        ({"bureau": "Forestry Bureau"}, "must be a lower-case code"),
        ({"title": ""}, "title must be non-empty text"),
        ({"sheets": []}, "needs at least one [[sheets]] table"),
        ({"sheets": ["observations"]}, "sheets[0]: must be a table"),
        ({"cover_title": "History"}, "'History' is reserved by Excel"),
    ],
)
def test_template_level_problems(change: dict[str, Any], message: str) -> None:
    data = {key: value for key, value in {**minimal(), **change}.items() if value is not None}

    with pytest.raises(TemplateError) as raised:
        parse_template(data)

    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_text_columns_take_only_the_text_format() -> None:
    data = minimal()
    data["sheets"][0]["columns"][1]["number_format"] = "@"
    assert parse_template(data).sheets[0].columns[1].number_format == "@"

    data["sheets"][0]["columns"][1]["number_format"] = "0.00"
    with pytest.raises(TemplateError, match="a text column takes no number_format but '@'"):
        parse_template(data)
