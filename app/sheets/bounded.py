"""Reading an untrusted .xlsx workbook within bounds: the checks made before openpyxl parses anything.

A few hundred kilobytes of zip can unpack to gigabytes of XML that openpyxl would turn into Python
objects (every shared string is held in memory at once; a row's cells too). So before openpyxl sees a
workbook, `open_workbook` checks the archive against `ReadLimits`: its members' declared unpacked sizes
(deflate or stored only), then every XML member is stream-parsed once (lxml iterparse, elements freed as
they end, entities not resolved) counting cells, cells per row, shared strings and their characters, and
the length of every text; the first limit passed raises WorkbookTooLarge naming it. The same pass keeps
each sheet's merged ranges (`<mergeCells>`, after the sheet's rows), which openpyxl's read-only mode does
not read: `OpenWorkbook.merged_ranges` gives them to a reader that wants a merged cell's value under every
cell it covers, at no extra pass over the sheet. Sheets are then
parsed lazily, so damage further in (a cut-off or malformed sheet) can only show while the rows are read:
the reader catches `DAMAGE` there.

Kernel: this package knows workbooks, not what is in them (the census reader is app/exports/reader.py).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

from lxml import etree
from openpyxl import load_workbook  # noqa: TID251 - app/sheets is openpyxl's home (with app/exports)
from openpyxl.utils.exceptions import InvalidFileException  # noqa: TID251

# A 100 000-row census sheet unpacks to a few hundred MB of XML; a zip bomb to far more.
MAX_UNCOMPRESSED_BYTES: Final = 1024 * 1024 * 1024


class ReaderError(ValueError):
    """The workbook cannot be read (against the template); `problems` lists everything wrong with it.

    `missing_sheets` (sheet titles) and `missing_headers` (sheet title → headers) say the same in a
    form the caller can word for people, and `not_xlsx` that the file is no .xlsx at all (an old .xls,
    a CSV: not a zip), which people fix by saving it again as .xlsx."""

    def __init__(
        self,
        problems: list[str],
        *,
        missing_sheets: list[str] | None = None,
        missing_headers: dict[str, list[str]] | None = None,
        not_xlsx: bool = False,
    ):
        super().__init__("\n".join(problems))
        self.not_xlsx = not_xlsx
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


# What a damaged archive or malformed XML raises (XML parsers' errors are SyntaxErrors, lxml's and the
# standard library's alike, entity bombs included).
DAMAGE: Final = (zipfile.BadZipFile, zlib.error, EOFError, OSError, SyntaxError)


@dataclass(frozen=True)
class OpenWorkbook:
    """A workbook opened read-only, with what the check found that openpyxl's read-only mode leaves out."""

    workbook: Any  # openpyxl's read-only workbook; the caller closes it
    # Archive member (the sheet's XML part) → its merged ranges ("A5:A9"), as written; bounded, as
    # every <mergeCell> is an element counted against ReadLimits.other_elements.
    merged: Mapping[str, tuple[str, ...]]

    def merged_ranges(self, worksheet: Any) -> tuple[str, ...]:
        """The merged ranges of one of the workbook's read-only worksheets ("A5:A9", …)."""
        # openpyxl's ReadOnlyWorksheet opens its rows from the archive member `_worksheet_path` names,
        # the same name the check read.
        return self.merged.get(getattr(worksheet, "_worksheet_path", ""), ())


def open_workbook(source: BinaryIO | Path, limits: ReadLimits) -> Any:
    """The workbook, opened read-only by openpyxl once its archive is within `limits`; the caller closes
    it. Raises ReaderError for what is not a readable .xlsx workbook, WorkbookTooLarge past a limit."""
    return open_checked(source, limits).workbook


def open_checked(source: BinaryIO | Path, limits: ReadLimits) -> OpenWorkbook:
    """As `open_workbook`, with the merged ranges of every sheet the check found."""
    try:
        with zipfile.ZipFile(source) as archive:  # leaves a file object it was given open
            merged = _check_archive(archive, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ReaderError(
            [f"not an .xlsx workbook (an old .xls must be saved as .xlsx first; it is not a zip: {exc})"],
            not_xlsx=True,
        ) from exc
    if not isinstance(source, Path):
        source.seek(0)
    try:
        return OpenWorkbook(load_workbook(source, read_only=True, data_only=True), merged)
    except (InvalidFileException, KeyError, ValueError, TypeError, *DAMAGE) as exc:
        raise ReaderError([f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc


_XML_START: Final = re.compile(rb"\s*<")
_BOM: Final = b"\xef\xbb\xbf"
_READ_CHUNK: Final = 64 * 1024


def _check_archive(archive: zipfile.ZipFile, limits: ReadLimits) -> dict[str, tuple[str, ...]]:
    """Refuse, before openpyxl parses anything, a workbook that would take more memory than `limits`
    allow: by the members' declared sizes (zipfile never unpacks more than a member declares), then by
    stream-parsing every XML member once. Parts are found by content, not by name, since a workbook's
    [Content_Types].xml may give its shared strings or sheets any name. Returns the merged ranges found,
    by member."""
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
    merged: dict[str, tuple[str, ...]] = {}
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as member:
            head = member.read(64)
            if not _XML_START.match(head.removeprefix(_BOM)):
                continue  # pictures and other binary parts: openpyxl's read-only mode leaves them be
            ranges = _scan_xml(_Prefixed(head, member), counts, limits, info.filename)
        if ranges:
            merged[info.filename] = tuple(ranges)
    return merged


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


def _scan_xml(stream: _Prefixed, counts: _Counts, limits: ReadLimits, where: str) -> list[str]:
    """Count what one XML part holds, element by element, freeing each as it ends (so a row of a million
    cells costs no more memory than one cell); raise WorkbookTooLarge at the first limit passed. Returns
    the part's merged ranges (the `ref` of each <mergeCell> in <mergeCells>), each counted as an element."""
    row_cells = 0
    merged: list[str] = []
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
                if name == "mergeCell" and parent is not None and str(parent.tag).endswith("}mergeCells"):
                    ref = element.get("ref")
                    if ref:
                        merged.append(ref[: limits.text_length])
            # Free what has been counted: the element's content and the siblings before it.
            element.clear(keep_tail=False)
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise ReaderError([f"{where!r} is not well-formed XML ({exc})"]) from exc
    return merged
