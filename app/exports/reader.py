"""Census workbooks read back, for importing legacy data, and the row report that answers an import.

A legacy workbook is matched to a template (the bureau's, or one written for the legacy form): each
template sheet is found by its title and each column by its header text, so column order does not
matter; extra columns are not read (see below). Titles and headers compare blind to full-width/half-width
forms and to spaces and line breaks (`layouts.header_key`), since hand-made forms differ in exactly those.
The header row is the one among the first rows that names the most template headers, so a title row
above the table does not get in the way.

Columns the template does not know are not read, but never silently: `CensusRows.ignored` names each
(its header and letter), and a column without a header that holds values (one under a header merged over
it and its neighbour included) once the rows are read, so the caller can say what was not imported.
`CensusRows.columns` lists the template columns found (a caller that uses only some of them names the
others), and `CensusRows.unread_sheets` the workbook's sheets that were not read at all.

Every template sheet and every template header must be there unless the caller says which columns it
needs (`required`: per sheet, groups of fields of which one must be there, as a legacy form without the
system columns is read); otherwise `read_census` raises ReaderError listing all that is missing, before
any row is read, so an import never half-runs on a workbook of the wrong shape. Restrict the template
(`Template.restricted_to`) to read only some sheets.

Rows come back one at a time (read-only mode: memory stays flat), with the 合计 rows and blank rows
skipped. A cell merged over several data rows (物种名称 福寿螺 over rows 5–9, a day's 调查日期) gives its
value to every row it covers, in its column, as a person reading the sheet sees it; read-only mode does
not read merges, so they come from the check made before parsing (`OpenWorkbook.merged_ranges`, the
sheet's <mergeCells>, bounded like every element). A merge only ever fills down its first column: one
across columns is not copied sideways, where which column it meant would be a guess. A merge that starts
in or above the header row gives data rows nothing (its value is a heading, not data), and a row whose
only values would come from merges is blank (a date merged past the last record makes no rows).

Values are converted by the column's type where that is lossless and unambiguous (app/sheets/values.py:
是/否, Excel dates, numbers typed as text, the date forms people type); anything else is passed on as
found, so that the import's validation can reject the row and name the cell (`SheetRow.cells`).

The workbook is untrusted: before openpyxl sees it, it is checked against `ReadLimits`
(app/sheets/bounded.py). Sheets are then parsed lazily, so damage further in (a cut-off or malformed
sheet) can only show while the rows are read: it raises ReaderError then, and the caller rolls back what
it did with earlier rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Final

from openpyxl import Workbook  # noqa: TID251 - app/exports is openpyxl's home
from openpyxl.utils import get_column_letter, range_boundaries  # noqa: TID251

from app.exports.layouts import ColumnSpec, SheetSpec, Template, header_key
from app.exports.workbook import TOTAL_LABEL, discard_unsaved, safe_text, start_table
from app.sheets.bounded import (
    DAMAGE,
    MAX_UNCOMPRESSED_BYTES,
    OpenWorkbook,
    ReaderError,
    ReadLimits,
    WorkbookTooLarge,
    open_checked,
)
from app.sheets.values import CONVERTERS, parse_datetime_text

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "REPORT_STATUSES",
    "CensusRows",
    "IgnoredColumn",
    "ReadLimits",
    "ReaderError",
    "SheetRow",
    "TemplateColumn",
    "WorkbookTooLarge",
    "parse_datetime_text",
    "read_census",
    "write_row_report",
]

HEADER_SEARCH_ROWS: Final = 10  # how far down a header row is looked for
_MAX_COLUMNS: Final = 16_384  # Excel's limit
# First cells that mark a row of totals, not data.
_TOTAL_LABELS = frozenset(header_key(label) for label in (TOTAL_LABEL, "总计", "小计"))

REPORT_TITLE: Final = "导入结果"
REPORT_COLUMNS: Final = (("工作表", 16.0), ("行号", 8.0), ("结果", 10.0), ("原因", 60.0), ("单元格", 10.0))
REPORT_STATUSES: Final = {
    "imported": "已导入",
    "rejected": "已拒绝",
    "ignored": "未导入的列",
    "ignored_sheet": "未导入的工作表",
}


@dataclass(frozen=True)
class SheetRow:
    sheet_key: str
    row_number: int  # as Excel numbers it
    values: dict[str, Any]  # by field, every column of the template sheet; None for empty cells
    cells: dict[str, str]  # by field, the cell's reference ("C7"), for error reports


@dataclass(frozen=True)
class IgnoredColumn:
    """A column of a template sheet's table that the template does not know: its values are not read."""

    sheet_key: str
    sheet_title: str
    index: int  # 0-based
    letter: str  # "H"
    header: str | None  # its header's text; None for a column without one
    cell: str  # its header's cell ("H2"); for a column without a header, its first cell with a value
    row: int  # the row of `cell`
    # For a column without a header of its own under a header merged over it: the letter of the merged
    # header's first column (the one read, when it is a template column), `header` being that header.
    under: str | None = None


@dataclass(frozen=True)
class TemplateColumn:
    """A column of a template sheet found in the workbook's header row: its values are read."""

    sheet_key: str
    sheet_title: str
    field: str
    index: int  # 0-based
    letter: str  # "H"
    header: str  # its header's text, as the workbook writes it
    cell: str  # its header's cell ("H2")
    row: int  # the header row


@dataclass(frozen=True)
class _Plan:
    sheet: SheetSpec
    name: str  # the sheet's title in the workbook
    worksheet: Any
    header_row: int
    positions: tuple[tuple[ColumnSpec, int, str], ...]  # column, 0-based index, column letter
    found: tuple[TemplateColumn, ...]  # the same columns, as the workbook names them
    ignored: tuple[IgnoredColumn, ...]  # the columns with a header the template does not know
    # Header cells merged across columns: (first column, last column, text, first letter), in order.
    under_merged: tuple[tuple[int, int, str, str], ...]
    # Cells merged over data rows in a template column: first row → (0-based column, last row).
    merges: Mapping[int, tuple[tuple[int, int], ...]]


def read_census(
    source: BinaryIO | Path,
    template: Template,
    *,
    tz: tzinfo | None = None,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    limits: ReadLimits | None = None,
    required: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> CensusRows:
    """The data rows of every template sheet in the workbook, sheet by sheet in the template's order;
    then (`ignored`) the columns of those sheets it did not read.

    Datetimes come back naive (Excel has no zones) unless `tz` is given, which is then attached: pass
    the district's zone to get back what was exported. Raises ReaderError, before yielding anything,
    when the file is not a readable .xlsx workbook or lacks a template sheet or header, and its
    WorkbookTooLarge when it passes a limit (FileNotFoundError for a path that names no file).

    With `required` (sheet key → groups of fields, one of each group needed), only those columns must be
    there; a template sheet the workbook lacks is skipped, as long as one of them is there. Missing
    columns read as None.
    """
    limits = limits or ReadLimits(inflated_bytes=max_uncompressed_bytes)
    opened = open_checked(source, limits)
    workbook = opened.workbook
    try:
        plans = _plan(opened, template, required)
    except DAMAGE as exc:
        workbook.close()
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc
    except BaseException:
        workbook.close()
        raise
    read = {plan.name for plan in plans}
    return CensusRows(workbook, plans, tz, [name for name in workbook.sheetnames if name not in read])


def _plan(
    opened: OpenWorkbook, template: Template, required: Mapping[str, Sequence[Sequence[str]]] | None
) -> list[_Plan]:
    workbook = opened.workbook
    by_title = {header_key(name): name for name in workbook.sheetnames}
    problems: list[str] = []
    missing_sheets: list[str] = []
    missing_headers: dict[str, list[str]] = {}
    plans: list[_Plan] = []
    present = [sheet for sheet in template.sheets if header_key(sheet.title) in by_title]
    for sheet in template.sheets:
        name = by_title.get(header_key(sheet.title))
        if name is None:
            if required is not None and present:
                continue  # a legacy workbook need not have every sheet, only one to import
            missing_sheets.append(sheet.title)
            problems.append(f"no sheet {sheet.title!r} (the workbook has: {', '.join(workbook.sheetnames)})")
            continue
        worksheet = workbook[name]
        # Some programs declare a wrong size (often "A1"); read-only mode would believe it and drop
        # rows and columns, so every row is read as it is.
        worksheet.reset_dimensions()
        header_row, found, duplicates, header_values = _find_headers(worksheet, sheet)
        if required is None:
            missing = [column.header for column in sheet.columns if column.field not in found]
        else:
            headers = {column.field: column.header for column in sheet.columns}
            missing = [
                " / ".join(headers[field] for field in group if field in headers)
                for group in required.get(sheet.key, ())
                if not any(field in found for field in group)
            ]
        if missing:
            missing_headers[sheet.title] = missing
            problems.append(f"sheet {sheet.title!r}: no column {', '.join(missing)}")
        for header, letters in duplicates.items():
            problems.append(
                f"sheet {sheet.title!r}: column {header} appears more than once ({', '.join(letters)})"
            )
        positions = tuple(
            (column, found[column.field], get_column_letter(found[column.field] + 1))
            for column in sheet.columns
            if column.field in found
        )
        found_columns = tuple(
            TemplateColumn(
                sheet.key,
                sheet.title,
                column.field,
                index,
                letter,
                str(header_values[index]).strip(),
                f"{letter}{header_row}",
                header_row,
            )
            for column, index, letter in positions
        )
        ranges = opened.merged_ranges(worksheet)
        known = {index for _column, index, _letter in positions}
        ignored = tuple(
            IgnoredColumn(
                sheet.key, sheet.title, index, letter, str(value).strip(), f"{letter}{header_row}", header_row
            )
            for index, value in enumerate(header_values)
            if index not in known and not _blank(value)
            for letter in (get_column_letter(index + 1),)
        )
        under_merged = _under_merged_headers(ranges, header_row, header_values)
        merges = _data_merges(ranges, header_row, known)
        plans.append(
            _Plan(sheet, name, worksheet, header_row, positions, found_columns, ignored, under_merged, merges)
        )
    if problems:
        raise ReaderError(problems, missing_sheets=missing_sheets, missing_headers=missing_headers)
    return plans


def _find_headers(
    worksheet: Any, sheet: SheetSpec
) -> tuple[int, dict[str, int], dict[str, list[str]], tuple[Any, ...]]:
    """The header row (1-based), each field's column index in it, template headers found twice, and the
    header row's values."""
    wanted = {header_key(column.header): column for column in sheet.columns}
    best: tuple[int, dict[str, int], dict[str, list[str]], tuple[Any, ...]] = (1, {}, {}, ())
    for number, values in enumerate(
        worksheet.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, values_only=True), 1
    ):
        found: dict[str, int] = {}
        duplicates: dict[str, list[str]] = {}
        for index, value in enumerate(values):
            if not isinstance(value, str):
                continue
            column = wanted.get(header_key(value))
            if column is None:
                continue
            if column.field in found:
                first = get_column_letter(found[column.field] + 1)
                duplicates.setdefault(column.header, [f"{first}{number}"]).append(
                    f"{get_column_letter(index + 1)}{number}"
                )
                continue
            found[column.field] = index
        if len(found) > len(best[1]):
            best = (number, found, duplicates, tuple(values))
    return best


def _under_merged_headers(
    ranges: Iterable[str], header_row: int, header_values: tuple[Any, ...]
) -> tuple[tuple[int, int, str, str], ...]:
    """The header cells merged across columns in the header row, as (first column, last column (1-based),
    the header's text, its first column's letter), by first column: one each (Excel's merges do not
    overlap; a workbook's that do count once), so a lookup stays cheap whatever the workbook says."""
    by_first: dict[int, tuple[int, int, str, str]] = {}
    for ref in ranges:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if min_col is None or max_col is None or min_row != header_row or max_row is None:
            continue
        anchor = header_values[min_col - 1] if min_col - 1 < len(header_values) else None
        if max_col > min_col and not _blank(anchor):
            by_first[min_col] = (min_col, max_col, str(anchor).strip(), get_column_letter(min_col))
    return tuple(by_first[first] for first in sorted(by_first))


def _merged_header(plan: _Plan, index: int) -> tuple[str | None, str | None]:
    """The merged header over a column beside its first (0-based `index`): (text, first letter)."""
    column = index + 1
    at = bisect.bisect_right(plan.under_merged, (column, _MAX_COLUMNS + 1)) - 1
    if at >= 0:
        first, last, text, letter = plan.under_merged[at]
        if first < column <= last:
            return text, letter
    return None, None


def _data_merges(
    ranges: Iterable[str], header_row: int, columns: set[int]
) -> dict[int, tuple[tuple[int, int], ...]]:
    """The merges that fill data rows: those starting below the header row, over more than one row, whose
    first column is a template column; by first row. A range that is no range is left out (the check
    bounds how many there are, not what they say)."""
    starts: dict[int, list[tuple[int, int]]] = {}
    for ref in ranges:
        try:
            min_col, min_row, _max_col, max_row = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if min_col is None or min_row is None or max_row is None:
            continue  # a whole row or column ("A:A"): not a cell people merged
        if min_row > header_row and max_row > min_row and min_col - 1 in columns:
            starts.setdefault(min_row, []).append((min_col - 1, max_row))
    return {row: tuple(merges) for row, merges in starts.items()}


def _watch(
    plan: _Plan, number: int, raw: tuple[Any, ...], read: set[int], ignored: list[IgnoredColumn]
) -> None:
    """Name the columns without a header (not read) where this row has a value, each once."""
    for index, value in enumerate(raw):
        if index in read or _blank(value):
            continue
        read.add(index)
        letter = get_column_letter(index + 1)
        header, under = _merged_header(plan, index)
        ignored.append(
            IgnoredColumn(
                plan.sheet.key, plan.sheet.title, index, letter, header, f"{letter}{number}", number, under
            )
        )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class CensusRows(Iterator[SheetRow]):
    """The data rows `read_census` yields, the columns it did not read (`ignored`), the template columns
    it read (`columns`) and the sheets it did not read (`unread_sheets`)."""

    def __init__(self, workbook: Any, plans: list[_Plan], tz: tzinfo | None, unread_sheets: list[str]):
        self._order = {plan.sheet.key: number for number, plan in enumerate(plans)}
        self._ignored = [column for plan in plans for column in plan.ignored]
        self._rows = _rows(workbook, plans, tz, self._ignored)
        # The template columns found, sheet by sheet, left to right.
        self.columns = [column for plan in plans for column in sorted(plan.found, key=lambda c: c.index)]
        # The workbook's sheets no template sheet matched (or a second one matching the same), in its order.
        self.unread_sheets = unread_sheets

    def __next__(self) -> SheetRow:
        return next(self._rows)

    @property
    def ignored(self) -> list[IgnoredColumn]:
        """The columns not read, sheet by sheet, left to right: those with a header the template does
        not know at once; those without a header, once their values have been read (all rows)."""
        return sorted(self._ignored, key=lambda column: (self._order[column.sheet_key], column.index))


def _rows(
    workbook: Any, plans: list[_Plan], tz: tzinfo | None, ignored: list[IgnoredColumn]
) -> Iterator[SheetRow]:
    try:
        for plan in plans:
            # Columns not read and without a header: watched for values, said once they hold one.
            read = {index for _column, index, _letter in plan.positions}
            read.update(column.index for column in plan.ignored)
            converters = [
                (column.field, index, letter, CONVERTERS[column.type])
                for column, index, letter in plan.positions
            ]
            # Column → (first row, last row, the value) of the merge covering it now.
            merged: dict[int, tuple[int, int, Any]] = {}
            first_row = plan.header_row + 1
            for number, raw in enumerate(
                plan.worksheet.iter_rows(min_row=first_row, values_only=True), first_row
            ):
                for index, last_row in plan.merges.get(number, ()):
                    merged[index] = (number, last_row, raw[index] if index < len(raw) else None)
                if not raw or _is_total(raw):  # rows missing from the file come back empty: no work
                    continue
                _watch(plan, number, raw, read, ignored)
                values: dict[str, Any] = {}
                cells: dict[str, str] = {}
                empty = True  # of the row's own values: merges alone make no row
                for field, index, letter, convert in converters:
                    value = raw[index] if index < len(raw) else None
                    if not _blank(value):
                        empty = False
                    cover = merged.get(index)
                    if cover is not None and cover[0] < number <= cover[1]:
                        value = cover[2]  # what the sheet shows here: the merged cell's value
                    if _blank(value):
                        value = None
                    if value is not None:
                        value = convert(value, tz)
                    values[field] = value
                    cells[field] = f"{letter}{number}"
                if not empty:
                    yield SheetRow(plan.sheet.key, number, values, cells)
    except DAMAGE as exc:
        raise ReaderError([f"sheet {plan.sheet.title!r} is damaged ({type(exc).__name__}: {exc})"]) from exc
    finally:
        workbook.close()


def _is_total(raw: tuple[Any, ...]) -> bool:
    for value in raw:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        return isinstance(value, str) and header_key(value) in _TOTAL_LABELS
    return False


# ---------------------------------------------------------------------------------------------
# The row report


def write_row_report(
    target: BinaryIO | Path,
    rows: Iterable[tuple[str, int | None, str, str | None, str | None]],
) -> dict[str, int]:
    """Write the import's row report: one row per (sheet title, row number, status, reason, cell), with
    status "imported" or "rejected" (written 已导入 / 已拒绝), "ignored" for a column not imported
    (未导入的列, at the row of the cell named) or "ignored_sheet" for a sheet not imported (未导入的工作表,
    no row). Reasons quote what people typed, so every text is
    neutralised as in the census workbooks. Returns the number of rows per status.

    Raises ValueError for another status.
    """
    workbook = Workbook(write_only=True)
    counts = dict.fromkeys(REPORT_STATUSES, 0)
    try:
        ws = start_table(workbook, REPORT_TITLE, REPORT_COLUMNS)
        for sheet_title, row_number, status, reason, cell in rows:
            label = REPORT_STATUSES.get(status)
            if label is None:
                raise ValueError(f"unknown status {status!r}; expected one of {', '.join(REPORT_STATUSES)}")
            counts[status] += 1
            ws.append(
                [
                    safe_text(ws, str(sheet_title)),
                    row_number,
                    label,
                    safe_text(ws, str(reason)) if reason else None,
                    safe_text(ws, str(cell)) if cell else None,
                ]
            )
        ws.auto_filter.ref = f"A1:{get_column_letter(len(REPORT_COLUMNS))}{sum(counts.values()) + 1}"
        workbook.save(target)
    except BaseException:
        discard_unsaved(workbook)
        raise
    return counts
