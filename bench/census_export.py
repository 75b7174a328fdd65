"""Census export against bare openpyxl write-only (contract §5 budget: at most 1.25×, peak memory ≤ 200 MB).

100 000 observation rows are made in memory, as the export job would get them from the database:
dicts with the `observations` source's fields, aware local datetimes, some empty values, now and then a
note that starts like a formula. Times:

- the baseline, the least anyone could do with openpyxl: a write-only workbook, one sheet, a header
  and the same rows already as lists of cell values in column order (naive datetimes, 是/否 for
  booleans), appended and saved. No styles, widths or number formats beyond openpyxl's defaults;
- `write_census` with the forestry template, every sheet of it (only the observations sheet has rows),
  with a progress callback, as the export job calls it: type conversion, neutralisation of risky text,
  number formats per column, the cover, the 合计 row, autofilter, widths.

Both write to a file in a temporary folder. Runs are interleaved (alternating which goes first) so that
drifts in machine load hit both alike; the best and the median of each are reported, the ratio on
medians. Peak memory is each one's maximum resident set size (VmHWM) in a fresh subprocess, with the rows
made by a generator as the job streams them (so it measures the writer, not a list of 100 000 dicts).

    .venv/bin/python bench/census_export.py [--rows 100000] [--runs 3] [--json FILE] [--check]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 - a benchmark of openpyxl itself
from openpyxl import Workbook  # noqa: TID251

from app.exports.layouts import load_template
from app.exports.workbook import write_census

BUDGET = 1.25
MEMORY_BUDGET_MB = 200
LOCAL = timezone(timedelta(hours=8))
TEMPLATE = load_template("forestry")
SHEET = TEMPLATE.sheet("observations")
TOWNSHIPS = ["梁山街道", "双桂街道", "仁贤街道", "礼让镇", "云龙镇", "屏锦镇", "袁驿镇", "新盛镇", "福禄镇"]
SPECIES = [
    ("福寿螺", "Pomacea canaliculata"),
    ("喜旱莲子草", "Alternanthera philoxeroides"),
    ("加拿大一枝黄花", "Solidago canadensis"),
    ("紫茎泽兰", "Ageratina adenophora"),
]
HABITATS = [("耕地", "稻田"), ("水域及水利设施用地", "沟渠"), ("交通运输用地", "道路边坡"), ("园地", "果园")]
NOTES = ["", "田埂上有卵块", "沟渠两侧成片分布", '=HYPERLINK("http://x","y")', "-已防治", "复查时注意下游"]


def observations(count: int, seed: int = 5) -> Iterator[dict[str, Any]]:
    """Observation rows as the export job yields them (display-ready values)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    start = datetime(2024, 4, 1, 8, 0, tzinfo=LOCAL)
    for i in range(count):
        name_zh, name_sci = SPECIES[i % len(SPECIES)]
        habitat_class, habitat = HABITATS[i % len(HABITATS)]
        area_m2 = round(rng.uniform(10, 20000), 1)
        detected = rng.random() > 0.1
        yield {
            "id": i + 1,
            "client_uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "observed_at": start + timedelta(minutes=7 * i),
            "species_name_zh": name_zh,
            "species_name_sci": name_sci,
            "detected": detected,
            "township_code": f"500155{i % 33:03d}",
            "township_name": TOWNSHIPS[i % len(TOWNSHIPS)],
            "place_name": f"{TOWNSHIPS[i % len(TOWNSHIPS)]}{i % 97}组",
            "latitude": round(30.42 + rng.random() * 0.46, 6),
            "longitude": round(107.40 + rng.random() * 0.68, 6),
            "accuracy_m": round(rng.uniform(3, 30), 1),
            "altitude_m": round(rng.uniform(300, 900), 1) if i % 5 else None,
            "position_source": "gps",
            "habitat_class": habitat_class,
            "habitat": habitat,
            "area_m2": area_m2,
            "area_mu": round(area_m2 / 666.67, 2),
            "cover_pct": round(rng.uniform(0, 100), 1) if i % 2 else None,
            "density_per_m2": round(rng.uniform(0, 30), 2) if detected else None,
            "egg_masses_per_m2": round(rng.uniform(0, 8), 2) if i % 4 == 0 else None,
            "count": rng.randrange(0, 500),
            "severity": ["轻发生", "偏轻发生", "中等发生", "偏重发生", "大发生"][i % 5],
            "status": "verified" if i % 3 else "submitted",
            "site_code": f"S-{i // 10:05d}",
            "surveyor": f"调查员{i % 40}",
            "organization": "梁平区林业局",
            "flags": "accuracy" if i % 50 == 0 else "",
            "notes": NOTES[i % len(NOTES)] or None,
        }


def as_cells(row: dict[str, Any]) -> list[Any]:
    """A row as the baseline's list of plain cell values, in the sheet's column order."""
    cells: list[Any] = []
    for column in SHEET.columns:
        value = row[column.field]
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)
        elif isinstance(value, bool):
            value = "是" if value else "否"
        cells.append(value)
    return cells


def baseline(rows: list[list[Any]], target: Path) -> None:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET.title)
    ws.append([column.header for column in SHEET.columns])
    for row in rows:
        ws.append(row)
    workbook.save(target)


def ours(rows: list[dict[str, Any]] | Iterator[dict[str, Any]], target: Path) -> None:
    seen: list[int] = []
    write_census(
        target,
        TEMPLATE,
        cover=[("行政区", "梁平区（500155）"), ("生成时间", datetime.now(UTC).astimezone(LOCAL))],
        rows={"observations": rows},
        on_progress=seen.append,
    )


def _timed(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(count: int, runs: int, folder: Path) -> tuple[list[float], list[float]]:
    dicts = list(observations(count))
    lists = [as_cells(row) for row in dicts]
    target = folder / "out.xlsx"
    baseline(lists[:1000], target)  # warm up: imports, caches
    ours(dicts[:1000], target)
    base_s: list[float] = []
    ours_s: list[float] = []
    pair: list[tuple[Callable[[], None], list[float]]] = [
        (lambda: baseline(lists, target), base_s),
        (lambda: ours(dicts, target), ours_s),
    ]
    for run in range(runs):
        for function, times in pair if run % 2 == 0 else reversed(pair):
            times.append(_timed(function))
    return base_s, ours_s


def peak_memory_mb(which: str, count: int) -> float:
    """Peak resident memory of a fresh process writing `count` rows (streamed) with `which`."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, __file__, "--memory-child", which, "--rows", str(count)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def memory_child(which: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.xlsx"
        if which == "baseline":
            workbook = Workbook(write_only=True)
            ws = workbook.create_sheet(SHEET.title)
            for row in observations(count):
                ws.append(as_cells(row))
            workbook.save(target)
        else:
            ours(observations(count), target)
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM on Linux: ru_maxrss would carry over the parent's
    peak through fork and exec, and the parent holds all the rows in memory."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="observation rows (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 above {BUDGET}× or {MEMORY_BUDGET_MB} MB"
    )
    parser.add_argument("--memory-child", choices=("baseline", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.rows)
        return 0

    # Memory first, in fresh processes, before this one fills up with rows.
    base_mb, ours_mb = peak_memory_mb("baseline", args.rows), peak_memory_mb("ours", args.rows)
    with tempfile.TemporaryDirectory() as folder:
        base_s, ours_s = measure(args.rows, args.runs, Path(folder))
    base, mine = statistics.median(base_s), statistics.median(ours_s)
    ratio = mine / base
    columns = len(SHEET.columns)
    print(f"input: {args.rows} observation rows × {columns} columns; {args.runs} interleaved runs each")
    print(f"bare openpyxl  median {base:6.2f} s   best {min(base_s):6.2f} s   peak {base_mb:5.0f} MB")
    print(f"write_census   median {mine:6.2f} s   best {min(ours_s):6.2f} s   peak {ours_mb:5.0f} MB")
    print(f"ratio {ratio:.2f} (budget {BUDGET}); best-to-best {min(ours_s) / min(base_s):.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "bench": "census_export",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "openpyxl": openpyxl.__version__,
            "lxml": openpyxl.xml.LXML,
            "machine": platform.machine(),
            "rows": args.rows,
            "columns": columns,
            "runs": args.runs,
            "baseline_s": round(base, 2),
            "ours_s": round(mine, 2),
            "ratio": round(ratio, 3),
            "budget": BUDGET,
            "baseline_peak_mb": round(base_mb),
            "ours_peak_mb": round(ours_mb),
            "memory_budget_mb": MEMORY_BUDGET_MB,
        }
        with args.json.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
    failed = ratio > BUDGET or ours_mb > MEMORY_BUDGET_MB
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
