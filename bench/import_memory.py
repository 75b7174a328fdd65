"""Peak memory of reading an uploaded census workbook: hostile ones with the upload's limits and without,
and an ordinary 3 000-row one. Not part of `make bench` (no budget ratio; the budget is the ~200 MB a web
process may gain): `.venv/bin/python bench/import_memory.py`. Each figure is the ru_maxrss a fresh
process gains while reading the workbook (tests/exports/test_import_limits.py builds the workbooks and
asserts the bounded figures)."""

from __future__ import annotations

import io
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402, TID251 -- the bench builds workbooks

from tests.exports.test_import_limits import HOSTILE, measure  # noqa: E402


def ordinary(rows: int = 3000) -> bytes:
    """A census sheet in the agriculture layout's main columns, the size one upload may hold."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "调查记录"
    sheet.append(
        ["调查日期", "物种名称", "乡镇（街道）", "小地名", "经度", "纬度", "发生面积（亩）", "调查人", "备注"]
    )
    start = datetime(2025, 6, 1, 9)  # noqa: DTZ001 -- wall times, as Excel keeps them
    for i in range(rows):
        sheet.append(
            [start + timedelta(minutes=i), "福寿螺", "梁山街道", f"七星村{i % 40}组渠边", 107.8 + i * 1e-5,
             30.67, 1.5, f"调查员{i % 12}", f"第{i}行备注：稻田沟渠内发现卵块"]
        )  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ias-import-memory-") as folder:
        cases = {name: build for name, build in HOSTILE.items()}
        cases["ordinary_3000_rows"] = ordinary
        print(f"{'workbook':<22}{'zip MB':>8}{'mode':>11}{'outcome':>16}{'extra MB':>10}{'s':>7}")
        for name, build in cases.items():
            path = Path(folder) / f"{name}.xlsx"
            path.write_bytes(build())
            modes = (
                ["bounded", "unbounded"] if name in ("shared_strings", "ordinary_3000_rows") else ["bounded"]
            )
            for mode in modes:
                start = time.perf_counter()
                figure = measure(path, mode, timeout=1800)
                elapsed = time.perf_counter() - start
                size = path.stat().st_size / 1024 / 1024
                print(
                    f"{name:<22}{size:>8.2f}{mode:>11}{figure['outcome']:>16}{figure['extra_mb']:>10.1f}{elapsed:>7.1f}"
                )


if __name__ == "__main__":
    main()
