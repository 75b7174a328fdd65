"""A forestry census export of 100 000 observations from the database, against openpyxl write-only writing
the same rows from memory (SPEC budget: ≤ 1.25×, peak memory ≤ 200 MB).

Builds its own database (SQLite in a temporary folder, or the PostgreSQL database named by
BENCH_DATABASE_URL, emptied first), bulk-loads the observations, then in one run:

- baseline: the rows, already read into memory as plain tuples, written by openpyxl in write-only mode
  (values only; the same number of columns);
- ours: `app.exports.services.write_export` (census kind: the observations sheet streamed from the
  database, the other detail sheets and the summaries), measured in a child process for its peak
  resident memory.

    .venv/bin/python bench/census_export_db.py [--observations 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import openpyxl  # noqa: TID251 - the baseline is openpyxl itself
import sqlalchemy as sa
from database import fresh_database_url  # bench/ is on sys.path when a script here runs

from app import create_app
from app.accounts.models import Organization, Role, User
from app.district.models import Township
from app.district.services import load_district
from app.exports import services
from app.exports.models import ExportKind
from app.extensions import db
from app.observations.models import Observation, PositionSource, ReviewStatus
from app.species.models import Species
from app.species.services import sync_registry

ROOT = Path(__file__).resolve().parent.parent
BUDGET_RATIO = 1.25
BUDGET_MB = 200


def make_app(url: str, tmp: str) -> Any:
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "IAS_STORAGE_DIR": tmp})


def build(url: str, tmp: str, count: int) -> None:
    app = make_app(url, tmp)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()
        org = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
        assert org is not None  # noqa: S101 -- set up just above
        db.session.execute(
            sa.insert(User),
            [
                {
                    "username": "bench",
                    "display_name": "调查员",
                    "role": Role.SURVEYOR,
                    "organization_id": org.id,
                    "password_hash": "x",
                    "active": True,
                    "notify_email": False,
                    "notify_digest": False,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        user_id = db.session.scalar(sa.select(User.id).where(User.username == "bench"))
        species = [s.id for s in db.session.scalars(sa.select(Species)) if "forestry" in s.bureaus]
        townships = list(db.session.scalars(sa.select(Township.id)))
        start = datetime(2026, 4, 1, tzinfo=UTC)
        rows = []
        for i in range(count):
            rows.append(
                {
                    "client_uuid": uuid.UUID(int=i + 1),
                    "payload_sha256": "0" * 64,
                    "organization_id": org.id,
                    "surveyor_id": user_id,
                    "species_id": species[i % len(species)],
                    "detected": i % 5 != 0,
                    "observed_at": start + timedelta(minutes=7 * i),
                    "latitude": 30.45 + (i % 997) * 0.0004,
                    "longitude": 107.45 + (i % 991) * 0.0006,
                    "accuracy_m": 5.0,
                    "position_source": PositionSource.GPS,
                    "township_id": townships[i % len(townships)],
                    "place_name": f"第{i % 50}组",
                    "area_m2": 666.67 if i % 5 else None,
                    "density_per_m2": float(i % 30) if i % 5 else None,
                    "severity": 1 + i % 5 if i % 5 else None,
                    "status": ReviewStatus.SUBMITTED,
                    "notes": "田埂有卵块" if i % 3 == 0 else None,
                    "created_at": start,
                    "updated_at": start,
                }
            )
            if len(rows) == 20_000:
                db.session.execute(sa.insert(Observation), rows)
                rows = []
        if rows:
            db.session.execute(sa.insert(Observation), rows)
        db.session.commit()


def baseline(url: str, tmp: str) -> tuple[float, int]:
    """openpyxl write-only writing the same rows, already in memory."""
    app = make_app(url, tmp)
    with app.app_context():
        scope = services.Scope("forestry", None, None, {})
        rows = [tuple(row.values()) for row in services.observation_rows(scope)]
        db.session.remove()
    started = time.perf_counter()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("调查记录")
    for row in rows:
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
    book.save(Path(tmp) / "baseline.xlsx")
    return time.perf_counter() - started, len(rows)


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ours(url: str, tmp: str, queue: Any) -> None:
    app = make_app(url, tmp)
    with app.app_context():
        db.session.execute(sa.select(1))  # connected: what is left to grow is the export's own
        before_mb = _rss_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current size
        started = time.perf_counter()
        with (Path(tmp) / "ours.xlsx").open("wb") as fh:
            rows = services.write_export(
                fh,
                bureau="forestry",
                kind=ExportKind.CENSUS,
                date_from=None,
                date_to=None,
                filters={},
                generated_by="bench",
            )
        seconds = time.perf_counter() - started
    peak_mb = _rss_mb("VmHWM")
    queue.put(
        {
            "seconds": seconds,
            "rows": rows,
            "peak_rss_mb": round(peak_mb, 1),
            "process_before_export_mb": round(before_mb, 1),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(tmp)
        build(url, tmp, args.observations)
        base_seconds, base_rows = baseline(url, tmp)
        context = multiprocessing.get_context("spawn")  # a fresh process: its peak is the export's own
        queue = context.Queue()
        child = context.Process(target=ours, args=(url, tmp, queue))
        child.start()
        result = queue.get(timeout=3600)
        child.join()
    ratio = result["seconds"] / base_seconds
    record = {
        "benchmark": "census_export_db",
        "database": url.split(":", 1)[0],
        "observations": args.observations,
        "baseline_seconds": round(base_seconds, 2),
        "baseline_rows": base_rows,
        "export_seconds": round(result["seconds"], 2),
        "export_detail_rows": result["rows"],
        "ratio": round(ratio, 3),
        "budget_ratio": BUDGET_RATIO,
        "peak_rss_mb": result["peak_rss_mb"],
        "rss_before_export_mb": result["process_before_export_mb"],
        "export_growth_mb": round(result["peak_rss_mb"] - result["process_before_export_mb"], 1),
        "budget_mb": BUDGET_MB,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(record, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
