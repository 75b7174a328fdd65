"""Cell values as people type them, converted by a column's type where that is lossless and unambiguous.

是/否 to bool, Excel dates to date/datetime, "12.5" to 12.5 in a number column, and the date forms people
type: 2025/8/19, 2025-08-19, 2025.8.19, 2025年8月19日, with or without a time; anything else is passed on
as found, so that validation can reject the row and name the cell.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, tzinfo
from typing import Any, Final

from openpyxl.utils.datetime import from_excel  # noqa: TID251 - app/sheets is openpyxl's home

TRUE, FALSE = "是", "否"


def _text(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return TRUE if value else FALSE
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
        return {TRUE: True, FALSE: False}.get(value.strip(), value)
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


# A column type ("text", "integer", … as the census layouts name them) → its converter.
CONVERTERS: Final[dict[str, Callable[[Any, tzinfo | None], Any]]] = {
    "text": _text,
    "integer": _integer,
    "number": _number,
    "bool": _boolean,
    "date": _date,
    "datetime": _datetime,
}
