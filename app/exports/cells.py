"""The cells of a census workbook: text made safe from formula injection, one style per column registered
once, and per column a converter that fills one reused cell per row (docs/contract.md §3.3).

Why, and what it saves: app/exports/workbook.py's docstring (Speed). openpyxl is imported only under
app/exports/ (ruff's banned-api).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell  # noqa: TID251
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell  # noqa: TID251
from openpyxl.styles.numbers import is_date_format  # noqa: TID251

from app.exports.layouts import ColumnSpec

Converter = Callable[[Any], Any]  # a non-None value in, what ws.append takes out (a value or a Cell)

# Text that starts like this could be taken for a formula: = + - @, and tab or CR before them (as OWASP
# lists for CSV); full-width forms too, since IMEs type them and some spreadsheet programs fold them.
_FORMULA_START = frozenset("=+-@\t\r＝＋－＠")
# Text equal to one of Excel's error codes (#N/A …) would be stored as that error.
_ERROR_CODES = frozenset(ERROR_CODES)
# The quick test that sends a text down the careful path (`safe_text`).
_RISKY_START = _FORMULA_START | {"#"}
_MAX_TEXT = 32767  # characters in a cell
COVER_DATE_FORMATS = {date: "yyyy-mm-dd", datetime: "yyyy-mm-dd hh:mm"}


def cell_style(
    ws: Any, column: ColumnSpec | None = None, *, number_format: str | None = None, **attrs: Any
) -> Any:
    """A style computed once and copied into each cell that needs it (openpyxl's `_style` array: the
    cheap way to style many write-only cells alike)."""
    cell = WriteOnlyCell(ws)
    fmt = number_format or (column.number_format if column is not None else None)
    if fmt is not None:
        cell.number_format = fmt
    for name, value in attrs.items():
        setattr(cell, name, value)
    return cell._style


def safe_text(ws: Any, text: str, style: Any = None) -> Any:
    """User text as what `ws.append` takes: the string itself when it is harmless, else a string
    `Cell` that can never be a formula; None when nothing is left once control characters are gone."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:_MAX_TEXT]
    if not text:
        return None
    if text[0] in _FORMULA_START or text in _ERROR_CODES:
        return string_cell(ws, text, style, quote=True)
    if style is None:
        return text
    return string_cell(ws, text, style)


def string_cell(ws: Any, text: str, style: Any, *, quote: bool = False) -> Any:
    cell = Cell(ws, row=1, column=1, style_array=style)
    cell.value = text  # may infer "f" (leading =) or "e" (#N/A): overridden below
    cell.data_type = "s"
    if quote:
        cell.quotePrefix = True
    return cell


class ColumnCell(Cell):
    """The one cell a column's converter fills for every row of a sheet (module docstring, Speed): its
    style is registered with the workbook once, here, and the converter sets `_value` and `data_type`
    itself, after checking the value as openpyxl would."""

    __slots__ = ("_style_id",)

    def __init__(self, ws: Any, style: Any = None) -> None:
        super().__init__(ws, row=1, column=1, style_array=style)
        self._style_id = super().style_id if style is not None else 0

    @property
    def style_id(self) -> int:
        return self._style_id


def finite(value: int | float | Decimal) -> int | float | Decimal | None:
    """NaN and infinities have no place in a workbook (openpyxl would write them and corrupt it)."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def converter(ws: Any, column: ColumnSpec) -> Converter:
    """The function that turns one non-None value of this column into a cell value, built once per
    column with its style bound: the per-cell path is a type check and two attribute stores on the
    column's cell; only values that need care (risky text, a value of another type) take the slow path."""
    kind = column.type
    style = cell_style(ws, column) if column.number_format is not None else None
    cell = ColumnCell(ws, style)

    def fallback(value: Any) -> Any:
        """A value not of the column's type: shown as text, never dropped."""
        if isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
        elif isinstance(value, int | float | Decimal) and kind not in ("text", "bool"):
            return finite(value)
        return safe_text(ws, value if isinstance(value, str) else str(value))

    risky = _RISKY_START
    illegal = ILLEGAL_CHARACTERS_RE.search

    def plain_text(value: str) -> Any:
        """Text as the column's cell when it is harmless as it stands, else through safe_text."""
        if not value or value[0] in risky or len(value) > _MAX_TEXT or illegal(value):
            return safe_text(ws, value, style)
        cell._value = value
        cell.data_type = "s"
        return cell

    if kind in ("text", "bool") and style is not None:  # the text format "@": every cell styled

        def styled_text(value: Any) -> Any:
            if isinstance(value, bool):
                value = "是" if value else "否"
            elif isinstance(value, datetime):
                value = value.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
            return plain_text(value if isinstance(value, str) else str(value))

        return styled_text

    if kind == "text":

        def text(value: Any) -> Any:
            if type(value) is not str:
                return fallback(value)
            return plain_text(value)

        return text

    if kind == "bool":

        def boolean(value: Any) -> Any:
            if value is True:
                cell._value = "是"
            elif value is False:
                cell._value = "否"
            else:
                return fallback(value)
            cell.data_type = "s"
            return cell

        return boolean

    if kind in ("integer", "number"):

        def number(value: Any) -> Any:
            kind_of = type(value)
            if kind_of is float:
                if not math.isfinite(value):
                    return None
            elif kind_of is not int:
                if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                    return fallback(value)
                value = finite(value)
                if value is None:
                    return None
            cell._value = value
            cell.data_type = "n"
            return cell

        return number

    if style is None or not is_date_format(column.number_format):  # parse_template fills one in; same here
        style = cell_style(ws, number_format=COVER_DATE_FORMATS[date if kind == "date" else datetime])
        cell = ColumnCell(ws, style)

    if kind == "date":

        def date_(value: Any) -> Any:
            if isinstance(value, datetime):
                value = value.date()  # a date column shows the day only; no time hides in the cell
            elif not isinstance(value, date):
                return fallback(value)
            cell._value = value
            cell.data_type = "d"
            return cell

        return date_

    def datetime_(value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # already local (the caller's contract)
        elif not isinstance(value, date):
            return fallback(value)
        cell._value = value
        cell.data_type = "d"
        return cell

    return datetime_
