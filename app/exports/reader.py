"""Census workbooks read back, for importing legacy data, and the row report that answers an import.

A legacy workbook is matched to a template (the bureau's, or one written for the legacy form): each
template sheet is found by its title and each column by its header text, so column order does not
matter and extra columns are ignored. Titles and headers compare blind to full-width/half-width forms
and to spaces and line breaks (`layouts.header_key`), since hand-made forms differ in exactly those.
The header row is the one among the first rows that names the most template headers, so a title row
above the table does not get in the way.

Every template sheet and every template header must be there unless the caller says which columns it
needs (`required`: per sheet, groups of fields of which one must be there, as a legacy form without the
system columns is read); otherwise `read_census` raises ReaderError listing all that is missing, before
any row is read, so an import never half-runs on a workbook of the wrong shape. Restrict the template
(`Template.restricted_to`) to read only some sheets.

Rows come back one at a time (read-only mode: memory stays flat), with the 合计 rows and blank rows
skipped. Values are converted by the column's type where that is lossless and unambiguous (是/否 to
bool, Excel dates to date/datetime, "12.5" to 12.5 in a number column, and the date forms people type:
2025/8/19, 2025-08-19, 2025.8.19, 2025年8月19日, with or without a time); anything else is passed on as
found, so that the import's validation can reject the row and name the cell (`SheetRow.cells`).

The workbook is untrusted, and a few hundred kilobytes of zip can unpack to gigabytes of XML that
openpyxl would turn into Python objects (every shared string is held in memory at once; a row's cells
too). So before openpyxl sees it, the archive is checked against `ReadLimits`: its members' declared
unpacked sizes (deflate or stored only), then every XML member is stream-parsed once (lxml iterparse,
elements freed as they end, entities not resolved) counting cells, cells per row, shared strings and
their characters, and the length of every text; the first limit passed raises WorkbookTooLarge naming
it. Sheets are then parsed lazily, so damage further in (a cut-off or malformed sheet) can only show
while the rows are read: it raises ReaderError then, and the caller rolls back what it did with earlier
rows.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

from lxml import etree
from openpyxl import Workbook, load_workbook  # noqa: TID251 - app/exports is openpyxl's home
from openpyxl.utils import get_column_letter  # noqa: TID251
from openpyxl.utils.datetime import from_excel  # noqa: TID251
from openpyxl.utils.exceptions import InvalidFileException  # noqa: TID251

from app.exports.layouts import ColumnSpec, SheetSpec, Template, header_key
from app.exports.workbook import TOTAL_LABEL, discard_unsaved, safe_text, start_table

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "REPORT_STATUSES",
    "ReadLimits",
    "ReaderError",
    "SheetRow",
    "WorkbookTooLarge",
    "parse_datetime_text",
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


class WorkbookTooLarge(ReaderError):
    """The workbook passes one of the ReadLimits: `limit` names it ("cells", "cells_per_row",
    "shared_strings", "shared_string_chars", "text_length", "elements", "inflated_bytes",
    "compression"),
    `allowed` is the limit and `found` how much was seen when reading stopped (at least that much)."""

    def __init__(self, limit: str, allowed: int, found: int, problem: str):
        super().__init__([problem])
        self.limit = limit
        self.allowed = allowed
        self.found = found


@dataclass(frozen=True)
class ReadLimits:
    """How much of a workbook is read at all; each bounds the memory openpyxl would need for it."""

    inflated_bytes: int = MAX_UNCOMPRESSED_BYTES  # every member's unpacked size, summed
    cells: int | None = None  # <c> elements in all sheets
    shared_strings: int | None = None  # entries in the shared-string table (all held in memory)
    shared_string_chars: int | None = None  # characters of text in all parts (shared and inline)
    # Excel's own limits: 16,384 columns, 32,767 characters a cell. A number longer than this is damage.
    cells_per_row: int = 16_384
    text_length: int = 32_767
    number_length: int = 400
    # Elements openpyxl keeps as objects (styles, merged cells, hyperlinks …; ~1 kB each): a census
    # workbook has a few hundred.
    other_elements: int = 50_000


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
    limits: ReadLimits | None = None,
    required: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> Iterator[SheetRow]:
    """The data rows of every template sheet in the workbook, sheet by sheet in the template's order.

    Datetimes come back naive (Excel has no zones) unless `tz` is given, which is then attached: pass
    the district's zone to get back what was exported. Raises ReaderError, before yielding anything,
    when the file is not a readable .xlsx workbook or lacks a template sheet or header, and its
    WorkbookTooLarge when it passes a limit (FileNotFoundError for a path that names no file).

    With `required` (sheet key → groups of fields, one of each group needed), only those columns must be
    there; a template sheet the workbook lacks is skipped, as long as one of them is there. Missing
    columns read as None.
    """
    limits = limits or ReadLimits(inflated_bytes=max_uncompressed_bytes)
    workbook = _open(source, limits)
    try:
        plans = _plan(workbook, template, required)
    except _DAMAGE as exc:
        workbook.close()
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc
    except BaseException:
        workbook.close()
        raise
    return _rows(workbook, plans, tz)


def _open(source: BinaryIO | Path, limits: ReadLimits) -> Any:
    try:
        with zipfile.ZipFile(source) as archive:  # leaves a file object it was given open
            _check_archive(archive, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ReaderError(
            [f"not an .xlsx workbook (an old .xls must be saved as .xlsx first; it is not a zip: {exc})"]
        ) from exc
    if not isinstance(source, Path):
        source.seek(0)
    try:
        return load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, TypeError, *_DAMAGE) as exc:
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc


_XML_START: Final = re.compile(rb"\s*<")
_BOM: Final = b"\xef\xbb\xbf"
_READ_CHUNK: Final = 64 * 1024


def _check_archive(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """Refuse, before openpyxl parses anything, a workbook that would take more memory than `limits`
    allow: by the members' declared sizes (zipfile never unpacks more than a member declares), then by
    stream-parsing every XML member once. Parts are found by content, not by name, since a workbook's
    [Content_Types].xml may give its shared strings or sheets any name."""
    infos = archive.infolist()
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WorkbookTooLarge(
                "compression",
                0,
                info.compress_type,
                f"{info.filename!r} is compressed with method {info.compress_type}; an .xlsx uses deflate",
            )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limits.inflated_bytes:
        allowed = limits.inflated_bytes
        problem = f"the workbook would unpack to {unpacked:,} bytes, more than the {allowed:,} allowed"
        raise WorkbookTooLarge("inflated_bytes", limits.inflated_bytes, unpacked, problem)
    counts = _Counts()
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as member:
            head = member.read(64)
            if not _XML_START.match(head.removeprefix(_BOM)):
                continue  # pictures and other binary parts: openpyxl's read-only mode leaves them be
            _scan_xml(_Prefixed(head, member), counts, limits, info.filename)


@dataclass
class _Counts:
    cells: int = 0
    shared_strings: int = 0
    chars: int = 0
    other: int = 0


class _Prefixed:
    """A member's stream with the bytes already peeked at put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        return self.rest.read(_READ_CHUNK if size is None or size < 0 else min(size, _READ_CHUNK))


def _check(limit: str, allowed: int | None, found: int, what: str, where: str) -> None:
    if allowed is not None and found > allowed:
        raise WorkbookTooLarge(limit, allowed, found, f"{where}: more than {allowed:,} {what}")


# Elements openpyxl's read-only mode streams (a row at a time, or one shared string at a time, freed
# after): cells and their values, formulas and text runs. Every other element becomes an object that
# stays in memory while the workbook is open (styles, merged cells, hyperlinks, validations …).
_STREAMED: Final = frozenset(
    {"c", "v", "f", "is", "t", "r", "rPr", "row", "si", "sheetData", "sst", "rPh", "phoneticPr"}
)


def _scan_xml(stream: _Prefixed, counts: _Counts, limits: ReadLimits, where: str) -> None:
    """Count what one XML part holds, element by element, freeing each as it ends (so a row of a million
    cells costs no more memory than one cell); raise WorkbookTooLarge at the first limit passed."""
    row_cells = 0
    parser = etree.iterparse(
        stream,
        events=("end",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,  # libxml2 refuses a single text over 10 MB by itself
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for _event, element in parser:
            tag = element.tag
            if not isinstance(tag, str):
                continue
            name = tag.rpartition("}")[2]
            parent = element.getparent()
            text = element.text
            if text is not None and name in ("t", "v", "f"):
                counts.chars += len(text)
                _check("text_length", limits.text_length, len(text), "characters in one cell", where)
                if name == "v" and parent is not None and parent.get("t") in (None, "n"):
                    _check("text_length", limits.number_length, len(text), "digits in one number", where)
                _check("shared_string_chars", limits.shared_string_chars, counts.chars, "characters", where)
            if name == "c":
                counts.cells += 1
                row_cells += 1
                _check("cells", limits.cells, counts.cells, "cells", where)
                _check("cells_per_row", limits.cells_per_row, row_cells, "cells in one row", where)
            elif name == "row":
                row_cells = 0
            elif name == "si":
                counts.shared_strings += 1
                _check(
                    "shared_strings", limits.shared_strings, counts.shared_strings, "shared strings", where
                )
            elif name not in _STREAMED and not (parent is not None and str(parent.tag).endswith("}rPr")):
                counts.other += 1
                _check("elements", limits.other_elements, counts.other, "elements besides cells", where)
            # Free what has been counted: the element's content and the siblings before it.
            element.clear(keep_tail=False)
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise ReaderError([f"{where!r} is not well-formed XML ({exc})"]) from exc


def _plan(
    workbook: Any, template: Template, required: Mapping[str, Sequence[Sequence[str]]] | None
) -> list[_Plan]:
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
        header_row, found, duplicates = _find_headers(worksheet, sheet)
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


# Excel keeps dates as day numbers; one typed into a General cell reads back as the number. Within
# these (1950 … 2100) a number in a date column is taken for a date.
_SERIAL_RANGE: Final = (18_264, 73_051)
# The date forms people type into Excel: 2025/8/19, 2025-08-19, 2025.8.19, 2025年8月19日, each with an
# optional time (14:30, 14:30:05, 14时30分, or ISO's T).
_TYPED_DATE: Final = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*日?\s*)(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})"
    r"(?:\s*[:：分]\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?|\s*分)?)?"
)


def parse_datetime_text(text: str) -> datetime | None:
    """A date (and time) as people type it into a cell, as a naive datetime (aware only when the text
    gives an offset); None when it is not one (or names no real day: 2025/2/30)."""
    text = unicodedata.normalize("NFKC", text).strip()
    match = _TYPED_DATE.fullmatch(text)
    if match is None:
        try:
            return datetime.fromisoformat(text)  # ISO 8601 with an offset too
        except ValueError:
            return None
    parts = match.groupdict()
    try:
        return datetime.combine(
            date(int(parts["y"]), int(parts["m"]), int(parts["d"])),
            time(int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0)),
        )
    except ValueError:
        return None


def _serial(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if not _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
        return None
    moment = from_excel(value)
    return moment if isinstance(moment, datetime) else None


def _date(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        parsed = parse_datetime_text(value)
        return parsed.date() if parsed is not None else value
    serial = _serial(value)
    return serial.date() if serial is not None else value


def _datetime(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, str):
        parsed = parse_datetime_text(value)
        if parsed is None:
            return value
        value = parsed
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)  # noqa: DTZ001 - a wall time; tz below
    elif (serial := _serial(value)) is not None:
        value = serial
    if isinstance(value, datetime) and tz is not None and value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value


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
