"""What an import of a legacy workbook answers (app/exports/imports.py): the report of its rows and of the
columns it did not read, and each refusal in the words of the workbook (the column's header and its cell,
in the reader's language) rather than the API's field names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.errors import Conflict, ServiceError
from app.exports.reader import IgnoredColumn, SheetRow, TemplateColumn

# marshmallow's messages, in the reader's language (the row report's reasons).
_FIELD_MESSAGES = {
    "Missing data for required field.": _l("is required."),
    "Field may not be null.": _l("is required."),
    "Not a valid number.": _l("must be a number."),
    "Not a valid integer.": _l("must be a whole number."),
    "Not a valid datetime.": _l("is not a date and time (for example 2025/8/19 14:30)."),
    "Not a valid date.": _l("is not a date (for example 2025/8/19)."),
    "Not a valid boolean.": _l("must be 是 or 否."),
    "Not a valid string.": _l("must be text."),
    "Not a valid UUID.": _l("is not a valid record identifier."),
}
_RANGE_MESSAGE = re.compile(
    r"Must be greater than or equal to (?P<min>\S+) and less than or equal to (?P<max>\S+)\."
)
_LENGTH_MESSAGE = re.compile(r"Longer than maximum length (?P<max>\d+)\.")

# API field → the workbook field its value came from (to name the cell of an error).
OBSERVATION_CELLS = {
    "species_id": "species_name_zh",
    "area_m2": "area_mu",
    "township_code": "township_code",
    "village_code": "village_name",
    "habitat": "habitat",
    "client_uuid": "client_uuid",
}
OPERATION_CELLS = {
    "site_id": "site_code",
    "method": "method_code",
    "area_m2": "area_mu",
    "details": "details",
    "client_uuid": "client_uuid",
}


@dataclass(frozen=True)
class ColumnNotImported:
    """A column of the workbook the import did not read, and why, in the reader's language."""

    sheet: str  # the sheet's title
    column: str  # its letter
    header: str | None  # its header's text (None: it has none)
    cell: str  # its header's cell, or (no header) its first cell with a value
    row: int  # the row of `cell`
    reason: str


@dataclass(frozen=True)
class SheetNotImported:
    """A sheet of the workbook the import did not read at all, and why, in the reader's language."""

    sheet: str  # its title in the workbook
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    # (sheet title, row number, status, reason, cell) for the row report workbook.
    rows: list[tuple[str, int | None, str, str | None, str | None]] = field(default_factory=list)
    # The columns not imported: nothing a user entered is dropped without a word (docs/contract.md §3.3).
    ignored: list[ColumnNotImported] = field(default_factory=list)
    # The template's columns found in the workbook that the import does not use (审核状态, 记录编号…).
    unused: list[ColumnNotImported] = field(default_factory=list)
    # The workbook's sheets not imported at all (复查记录, the summaries, a sheet the template lacks).
    sheets: list[SheetNotImported] = field(default_factory=list)

    def report_rows(self) -> list[tuple[str, int | None, str, str | None, str | None]]:
        """The row report's lines: each sheet not imported (status "ignored_sheet"), each column not
        imported (status "ignored", at its cell: those the template does not know, then those it knows
        but the import does not use), then the rows."""
        sheets = [(s.sheet, None, "ignored_sheet", s.reason, None) for s in self.sheets]
        columns = [(c.sheet, c.row, "ignored", c.reason, c.cell) for c in [*self.ignored, *self.unused]]
        return [*sheets, *columns, *self.rows]


def not_imported(column: IgnoredColumn) -> ColumnNotImported:
    """What the report says of a column the reader did not read."""
    if column.header is None:
        reason = _(
            "Column %(column)s has no header: its values (from %(cell)s on) were not imported.",
            column=column.letter,
            cell=column.cell,
        )
    elif column.under is not None:
        reason = _(
            "Column %(column)s has no header of its own, only %(header)s merged over it from column "
            "%(first)s, which alone is read: its values (from %(cell)s on) were not imported.",
            column=column.letter,
            header=column.header,
            first=column.under,
            cell=column.cell,
        )
    else:
        reason = _(
            "Column %(column)s, %(header)s, is not a column the import knows: its values were not imported.",
            column=column.letter,
            header=column.header,
        )
    return ColumnNotImported(
        column.sheet_title, column.letter, column.header, column.cell, column.row, reason
    )


def not_used(column: TemplateColumn) -> ColumnNotImported:
    """What the report says of a template column the import does not use (one the export writes)."""
    reason = _(
        "Column %(column)s, %(header)s, is a column the census workbook shows but the import does not "
        "use: its values were not imported.",
        column=column.letter,
        header=column.header,
    )
    return ColumnNotImported(
        column.sheet_title, column.letter, column.header, column.cell, column.row, reason
    )


def sheet_not_imported(title: str, *, in_template: bool, imported: list[str]) -> SheetNotImported:
    """What the report says of a sheet not read: one of the census workbook's (follow-ups, summaries),
    or one the template does not have; `imported` are the titles of the sheets an import reads."""
    if in_template:
        reason = _(
            "Sheet %(sheet)s is a sheet of the census workbook that the import does not read (only "
            "%(imported)s are imported): nothing in it was imported.",
            sheet=title,
            imported="、".join(imported),
        )
    else:
        reason = _(
            "Sheet %(sheet)s is not a sheet of the census workbook: nothing in it was imported.", sheet=title
        )
    return SheetNotImported(title, reason)


class RowRejected(Exception):
    def __init__(self, reason: str, cell: str | None):
        super().__init__(reason)
        self.reason = reason
        self.cell = cell


def first_message(errors: Any) -> tuple[str, str]:
    """(field, message) of the first error in a marshmallow or service error dict."""
    name, messages = next(iter(errors.items()))
    if isinstance(messages, dict):
        inner, text = first_message(messages)
        return f"{name}.{inner}", text
    return str(name), str(messages[0] if isinstance(messages, list) else messages)


def cell_of(row: SheetRow, api_field: str, mapping: dict[str, str]) -> str | None:
    workbook_field = mapping.get(api_field.split(".")[0], api_field)
    return row.cells.get(workbook_field)


def _field_message(message: str) -> str:
    """A marshmallow message in the reader's language (the service's own are translated already)."""
    known = _FIELD_MESSAGES.get(message)
    if known is not None:
        return str(known)
    if match := _RANGE_MESSAGE.fullmatch(message):
        return _("must be between %(min)s and %(max)s.", min=match["min"], max=match["max"])
    if match := _LENGTH_MESSAGE.fullmatch(message):
        return _("is longer than %(max)s characters.", max=match["max"])
    return message


def field_reason(name: str, message: str, mapping: dict[str, str], headers: dict[str, str]) -> str:
    """ "调查日期: 不是日期和时间" — the column's header rather than the API's field name."""
    workbook_field = mapping.get(name.split(".")[0], name)
    return f"{headers.get(workbook_field, name)}: {_field_message(message)}"


def row_refusal(
    error: ServiceError, row: SheetRow, cells: dict[str, str], headers: dict[str, str]
) -> RowRejected:
    """The service's own words; the field's message when it names one, the whole message otherwise."""
    if not error.errors or isinstance(error, Conflict):
        name = next(iter(error.errors), "")
        return RowRejected(error.message, cell_of(row, name, cells) if name else None)
    name, message = first_message(error.errors)
    return RowRejected(field_reason(name, message, cells, headers), cell_of(row, name, cells))
