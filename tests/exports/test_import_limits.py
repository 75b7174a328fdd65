"""A workbook upload is bounded in memory: hostile workbooks (a huge shared-string table, a sheet of
millions of cells with no declared size, a zip bomb, one endless row, a flood of merged cells) are
refused before openpyxl parses them, with a 413 naming `file` and the limit; and reading one stays
within the web process's budget, measured in a fresh process."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests build the workbooks people bring
import pytest

from app.exports.layouts import load_template
from app.exports.reader import ReadLimits, WorkbookTooLarge, read_census

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ["物种名称", "调查日期", "经度", "纬度"]


def _base() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "调查记录"
    sheet.append(HEADERS)
    sheet.append(["福寿螺", "2025/8/19", 107.8, 30.67])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _replace(members: dict[str, Iterator[bytes]]) -> bytes:
    """The base workbook with members replaced (or added), each written as its chunks come, so the test
    itself never holds the unpacked XML."""
    target = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_base())) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml" and "xl/sharedStrings.xml" in members:
                data = data.replace(b"</Types>", SHARED_STRINGS_TYPE + b"</Types>")
            if item.filename not in members:
                out.writestr(item, data)
        for name, chunks in members.items():
            with out.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    return target.getvalue()


SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def shared_strings(count: int) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?><sst ' + NS + b">"
    for start in range(0, count, 10_000):
        yield b"".join(b"<si><t>%d</t></si>" % i for i in range(start, min(start + 10_000, count)))
    yield b"</sst>"


def sheet(rows: int, per_row: int) -> Iterator[bytes]:
    """A sheet with no <dimension> and no cell references: millions of cells, nothing said about size."""
    yield b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData>"
    header = b"<row>" + b"".join(b'<c t="inlineStr"><is><t>%s</t></is></c>' % h.encode() for h in HEADERS)
    yield header + b"</row>"
    row = b"<row>" + b"<c><v>1</v></c>" * per_row + b"</row>"
    batch = max(1, 100_000 // per_row)  # rows per chunk: about 1.5 MB of XML at a time
    for start in range(0, rows, batch):
        yield row * min(batch, rows - start)
    yield b"</sheetData></worksheet>"


def zeros(size: int) -> Iterator[bytes]:
    chunk = b"\0" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        yield chunk


def merged_cells(count: int) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b"><sheetData/>"
    yield b'<mergeCells count="%d">' % count
    for start in range(0, count, 10_000):
        yield b"".join(b'<mergeCell ref="A%d:B%d"/>' % (i + 1, i + 1) for i in range(start, start + 10_000))
    yield b"</mergeCells></worksheet>"


HOSTILE = {
    # A million shared strings, 2.5 MB zipped: openpyxl would hold every one in memory at once (some
    # 150 MB; bench/import_memory.py measures it).
    "shared_strings": lambda: _replace({"xl/sharedStrings.xml": shared_strings(1_000_000)}),
    # 3 million cells in 300 000 rows, no dimension, no references.
    "cells": lambda: _replace({"xl/worksheets/sheet1.xml": sheet(300_000, 10)}),
    # One row of 2 million cells: openpyxl builds the whole row before handing it over.
    "cells_per_row": lambda: _replace({"xl/worksheets/sheet1.xml": sheet(1, 2_000_000)}),
    # 400 MB of zeros in a member of 400 kB.
    "inflated_bytes": lambda: _replace({"xl/media/bomb.bin": zeros(400 * 1024 * 1024)}),
    # 1 million merged cells: every one an object openpyxl keeps.
    "elements": lambda: _replace({"xl/worksheets/sheet1.xml": merged_cells(1_000_000)}),
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[dict[str, Path]]:
    # A folder of this module's own: pytest's shared temporary folders are pruned by other runs.
    with tempfile.TemporaryDirectory(prefix="ias-hostile-") as folder:
        paths = {}
        for name, build in HOSTILE.items():
            paths[name] = Path(folder) / f"{name}.xlsx"
            paths[name].write_bytes(build())
        yield paths


def _limits(app: Any) -> ReadLimits:
    config = app.config
    return ReadLimits(
        inflated_bytes=config["IAS_IMPORT_MAX_INFLATED_MB"] * 1024 * 1024,
        cells=config["IAS_IMPORT_MAX_CELLS"],
        shared_strings=config["IAS_IMPORT_MAX_SHARED_STRINGS"],
        shared_string_chars=config["IAS_IMPORT_MAX_TEXT_CHARS"],
    )


@pytest.mark.parametrize("limit", list(HOSTILE))
def test_a_hostile_workbook_is_refused_by_the_limit_it_passes(
    app: Any, hostile: dict[str, Path], limit: str
) -> None:
    assert hostile[limit].stat().st_size < 10 * 1024 * 1024  # within an upload: the danger is inside
    template = load_template("agriculture").restricted_to({"observations"})
    with pytest.raises(WorkbookTooLarge) as raised:
        read_census(hostile[limit], template, limits=_limits(app))
    assert raised.value.limit == limit
    assert raised.value.found > raised.value.allowed


@pytest.mark.parametrize(
    ("limit", "words", "status"),
    [
        ("shared_strings", ["共享字符串", "IAS_IMPORT_MAX_SHARED_STRINGS"], 413),
        ("cells", ["单元格数", "IAS_IMPORT_MAX_CELLS", "500,000"], 413),
        ("inflated_bytes", ["解压后字节数", "IAS_IMPORT_MAX_INFLATED_MB"], 413),
        ("cells_per_row", ["单行单元格数", "16,384"], 413),
    ],
)
def test_the_upload_is_answered_413_naming_file_and_the_limit(
    api_as: Any, make_user: Any, hostile: dict[str, Path], limit: str, words: list[str], status: int
) -> None:
    admin = api_as(make_user("bureau_admin", "agriculture"))
    # The multipart body made here: the test client's own encoder leaves a temporary file open for
    # uploads of this size.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="census.xlsx"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + hostile[limit].read_bytes() + b"\r\n--b--\r\n"
    )
    response = admin.post(
        "/api/v1/imports?bureau=agriculture", data=body, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == status, response.get_json()
    message = response.get_json()["errors"]["file"][0]
    for word in words:
        assert word in message, message


def test_a_workbook_compressed_otherwise_than_excel_does_is_refused(app: Any) -> None:
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_base())) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            out.writestr(item.filename, source.read(item), compress_type=zipfile.ZIP_LZMA)
    with pytest.raises(WorkbookTooLarge) as raised:
        read_census(io.BytesIO(target.getvalue()), load_template("agriculture"), limits=_limits(app))
    assert raised.value.limit == "compression"


def test_a_number_of_thousands_of_digits_is_refused_not_a_server_error(app: Any) -> None:
    big = _replace({"xl/worksheets/sheet1.xml": iter([re.sub(rb"<v>1</v>", b"<v>" + b"9" * 5000 + b"</v>",
        b"".join(sheet(1, 1)))])})  # fmt: skip
    with pytest.raises(WorkbookTooLarge) as raised:
        read_census(io.BytesIO(big), load_template("agriculture"), limits=_limits(app))
    assert raised.value.limit == "text_length"


MEASURE = """
import json, resource, sys
from pathlib import Path

from app.config import load_config
from app.exports.import_columns import REQUIRED_COLUMNS
from app.exports.reader import ReadLimits, ReaderError, read_census
from app.exports.layouts import load_template

config = load_config({}, Path("/nonexistent"))  # the defaults, as a web process starts with them
limits = ReadLimits(
    inflated_bytes=config["IAS_IMPORT_MAX_INFLATED_MB"] * 1024 * 1024,
    cells=config["IAS_IMPORT_MAX_CELLS"],
    shared_strings=config["IAS_IMPORT_MAX_SHARED_STRINGS"],
    shared_string_chars=config["IAS_IMPORT_MAX_TEXT_CHARS"],
)
if sys.argv[2] == "unbounded":
    limits = ReadLimits(inflated_bytes=2**40)
template = load_template("agriculture").restricted_to({"observations"})

def status(field):  # kB, from Linux's /proc
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
    return int(line.split()[1])


# The peak is measured from here: Linux resets VmHWM (peak resident memory) when asked, so what the
# imports above took and freed does not hide what reading takes; ru_maxrss where that is refused.
try:
    Path("/proc/self/clear_refs").write_text("5")
    peak = lambda: status("VmHWM:")
except OSError:
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = status("VmRSS:")
outcome = "read"
try:
    for _row in read_census(Path(sys.argv[1]), template, limits=limits, required=REQUIRED_COLUMNS):
        pass
except ReaderError as exc:
    outcome = getattr(exc, "limit", "refused")
after = peak()
print(json.dumps({"outcome": outcome, "extra_mb": (after - before) / 1024}))
"""


def measure(path: Path, mode: str = "bounded", timeout: float = 600) -> dict[str, Any]:
    """Read `path` in a fresh process, with the upload's limits ("bounded") or none ("unbounded");
    returns how it ended and the peak memory (ru_maxrss) it added, in MB."""
    result = subprocess.run(  # noqa: S603 -- our own interpreter and script
        [sys.executable, "-c", MEASURE, str(path), mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_reading_a_hostile_workbook_stays_within_the_memory_budget(hostile: dict[str, Path]) -> None:
    """Peak memory (ru_maxrss) a fresh process gains reading each hostile workbook: far under ~200 MB."""
    figures = {name: measure(path) for name, path in hostile.items()}
    print("extra MB per hostile workbook:", {k: round(v["extra_mb"], 1) for k, v in figures.items()})
    for name, figure in figures.items():
        assert figure["outcome"] == name, figure
        assert figure["extra_mb"] < 100, (name, figure)
