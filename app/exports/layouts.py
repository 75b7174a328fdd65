"""Census workbook layouts: which sheets a bureau's workbook has, and which columns, as data.

(A bureau's layout is its *template* in the bureaus' own words, the blank form it fills in: hence
`Template` and `load_template`. The folder is `layouts/`, not `templates/`, which in Flask means Jinja.)

The official census forms' column headings were never published; each bureau's own blank form is the
final word (docs/census.md, "Each bureau's template"). So the column sets live in TOML files, one per
bureau (`layouts/<bureau>.toml`, format in `layouts/README.md`), and matching a bureau's form is an
edit to its file, not to code.

A template names its sheets in order; each sheet draws its rows from one *source* and picks and orders
that source's fields as columns with Chinese headers, a type, a number format, a width and whether the
column gets a total. The sources and their fields are fixed here: they are the contract with the code
that queries the database and hands rows to `workbook.write_census`.

`load_template` checks everything before anything is written and reports every problem at once, so
whoever edits a template fixes it in one pass.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from openpyxl.styles.numbers import is_date_format  # noqa: TID251 - app/exports is openpyxl's home

__all__ = [
    "COLUMN_TYPES",
    "LAYOUTS_DIR",
    "SOURCES",
    "ColumnSpec",
    "SheetSpec",
    "Source",
    "Template",
    "TemplateError",
    "bureaus",
    "header_key",
    "load_template",
    "parse_template",
]

LAYOUTS_DIR: Final = Path(__file__).resolve().parent / "layouts"


@dataclass(frozen=True)
class Source:
    """Rows the caller supplies for a sheet: dicts with exactly these keys, values display-ready."""

    name: str
    summary: bool  # aggregated rows rather than one row per record
    fields: tuple[str, ...]
    # The fields whose total over the rows is a figure: an amount, each counted in one row only. A
    # field left out overlaps between rows (a site visited twice is two 调查记录 rows, a species in two
    # categories two rows) or is a rate, so `total = true` on it is refused (docs/census.md).
    totals: frozenset[str] = frozenset()


SOURCES: Final[Mapping[str, Source]] = {
    source.name: source
    for source in (
        Source(
            "observations",
            False,
            (
                "id", "client_uuid", "observed_at", "species_name_zh", "species_name_sci", "detected",
                "township_code", "township_name", "village_code", "village_name", "place_name", "latitude",
                "longitude", "accuracy_m", "altitude_m", "position_source", "habitat_class", "habitat",
                "area_m2", "area_mu", "cover_pct", "density_per_m2", "egg_masses_per_m2", "count", "severity",
                "status", "site_code", "surveyor", "organization", "flags", "notes",
            ),
        ),
        Source(
            "control_operations",
            False,
            (
                "id", "client_uuid", "performed_at", "site_code", "species_name_zh", "method_code",
                "method_name", "township_name", "area_m2", "area_mu", "labour_person_days", "cost_yuan",
                "team", "details", "operator", "organization", "follow_ups", "notes",
            ),
            frozenset({"area_m2", "area_mu", "labour_person_days", "cost_yuan"}),
        ),
        Source(
            "follow_ups",
            False,
            (
                "id", "site_code", "species_name_zh", "township_name", "kind", "offset_days", "due_on",
                "status", "overdue", "assignee", "completed_at", "density_reduction_pct",
                "egg_mass_reduction_pct", "cover_reduction_pct", "corrected_efficacy_pct",
            ),
        ),
        Source(
            "species_township",
            True,
            ("species_name_zh", "species_name_sci", "township_name", "points", "area_mu", "max_severity"),
            frozenset({"points", "area_mu"}),
        ),
        Source(
            "species_summary",
            True,
            ("species_name_zh", "species_name_sci", "townships", "points", "area_mu", "max_severity"),
            frozenset({"points", "area_mu"}),
        ),
        Source(
            "category_summary",
            True,
            ("category_name", "category_code", "species", "species_names", "points", "area_mu", "townships"),
        ),
        Source(
            "control_by_method",
            True,
            (
                "species_name_zh", "method_name", "operations", "area_mu", "extent_mu",
                "labour_person_days", "cost_yuan",
            ),
            frozenset({"operations", "area_mu", "labour_person_days", "cost_yuan"}),
        ),
        Source(
            "control_by_township",
            True,
            (
                "township_name", "township_code", "operations", "area_mu", "extent_mu",
                "labour_person_days", "cost_yuan",
            ),
            frozenset({"operations", "area_mu", "extent_mu", "labour_person_days", "cost_yuan"}),
        ),
        Source(
            "township_summary",
            True,
            (
                "township_name", "township_code", "species", "points", "area_mu", "control_area_mu",
                "reinspections_due", "reinspections_done", "reinspections_overdue",
            ),
            frozenset(
                {
                    "points", "area_mu", "control_area_mu", "reinspections_due", "reinspections_done",
                    "reinspections_overdue",
                }
            ),
        ),
        Source(
            "follow_up_summary",
            True,
            (
                "species_name_zh", "total", "done", "pending", "overdue", "cancelled", "completion_pct",
                "mean_density_reduction_pct",
            ),
            frozenset({"total", "done", "pending", "overdue", "cancelled"}),
        ),
        # 踏查记录: one row per survey route walked (app/exports/survey_routes.py).
        Source(
            "survey_routes",
            False,
            (
                "id", "client_uuid", "campaign", "unit_code", "unit_name", "township_name", "date",
                "started_at", "ended_at", "surveyor", "organization", "length_km", "duration_min",
                "point_count", "poor_point_count", "records", "species_found", "notes",
            ),
            frozenset({"length_km", "duration_min", "point_count", "poor_point_count", "records"}),
        ),
        # 样地调查: one row per plot and species (app/exports/plot_sheet.py).
        Source(
            "plots",
            False,
            (
                "plot_id", "site_code", "township_name", "surveyed_at", "surveyor", "organization",
                "campaign", "shape", "area_m2", "area_mu", "quadrats", "quadrat_area_m2", "habitat",
                "latitude", "longitude", "species_name_zh", "species_name_sci", "quadrats_present",
                "frequency_pct", "mean_density_per_m2", "mean_cover_pct", "mean_height_cm", "total_count",
                "notes",
            ),
            frozenset({"total_count"}),
        ),
    )
}  # fmt: skip

COLUMN_TYPES: Final = ("text", "integer", "number", "date", "datetime", "bool")
_NUMERIC_TYPES = frozenset({"integer", "number"})
_DEFAULT_FORMATS = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}
# Wide enough for a typical value of the type; a header wider than this widens its column.
_DEFAULT_WIDTHS = {"text": 14.0, "integer": 10.0, "number": 12.0, "date": 12.0, "datetime": 17.0, "bool": 8.0}
_MAX_WIDTH = 255.0  # Excel's limit

DEFAULT_COVER_TITLE: Final = "封面"
_TITLE_MAX = 31  # Excel's limits on sheet names
_TITLE_FORBIDDEN = frozenset("[]:*?/\\")
_KEY_RE = re.compile(r"[a-z][a-z0-9_]*")
_BUREAU_RE = re.compile(r"[a-z][a-z0-9_-]*")

_TEMPLATE_KEYS = frozenset({"bureau", "title", "cover_title", "sheets"})
_SHEET_KEYS = frozenset({"key", "title", "source", "columns"})
_COLUMN_KEYS = frozenset({"header", "field", "type", "number_format", "width", "total"})


class TemplateError(ValueError):
    """A template is unusable; `problems` lists every problem found, each naming where it is."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ColumnSpec:
    header: str  # Chinese, as on the bureau's form; unique within its sheet
    field: str  # a field of the sheet's source
    type: str  # one of COLUMN_TYPES
    number_format: str | None  # Excel's; dates and datetimes always have one
    width: float  # in Excel's character units
    total: bool  # a SUBTOTAL below the data (integer and number columns only)


@dataclass(frozen=True)
class SheetSpec:
    key: str  # stable id: write_census reports rows written by it
    title: str  # the sheet's name in Excel
    source: str  # a key of SOURCES; write_census takes rows by it
    columns: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class Template:
    bureau: str
    title: str  # the workbook's title (its document properties)
    sheets: tuple[SheetSpec, ...]
    cover_title: str = DEFAULT_COVER_TITLE

    def sheet(self, key: str) -> SheetSpec:
        for sheet in self.sheets:
            if sheet.key == key:
                return sheet
        raise KeyError(key)

    def restricted_to(self, sources: Collection[str]) -> Template:
        """The same template with only the sheets drawn from `sources` (e.g. a control-only export, or
        reading only the detail sheets of a legacy workbook)."""
        unknown = sorted(set(sources) - set(SOURCES))
        if unknown:
            raise ValueError(f"unknown sources: {', '.join(unknown)}")
        return replace(self, sheets=tuple(sheet for sheet in self.sheets if sheet.source in sources))


def header_key(text: str) -> str:
    """How headers (and sheet titles) are compared when reading a workbook: full-width and half-width
    forms alike (NFKC: "乡镇（街道）" == "乡镇(街道)"), and blind to spaces and line breaks."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def bureaus() -> list[str]:
    """The bureaus that have a template shipped in LAYOUTS_DIR."""
    return sorted(path.stem for path in LAYOUTS_DIR.glob("*.toml"))


def load_template(path_or_bureau: str | Path) -> Template:
    """The template in a TOML file, or the one shipped for a bureau ("forestry").

    Raises TemplateError listing every problem; FileNotFoundError when a path names no file.
    """
    if isinstance(path_or_bureau, Path) or path_or_bureau.endswith(".toml"):
        path = Path(path_or_bureau)
        expected_bureau = None
    else:
        if not _BUREAU_RE.fullmatch(path_or_bureau):
            raise TemplateError([f"{path_or_bureau!r} is not a bureau code"])
        path = LAYOUTS_DIR / f"{path_or_bureau}.toml"
        if not path.is_file():
            known = ", ".join(bureaus()) or "none"
            raise TemplateError([f"no template for bureau {path_or_bureau!r} (templates exist for: {known})"])
        expected_bureau = path_or_bureau
    with path.open("rb") as file:
        try:
            data = tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError([f"{path.name}: not valid TOML: {exc}"]) from exc
    template = parse_template(data, origin=path.name)
    if expected_bureau is not None and template.bureau != expected_bureau:
        raise TemplateError([f"{path.name}: bureau is {template.bureau!r}, expected {expected_bureau!r}"])
    return template


class _Problems:
    """Collects problems, each prefixed with where it is; called like a function."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, where: str, message: str) -> None:
        self.found.append(f"{where}: {message}")


def parse_template(data: Mapping[str, Any], *, origin: str = "template") -> Template:
    """Check a template's parsed TOML and build it; raises TemplateError listing every problem."""
    problem = _Problems()
    _unknown_keys(data, _TEMPLATE_KEYS, origin, problem)
    bureau = _text(data, "bureau", origin, problem)
    if bureau is not None and not _BUREAU_RE.fullmatch(bureau):
        problem(origin, f"bureau {bureau!r} must be a lower-case code such as 'forestry'")
    title = _text(data, "title", origin, problem)
    cover_title = _text(data, "cover_title", origin, problem, required=False) or DEFAULT_COVER_TITLE
    _check_sheet_title(cover_title, f"{origin}: cover_title", problem)
    titles_seen = {cover_title.casefold(): "cover_title"}  # Excel compares sheet names case-blind
    keys_seen: set[str] = set()
    sources_seen: dict[str, str] = {}

    raw_sheets = data.get("sheets")
    sheets: list[SheetSpec] = []
    if not isinstance(raw_sheets, list) or not raw_sheets:
        problem(origin, "needs at least one [[sheets]] table")
        raw_sheets = []
    for index, raw in enumerate(raw_sheets):
        where = f"{origin}: sheets[{index}]"
        if not isinstance(raw, dict):
            problem(where, "must be a table")
            continue
        sheet = _parse_sheet(raw, where, problem)
        # Clashes are checked on the raw values, so that they show even beside other problems.
        key, sheet_title, source = (raw.get(name) for name in ("key", "title", "source"))
        if isinstance(key, str):
            where = f"{where} ({key})"
            if key in keys_seen:
                problem(where, f"key {key!r} is used by another sheet")
            keys_seen.add(key)
        # write_census takes rows by source, and rows are consumed once: one sheet per source.
        if isinstance(source, str) and source in SOURCES:
            if source in sources_seen:
                problem(where, f"source {source!r} already fills sheet {sources_seen[source]!r}")
            sources_seen.setdefault(source, str(key))
        if isinstance(sheet_title, str):
            folded = sheet_title.casefold()
            if folded in titles_seen:
                problem(where, f"title {sheet_title!r} is the same as {titles_seen[folded]}'s")
            titles_seen.setdefault(folded, f"sheet {key!r}")
        if sheet is not None:
            sheets.append(sheet)

    if problem.found or bureau is None or title is None:
        raise TemplateError(problem.found)
    return Template(bureau=bureau, title=title, sheets=tuple(sheets), cover_title=cover_title)


def _parse_sheet(raw: Mapping[str, Any], where: str, problem: _Problems) -> SheetSpec | None:
    before = len(problem.found)
    key = _text(raw, "key", where, problem)
    if key is not None:
        where = f"{where} ({key})"
        if not _KEY_RE.fullmatch(key):
            problem(where, f"key {key!r} must be lower-case letters, digits and _")
    _unknown_keys(raw, _SHEET_KEYS, where, problem)
    title = _text(raw, "title", where, problem)
    if title is not None:
        _check_sheet_title(title, f"{where}: title", problem)
    source_name = _text(raw, "source", where, problem)
    source = SOURCES.get(source_name) if source_name is not None else None
    if source_name is not None and source is None:
        problem(where, f"unknown source {source_name!r}; sources are: {', '.join(SOURCES)}")

    raw_columns = raw.get("columns")
    columns: list[ColumnSpec] = []
    if not isinstance(raw_columns, list) or not raw_columns:
        problem(where, "needs at least one [[sheets.columns]] table")
        raw_columns = []
    headers_seen: dict[str, str] = {}
    fields_seen: set[str] = set()
    for index, raw_column in enumerate(raw_columns):
        column_where = f"{where}: columns[{index}]"
        if not isinstance(raw_column, dict):
            problem(column_where, "must be a table")
            continue
        column = _parse_column(raw_column, column_where, source, problem)
        # Clashes are checked on the raw values, so that they show even beside other problems.
        header, field = raw_column.get("header"), raw_column.get("field")
        if isinstance(header, str) and header.strip():
            column_where = f"{column_where} ({header})"
            folded = header_key(header)
            if folded in headers_seen:
                problem(column_where, f"header is the same as {headers_seen[folded]!r} in this sheet")
            headers_seen.setdefault(folded, header)
        if isinstance(field, str):
            if field in fields_seen:
                problem(column_where, f"field {field!r} has another column in this sheet")
            fields_seen.add(field)
        if index == 0 and raw_column.get("total") is True:
            problem(column_where, "the first column carries the 合计 label, so it cannot have a total")
        if column is None:
            continue
        columns.append(column)

    if len(problem.found) > before or key is None or title is None or source is None:
        return None
    return SheetSpec(key=key, title=title, source=source.name, columns=tuple(columns))


def _parse_column(
    raw: Mapping[str, Any], where: str, source: Source | None, problem: _Problems
) -> ColumnSpec | None:
    before = len(problem.found)
    header = _text(raw, "header", where, problem)
    if header is not None:
        where = f"{where} ({header})"
    _unknown_keys(raw, _COLUMN_KEYS, where, problem)
    field = _text(raw, "field", where, problem)
    if field is not None and source is not None and field not in source.fields:
        problem(where, f"field {field!r} is not offered by source {source.name!r}")
    type_ = _text(raw, "type", where, problem)
    if type_ is not None and type_ not in COLUMN_TYPES:
        problem(where, f"unknown type {type_!r}; types are: {', '.join(COLUMN_TYPES)}")
        type_ = None

    number_format = _text(raw, "number_format", where, problem, required=False)
    if number_format is not None and type_ is not None:
        if len(number_format) > 255:
            problem(where, "number_format is longer than Excel allows (255)")
        elif type_ in _DEFAULT_FORMATS and not is_date_format(number_format):
            problem(where, f"number_format {number_format!r} does not show a {type_}")
        elif type_ in _NUMERIC_TYPES and is_date_format(number_format):
            problem(where, f"number_format {number_format!r} would show numbers as dates")
        elif type_ in ("text", "bool") and number_format != "@":
            problem(where, f"a {type_} column takes no number_format but '@' (text)")
    if number_format is None and type_ is not None:
        number_format = _DEFAULT_FORMATS.get(type_)

    width = raw.get("width")
    if width is not None and (
        isinstance(width, bool) or not isinstance(width, int | float) or not 0 < width <= _MAX_WIDTH
    ):
        problem(where, f"width must be a number above 0 and at most {_MAX_WIDTH:g}")
        width = None
    total = raw.get("total", False)
    if not isinstance(total, bool):
        problem(where, "total must be true or false")
        total = False
    if total and type_ is not None and type_ not in _NUMERIC_TYPES:
        problem(where, f"total = true needs an integer or number column, not {type_}")
    elif total and source is not None and field in source.fields and field not in source.totals:
        allowed = ", ".join(sorted(source.totals)) or "none"
        problem(
            where,
            f"{field!r} cannot have a total: its rows overlap (a site visited twice, a species in two "
            f"categories) or it is a rate; {source.name!r} totals only: {allowed}",
        )

    if len(problem.found) > before or header is None or field is None or type_ is None:
        return None
    if width is None:
        width = max(_DEFAULT_WIDTHS[type_], _display_width(header) + 2)
    return ColumnSpec(
        header=header, field=field, type=type_, number_format=number_format, width=float(width), total=total
    )


def _text(
    data: Mapping[str, Any], key: str, where: str, problem: _Problems, *, required: bool = True
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            problem(where, f"missing {key}")
        return None
    if not isinstance(value, str) or not value.strip():
        problem(where, f"{key} must be non-empty text")
        return None
    return value


def _unknown_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str, problem: _Problems) -> None:
    for key in sorted(set(data) - allowed):
        problem(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _check_sheet_title(title: str, where: str, problem: _Problems) -> None:
    if len(title) > _TITLE_MAX:
        problem(where, f"{title!r} is longer than Excel's {_TITLE_MAX} characters")
    bad = sorted(set(title) & _TITLE_FORBIDDEN)
    if bad:
        problem(where, f"{title!r} contains {' '.join(bad)}, which Excel forbids in sheet names")
    if title.startswith("'") or title.endswith("'"):
        problem(where, f"{title!r} cannot start or end with an apostrophe")
    if title.casefold() == "history":
        problem(where, "'History' is reserved by Excel")


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
