"""Census workbooks read back, for importing legacy data, and the row report that answers an import.

A legacy workbook is matched to a template (the bureau's, or one written for the legacy form): each
template sheet is found by its title and each column by its header text, so column order does not
matter and extra columns are ignored. Titles and headers compare blind to full-width/half-width forms
and to spaces and line breaks (`templates.header_key`), since hand-made forms differ in exactly those.
The header row is the one among the first rows that names the most template headers, so a title row
above the table does not get in the way.

Every template sheet and every template header must be there; otherwise `read_census` raises
ReaderError listing all that is missing, before any row is read, so an import never half-runs on a
workbook of the wrong shape. Restrict the template (`Template.restricted_to`) to read only some sheets.

Rows come back one at a time (read-only mode: memory stays flat), with the 合计 rows and blank rows
skipped. Values are converted by the column's type where that is lossless and unambiguous (是/否 to
bool, Excel dates to date/datetime, "12.5" to 12.5 in a number column); anything else is passed on as
found, so that the import's validation can reject the row and name the cell (`SheetRow.cells`).

The workbook is untrusted: it is refused before parsing if it is not a zip archive or if it would
unpack to more than MAX_UNCOMPRESSED_BYTES. Sheets are parsed lazily, so damage further in (a cut-off
or malformed sheet, a zip entry longer than its header says) can only show while the rows are read: it
raises ReaderError then, and the caller rolls back what it did with earlier rows.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Final

from openpyxl import Workbook, load_workbook  # noqa: TID251 - app/exports is openpyxl's home
from openpyxl.utils import get_column_letter  # noqa: TID251
from openpyxl.utils.exceptions import InvalidFileException  # noqa: TID251

from app.exports.templates import ColumnSpec, SheetSpec, Template, header_key
from app.exports.workbook import TOTAL_LABEL, discard_unsaved, safe_text, start_table

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "REPORT_STATUSES",
    "ReaderError",
    "SheetRow",
    "read_census",
    "write_row_report",
]

# A 100 000-row census sheet unpacks to a few hundred MB of XML; a zip bomb to far more.
MAX_UNCOMPRESSED_BYTES: Final = 1024 * 1024 * 1024
HEADER_SEARCH_ROWS: Final = 10  # how far down a header row is looked for
# First cells that mark a row of totals, not data.
_TOTAL_LABELS = frozenset(header_key(label) for label in (TOTAL_LABEL, "总计", "小计"))
_TRUE, _FALSE = "是", "否"

REPORT_TITLE: Final = "导入结果"
REPORT_COLUMNS: Final = (("工作表", 16.0), ("行号", 8.0), ("结果", 10.0), ("原因", 60.0), ("单元格", 10.0))
REPORT_STATUSES: Final = {"imported": "已导入", "rejected": "已拒绝"}


class ReaderError(ValueError):
    """The workbook cannot be read against the template; `problems` lists everything wrong with it.

    `missing_sheets` (sheet titles) and `missing_headers` (sheet title → headers) say the same in a
    form the caller can word for people."""

    def __init__(
        self,
        problems: list[str],
        *,
        missing_sheets: list[str] | None = None,
        missing_headers: dict[str, list[str]] | None = None,
    ):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.missing_sheets = missing_sheets or []
        self.missing_headers = missing_headers or {}


@dataclass(frozen=True)
class SheetRow:
    sheet_key: str
    row_number: int  # as Excel numbers it
    values: dict[str, Any]  # by field, every column of the template sheet; None for empty cells
    cells: dict[str, str]  # by field, the cell's reference ("C7"), for error reports


@dataclass(frozen=True)
class _Plan:
    sheet: SheetSpec
    worksheet: Any
    header_row: int
    positions: tuple[tuple[ColumnSpec, int, str], ...]  # column, 0-based index, column letter


# What a damaged archive or malformed XML raises (XML parsers' errors are SyntaxErrors, lxml's and the
# standard library's alike, entity bombs included).
_DAMAGE: Final = (zipfile.BadZipFile, zlib.error, EOFError, OSError, SyntaxError)


def read_census(
    source: BinaryIO | Path,
    template: Template,
    *,
    tz: tzinfo | None = None,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> Iterator[SheetRow]:
    """The data rows of every template sheet in the workbook, sheet by sheet in the template's order.

    Datetimes come back naive (Excel has no zones) unless `tz` is given, which is then attached: pass
    the district's zone to get back what was exported. Raises ReaderError, before yielding anything,
    when the file is not a readable .xlsx workbook or lacks a template sheet or header
    (FileNotFoundError for a path that names no file).
    """
    workbook = _open(source, max_uncompressed_bytes)
    try:
        plans = _plan(workbook, template)
    except _DAMAGE as exc:
        workbook.close()
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc
    except BaseException:
        workbook.close()
        raise
    return _rows(workbook, plans, tz)


def _open(source: BinaryIO | Path, limit: int) -> Any:
    try:
        with zipfile.ZipFile(source) as archive:  # leaves a file object it was given open
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ReaderError(
            [f"not an .xlsx workbook (an old .xls must be saved as .xlsx first; it is not a zip: {exc})"]
        ) from exc
    if unpacked > limit:
        raise ReaderError(
            [f"the workbook would unpack to {unpacked:,} bytes, more than the {limit:,} allowed"]
        )
    if not isinstance(source, Path):
        source.seek(0)
    try:
        return load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, TypeError, *_DAMAGE) as exc:
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc


def _plan(workbook: Any, template: Template) -> list[_Plan]:
    by_title = {header_key(name): name for name in workbook.sheetnames}
    problems: list[str] = []
    missing_sheets: list[str] = []
    missing_headers: dict[str, list[str]] = {}
    plans: list[_Plan] = []
    for sheet in template.sheets:
        name = by_title.get(header_key(sheet.title))
        if name is None:
            missing_sheets.append(sheet.title)
            problems.append(f"no sheet {sheet.title!r} (the workbook has: {', '.join(workbook.sheetnames)})")
            continue
        worksheet = workbook[name]
        # Some programs declare a wrong size (often "A1"); read-only mode would believe it and drop
        # rows and columns, so every row is read as it is.
        worksheet.reset_dimensions()
        header_row, found, duplicates = _find_headers(worksheet, sheet)
        missing = [column.header for column in sheet.columns if column.field not in found]
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
        plans.append(_Plan(sheet, worksheet, header_row, positions))
    if problems:
        raise ReaderError(problems, missing_sheets=missing_sheets, missing_headers=missing_headers)
    return plans


def _find_headers(worksheet: Any, sheet: SheetSpec) -> tuple[int, dict[str, int], dict[str, list[str]]]:
    """The header row (1-based), each field's column index in it, and template headers found twice."""
    wanted = {header_key(column.header): column for column in sheet.columns}
    best: tuple[int, dict[str, int], dict[str, list[str]]] = (1, {}, {})
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
            best = (number, found, duplicates)
    return best


def _rows(workbook: Any, plans: list[_Plan], tz: tzinfo | None) -> Iterator[SheetRow]:
    try:
        for plan in plans:
            converters = [
                (column.field, index, letter, _CONVERTERS[column.type])
                for column, index, letter in plan.positions
            ]
            first_row = plan.header_row + 1
            for number, raw in enumerate(
                plan.worksheet.iter_rows(min_row=first_row, values_only=True), first_row
            ):
                if not raw or _is_total(raw):  # rows missing from the file come back empty: no work
                    continue
                values: dict[str, Any] = {}
                cells: dict[str, str] = {}
                empty = True
                for field, index, letter, convert in converters:
                    value = raw[index] if index < len(raw) else None
                    if isinstance(value, str) and not value.strip():
                        value = None
                    if value is not None:
                        value = convert(value, tz)
                        empty = False
                    values[field] = value
                    cells[field] = f"{letter}{number}"
                if not empty:
                    yield SheetRow(plan.sheet.key, number, values, cells)
    except _DAMAGE as exc:
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
# Values: converted where lossless and unambiguous, else passed on as found for validation to reject.


def _text(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number: 500155001, not 500155001.0
    if isinstance(value, int | float):
        return str(value)
    return value


def _integer(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def _number(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return number if number == number and abs(number) != float("inf") else value
    return value


def _boolean(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, str):
        return {_TRUE: True, _FALSE: False}.get(value.strip(), value)
    return value


def _date(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(_iso(value))
        except ValueError:
            return value
    return value


def _datetime(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(_iso(value))
        except ValueError:
            return value
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)  # noqa: DTZ001 - a wall time; tz below
    if isinstance(value, datetime) and tz is not None and value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value


def _iso(text: str) -> str:
    """ "2023/07/15" and "2023.07.15" as ISO 8601, as forms filled by hand write them."""
    text = text.strip()
    return text[:10].replace("/", "-").replace(".", "-") + text[10:]


_CONVERTERS = {
    "text": _text,
    "integer": _integer,
    "number": _number,
    "bool": _boolean,
    "date": _date,
    "datetime": _datetime,
}


# ---------------------------------------------------------------------------------------------
# The row report


def write_row_report(
    target: BinaryIO | Path,
    rows: Iterable[tuple[str, int | None, str, str | None, str | None]],
) -> dict[str, int]:
    """Write the import's row report: one row per (sheet title, row number, status, reason, cell), with
    status "imported" or "rejected" (written 已导入 / 已拒绝). Reasons quote what people typed, so every
    text is neutralised as in the census workbooks. Returns the number of rows per status.

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
