"""Census workbooks: a bureau's template and rows in, an .xlsx out, streamed (docs/contract.md §3.3).

The caller hands over an iterable of row dicts per source (display-ready values, see layouts.SOURCES);
nothing here touches the database or Flask, so the background export job, the CLI and the tests all
drive the same function.

What the bureaus get, and why:

- A cover sheet first (项目 / 内容): district, bureau, dates, filters, who and when, the CRS.
- Each data sheet has exactly one header row, panes frozen below it, an autofilter over header and data,
  the template's widths and number formats, and no merged cells, so that it sorts, filters and
  re-imports cleanly.
- A 合计 row under the data holds `=SUBTOTAL(109, …)` for the template's total columns: 109 sums only
  the rows a filter leaves visible, so totals stay right while someone filters by township. It sits
  outside the autofilter range so that filtering never hides it. A sheet with no rows, or no total
  columns, gets no 合计 row: there is nothing to total, and a formula over an empty range would point
  at the header.
- Text typed by users is hostile (formula injection). A text value that a spreadsheet could take for a
  formula (leading = + - @, tab or CR, or the full-width ＝＋－＠) or that is an error code (#N/A …) is
  written as a string cell forced to type "s" with the quote-prefix style, Excel's own "this is text"
  mark (the leading apostrophe): nothing is evaluated on opening, editing the cell keeps it text, and
  the text comes back on import exactly as typed. Characters XML cannot hold (control characters) are dropped.
- Datetimes arrive aware, in local time; Excel has no time zones, so they are written as the local wall
  time. Booleans are written 是 / 否; None is an empty cell.

Speed (contract §5, ≤ 1.25 × bare openpyxl write-only): openpyxl in write-only mode streams each sheet to a
temporary file (lxml does the XML), so memory stays flat however many rows. Per cell we add one
converter call, and save what openpyxl would spend instead: each column has one cell (`ColumnCell`),
filled by its converter for every row, with the column's style registered once and the value's type
set directly (the converter has just checked it). A fresh `Cell` per styled value, openpyxl's type
inference and string checks per value and a style lookup per styled cell cost ~45 % on top of the
baseline's time (bench/census_export.py, bench/census_export_db.py). openpyxl's own row loop recognises a
`Cell` only by failing to store it as a value and catching the ValueError, so our sheets get a row loop
that checks the type instead (`_direct_cells`). Both rely on each row being written before the next
is converted, which is how write-only sheets work (`ws.append` writes the row). They are optimisations
only: were openpyxl to stop calling the row loop, the output would be the same, just slower.

openpyxl is imported only under app/exports/ (ruff's banned-api).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Final

from openpyxl import Workbook  # noqa: TID251 - app/exports is openpyxl's home
from openpyxl.cell import WriteOnlyCell  # noqa: TID251
from openpyxl.cell.cell import Cell  # noqa: TID251
from openpyxl.styles import Alignment, Font, PatternFill  # noqa: TID251
from openpyxl.utils import get_column_letter  # noqa: TID251

from app.exports.cells import COVER_DATE_FORMATS, cell_style, converter, finite, safe_text
from app.exports.layouts import SOURCES, ColumnSpec, SheetSpec, Template

__all__ = [
    "COVER_HEADERS",
    "PROGRESS_EVERY",
    "TOTAL_LABEL",
    "discard_unsaved",
    "fitted_width",
    "print_setup",
    "safe_text",
    "start_table",
    "write_census",
]

PROGRESS_EVERY: Final = 1000  # rows between on_progress calls
TOTAL_LABEL: Final = "合计"
COVER_HEADERS: Final = ("项目", "内容")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)


def write_census(
    target: BinaryIO | Path,
    template: Template,
    *,
    cover: Sequence[tuple[str, Any]],
    rows: Mapping[str, Iterable[Mapping[str, Any]]],
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the template's workbook to `target`; return the number of data rows per sheet key.

    `rows` maps source names (layouts.SOURCES) to their rows, each a mapping with that source's
    fields; a sheet whose source has no entry is written empty (header only), and entries for sources
    the template does not use are ignored. Rows are consumed once, as they come: pass generators.
    `on_progress(rows_so_far)` is called every PROGRESS_EVERY rows (all sheets together) and once at
    the end with the total. `cover` pairs fill the cover sheet in order.

    Raises ValueError for a key in `rows` that is not a source, or a row without one of the fields its
    columns need; nothing is left in the temporary folder when it raises.
    """
    unknown = sorted(set(rows) - set(SOURCES))
    if unknown:
        raise ValueError(f"rows given for unknown sources: {', '.join(unknown)}")

    workbook = Workbook(write_only=True)
    workbook.properties.title = template.title
    workbook.properties.creator = "ias-tracker"
    counts: dict[str, int] = {}
    progress = _Progress(on_progress)
    try:
        _write_cover(workbook, template, cover)
        for sheet in template.sheets:
            counts[sheet.key] = _write_sheet(workbook, sheet, rows.get(sheet.source, ()), progress)
        workbook.save(target)
    except BaseException:
        discard_unsaved(workbook)
        raise
    progress.finish()
    return counts


class _Progress:
    def __init__(self, callback: Callable[[int], None] | None) -> None:
        self.callback = callback
        self.done = 0  # rows of the sheets already finished
        self.reported = 0

    def report(self, rows: int) -> None:
        if self.callback is not None:
            self.callback(rows)
            self.reported = rows

    def finish(self) -> None:
        if self.callback is not None and self.reported != self.done:
            self.callback(self.done)


def start_table(
    workbook: Any, title: str, columns: Sequence[tuple[str, float]], *, print_title: str | None = None
) -> Any:
    """A new write-only sheet with its one header row written (header text and width per column) and
    the panes frozen below it. Widths and panes must be set before the first row in write-only mode.
    The sheet prints as `print_setup` says, with `print_title` (default: the sheet's title) on top."""
    ws = workbook.create_sheet(title)
    _direct_cells(ws)
    ws.freeze_panes = "A2"
    print_setup(ws, print_title or title)
    for index, (_, width) in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    header_style = cell_style(ws, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_HEADER_ALIGNMENT)
    ws.append([safe_text(ws, header, header_style) for header, _ in columns])
    return ws


def print_setup(ws: Any, title: str) -> None:
    """Every sheet prints landscape, fitted to one page wide (as many pages tall as it takes), the
    header row repeated on each page, the table's title in the page header and 第 n 页，共 m 页 in the
    footer (&P and &N are Excel's page fields; "&&" keeps a literal & in a title)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.print_options.gridLines = True
    ws.oddHeader.center.text = title.replace("&", "&&")
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def fitted_width(header: str, values: Iterable[Any], least: float) -> float:
    """A column width (Excel's character units) that shows the header and every value whole: CJK
    characters count two, plus a margin; never narrower than `least`, never wider than 80."""
    widest = _display_width(header)
    for value in values:
        if value is None:
            continue
        if isinstance(value, float):
            text = f"{value:,.2f}"
        elif isinstance(value, datetime):
            text = "0000-00-00 00:00"
        elif isinstance(value, date):
            text = "0000-00-00"
        else:
            text = str(value)
        widest = max(widest, _display_width(text))
    return float(min(max(least, widest + 2), 80))


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _direct_cells(ws: Any) -> None:
    """Give a write-only sheet a row loop that passes our `Cell`s through as they are (see the module
    docstring, Speed). Same contract as openpyxl 3.1's `WriteOnlyWorksheet._values_to_row`: values in,
    cells with their coordinates out, each written before the next is made; None is no cell."""

    def values_to_row(values: Iterable[Any], row_index: int) -> Iterator[Any]:
        scratch = WriteOnlyCell(ws)
        for column_index, value in enumerate(values, 1):
            if value is None:
                continue
            if isinstance(value, Cell):
                cell = value
            else:
                scratch.value = value
                cell = scratch
            cell.column = column_index
            cell.row = row_index
            yield cell
            if cell is scratch and scratch.has_style:  # openpyxl styled it (a default date format)
                scratch = WriteOnlyCell(ws)

    ws._values_to_row = values_to_row


def _write_sheet(
    workbook: Any, sheet: SheetSpec, rows: Iterable[Mapping[str, Any]], progress: _Progress
) -> int:
    columns = sheet.columns
    widths = [column.width for column in columns]
    if SOURCES[sheet.source].summary:
        # Summaries are a few hundred rows at most: read first, so that each column fits its contents.
        # Detail sheets stream (100 000 rows): their widths are the template's (README beside it).
        rows = list(rows)
        widths = [
            fitted_width(column.header, (row.get(column.field) for row in rows), column.width)
            for column in columns
        ]
    ws = start_table(
        workbook, sheet.title, [(column.header, width) for column, width in zip(columns, widths, strict=True)]
    )
    last_column = get_column_letter(len(columns))

    converters = [converter(ws, column) for column in columns]
    fields = [column.field for column in columns]
    getter = itemgetter(*fields) if len(fields) > 1 else (lambda row: (row[fields[0]],))
    append = ws.append
    done = progress.done
    report = progress.report if progress.callback is not None else None
    count = 0
    for row in rows:
        try:
            values = getter(row)
        except KeyError as exc:
            raise ValueError(f"sheet {sheet.key!r}: row {count + 1} has no field {exc.args[0]!r}") from exc
        pairs = zip(converters, values, strict=True)
        append([None if value is None else convert(value) for convert, value in pairs])
        count += 1
        if report is not None and not (done + count) % PROGRESS_EVERY:
            report(done + count)
    progress.done = done + count

    last_row = count + 1
    ws.auto_filter.ref = f"A1:{last_column}{last_row}"  # header and data; never the 合计 row
    if count and any(column.total for column in columns):
        ws.append(_totals(ws, columns, last_row))
    return count


def _totals(ws: Any, columns: Sequence[ColumnSpec], last_row: int) -> list[Any]:
    bold = Font(bold=True)
    cells: list[Any] = [safe_text(ws, TOTAL_LABEL, cell_style(ws, font=bold))]
    for index, column in enumerate(columns[1:], 2):
        if column.total:
            letter = get_column_letter(index)
            formula = f"=SUBTOTAL(109,{letter}2:{letter}{last_row})"
            cells.append(
                Cell(ws, row=1, column=1, value=formula, style_array=cell_style(ws, column, font=bold))
            )
        else:
            cells.append(None)
    return cells


def _write_cover(workbook: Any, template: Template, cover: Sequence[tuple[str, Any]]) -> None:
    ws = start_table(workbook, template.cover_title, list(zip(COVER_HEADERS, (20.0, 70.0), strict=True)))
    label_style = cell_style(ws, font=Font(bold=True))
    plain = cell_style(ws)
    date_styles = {kind: cell_style(ws, number_format=fmt) for kind, fmt in COVER_DATE_FORMATS.items()}
    for label, value in cover:
        ws.append([safe_text(ws, str(label), label_style), _cover_value(ws, value, plain, date_styles)])


def _cover_value(ws: Any, value: Any, plain: Any, date_styles: Mapping[type[date], Any]) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        local = value.replace(tzinfo=None)
        return Cell(ws, row=1, column=1, value=local, style_array=date_styles[datetime])
    if isinstance(value, date):
        return Cell(ws, row=1, column=1, value=value, style_array=date_styles[date])
    if isinstance(value, int | float | Decimal):
        return finite(value)
    if isinstance(value, list | tuple | set | frozenset):
        value = "、".join(str(item) for item in value)
    return safe_text(ws, str(value), plain)


def discard_unsaved(workbook: Any) -> None:
    """After a failure, close and delete the temporary files openpyxl streams each sheet into. It
    would keep them until the process exits, and the export worker is a long-lived process."""
    for ws in workbook.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        with suppress(Exception):
            rows = getattr(ws, "_rows", None)
            if rows is not None:
                rows.close()
            writer.close()
        with suppress(Exception):
            writer.cleanup()
