"""What a legacy workbook's columns are to an import: the ones it cannot do without, the ones a row is
imported from (the template's others are named in the report, app/exports/import_report.py), and an
area column in m² read where the template has 亩."""

from __future__ import annotations

from dataclasses import replace

from app.exports.layouts import ColumnSpec, Template, header_key

# The columns an import cannot do without, per sheet: one field of each group must be there. Everything
# else, the system columns an export adds (记录编号, 记录标识, 审核状态, 质量提示) included, may be missing.
REQUIRED_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "observations": (
        ("observed_at",),
        ("species_name_zh", "species_name_sci"),
        ("latitude",),
        ("longitude",),
    ),
    "control_operations": (("performed_at",), ("site_code",), ("method_code", "method_name")),
}
# The fields a row is imported from (Importer.observation, Importer.operation; area_m2 is the m² form of
# area_mu, with_square_metre_columns). The template's other columns, those an export writes for people
# (审核状态, 质量提示, 调查单位, 记录编号; an operation's 物种名称, 乡镇 and 复查安排, which come from its
# site and method), are not imported, and the report names each one the workbook has.
IMPORTED_FIELDS: dict[str, frozenset[str]] = {
    "observations": frozenset(
        {
            "observed_at",
            "species_name_zh",
            "species_name_sci",
            "detected",
            "township_name",
            "township_code",
            "village_name",
            "village_code",
            "place_name",
            "longitude",
            "latitude",
            "altitude_m",
            "accuracy_m",
            "position_source",
            "habitat_class",
            "habitat",
            "area_mu",
            "area_m2",
            "cover_pct",
            "density_per_m2",
            "count",
            "egg_masses_per_m2",
            "severity",
            "site_code",  # the site a later operation row names
            "surveyor",
            "notes",
            "client_uuid",
        }
    ),
    "control_operations": frozenset(
        {
            "performed_at",
            "site_code",
            "method_code",
            "method_name",
            "area_mu",
            "area_m2",
            "labour_person_days",
            "cost_yuan",
            "team",
            "details",
            "operator",
            "notes",
            "client_uuid",
        }
    ),
}
# A bureau's own form may give an area in m² where the template has 亩 (发生面积（平方米）, 防治面积（m²）):
# read as the record's area_m2 (stored in m², docs/contract.md §2), not left out. Headers compare by
# `header_key`, so m², ㎡ and M2 are all "m2", and full- and half-width brackets alike.
SQUARE_METRE_UNITS = ("平方米", "平米", "m2")


def with_square_metre_columns(template: Template) -> Template:
    """The template, each sheet with a 亩 area column (field area_mu) and none in m² also reading the same
    header in m² (field area_m2): 发生面积（亩） → 发生面积（平方米）, 发生面积（平米）, 发生面积（m²）."""
    sheets = []
    for sheet in template.sheets:
        fields = {column.field for column in sheet.columns}
        extra: list[ColumnSpec] = []
        if "area_m2" not in fields:
            for column in sheet.columns:
                if column.field == "area_mu" and "亩" in column.header:
                    headers = dict.fromkeys(column.header.replace("亩", unit) for unit in SQUARE_METRE_UNITS)
                    extra += [
                        replace(column, header=header, field="area_m2", number_format=None, total=False)
                        for header in headers
                        if header_key(header) not in {header_key(c.header) for c in sheet.columns}
                    ]
        sheets.append(replace(sheet, columns=(*sheet.columns, *extra)) if extra else sheet)
    return replace(template, sheets=tuple(sheets))
