"""The first sheet of an .xlsx as plain rows of values: for a spreadsheet of species names.

The species registry's list import reads with it. The same kind of guard as the census reader's: not a
zip, or one that would unpack too far, is refused.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from openpyxl import load_workbook  # noqa: TID251 - app/sheets is openpyxl's home
from openpyxl.utils.exceptions import InvalidFileException  # noqa: TID251

# A list of a few hundred names unpacks to well under a megabyte; this leaves room and stops a zip bomb.
MAX_UNPACKED_BYTES = 20 * 1024 * 1024


class SheetUnreadable(Exception):
    pass


def first_sheet_rows(data: bytes, max_rows: int) -> list[list[Any]]:
    """The first sheet's rows of values (at most `max_rows`). Raises SheetUnreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise SheetUnreadable("not an .xlsx workbook") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise SheetUnreadable("the workbook unpacks too far")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError) as exc:
        raise SheetUnreadable("not a readable .xlsx workbook") from exc
    try:
        rows: list[list[Any]] = []
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) >= max_rows:
                break
        return rows
    finally:
        workbook.close()
