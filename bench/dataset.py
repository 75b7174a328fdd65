"""The benchmark data: a migrated database with the district, the species registry and (by default)
1 000 000 observations over the district's townships and species, bulk-loaded.

Schema from the app's migrations (`flask_migrate.upgrade`), the district and species through the app's own
sync functions (`load_district`, `sync_registry`), then people, sites, observations, their flags and some
photo rows written in bulk, bypassing the ORM:

- SQLite: one transaction, `executemany` in batches of 50 000, the observation table's secondary indexes
  dropped before and built again after (sorting once is much cheaper than 1 M index updates). The file is
  cached under bench/.data/, keyed by a hash of everything it is made from (migrations, district and
  species files, this module, the row count); a run copies it, so every run starts from the same data.
- PostgreSQL: the BENCH_DATABASE_URL database is emptied and filled with COPY, then ANALYZE (what
  autovacuum would do to a table that grew like this).

The data is deterministic (seeded). Observations spread evenly over 2023-03-01 … 2026-10-31 (local days,
08:00–18:00), 85 % presence records at about 60 000 sites (a few metres from the site), 15 % absences,
statuses and metrics in plausible proportions, 3 % flagged, 10 % with a photo row (metadata only).

    .venv/bin/python bench/dataset.py [--observations 1000000] [--database-url URL] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import flask_migrate
import sqlalchemy as sa

from app import create_app
from app.accounts.models import Organization, Role, User
from app.district.loading import load_district
from app.district.models import District, Township
from app.extensions import db
from app.observations.models import Flag, Observation, ObservationFlag, PositionSource, ReviewStatus
from app.photos.models import Photo
from app.sites.models import Site, SiteStatus
from app.species.models import Habitat, Species
from app.species.sync import sync_registry

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(__file__).resolve().parent / ".data"
LOCAL = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2023, 3, 1)
LAST_DAY = date(2026, 10, 31)
SURVEYORS_PER_ORGANIZATION = 40
OBSERVATIONS_PER_SITE = 15
BATCH = 50_000
SEED = 20260401
FORMAT_VERSION = 1  # bump when the data made here changes in a way the source hash would not show

Progress = Callable[[str], None]


@dataclass
class Dataset:
    """What a benchmark needs to know about the prepared database."""

    url: str
    dialect: str
    observations: int
    sites: int
    build_seconds: float
    cached: bool
    key: str
    first_day: str = FIRST_DAY.isoformat()
    last_day: str = LAST_DAY.isoformat()
    counts: dict[str, int] = field(default_factory=dict)


def quiet_migrations() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)


def make_app(url: str, storage_dir: str | Path, **overrides: Any) -> Any:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "IAS_STORAGE_DIR": str(storage_dir),
            "MAIL_SERVER": None,
            **overrides,
        }
    )


# ---------------------------------------------------------------------------------------------
# Cache key


def source_key(observations: int) -> str:
    """A hash of everything the built database depends on."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}:{observations}".encode())
    folders = [ROOT / "migrations", ROOT / "species_lists", ROOT / "districts"]
    files = sorted(
        p for folder in folders for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for path in [*files, Path(__file__).resolve()]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass
class Reference:
    """Ids of the reference data the rows point at."""

    organizations: dict[str, int]
    surveyors: dict[str, list[int]]  # organization code → user ids
    species: list[tuple[int, list[str], list[str]]]  # id, bureaus, metrics
    townships: list[tuple[int, str]]  # id, code
    habitats: list[int]  # place types (level 2)
    bounds: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


NOTES = [
    "田埂上有卵块",
    "沟渠两侧成片分布",
    "复查时注意下游",
    "已拍照，待专家鉴定",
    '=HYPERLINK("http://example.invalid","点击")',  # hostile text reaches the exports too
    "-已人工清除",
    "路边坡成片，面积估算",
]
PLACE_SUFFIXES = ["组", "村", "社", "湾", "沟"]


# Review statuses in proportion: 70 % verified, 20 % waiting, 5 % returned, 5 % rejected.
STATUSES = (
    [ReviewStatus.VERIFIED] * 14
    + [ReviewStatus.SUBMITTED] * 4
    + [ReviewStatus.RETURNED, ReviewStatus.REJECTED]
)


def sites_and_observations(
    ref: Reference, observations: int
) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """The sites (a list) and a generator of observations (ids from 1, in observed order)."""
    rng = random.Random(SEED)  # noqa: S311 - benchmark data, not secrets
    min_lon, min_lat, max_lon, max_lat = ref.bounds
    site_count = max(1, observations // OBSERVATIONS_PER_SITE)
    serials: dict[str, int] = {}
    now = datetime(2026, 11, 1, tzinfo=UTC)
    sites: list[dict[str, Any]] = []
    inherited: list[tuple[str, list[str]]] = []
    for site_id in range(1, site_count + 1):
        species_id, bureaus, metrics = ref.species[rng.randrange(len(ref.species))]
        township_id, township_code = ref.townships[rng.randrange(len(ref.townships))]
        organization = bureaus[rng.randrange(len(bureaus))] if bureaus else "agriculture"
        serials[township_code] = serial = serials.get(township_code, 0) + 1
        sites.append(
            {
                "id": site_id,
                "code": f"{township_code}-{serial:04d}",
                "code_prefix": township_code,
                "serial": serial,
                "species_id": species_id,
                "township_id": township_id,
                "organization_id": ref.organizations[organization],
                "latitude": round(rng.uniform(min_lat, max_lat), 6),
                "longitude": round(rng.uniform(min_lon, max_lon), 6),
                "place_name": f"{township_code[-3:]}{rng.randrange(1, 30)}{rng.choice(PLACE_SUFFIXES)}",
                "habitat_id": rng.choice(ref.habitats) if ref.habitats else None,
                "status": SiteStatus.ACTIVE if rng.random() < 0.7 else SiteStatus.UNDER_CONTROL,
                "first_observed_at": datetime.combine(FIRST_DAY, datetime.min.time(), LOCAL).astimezone(UTC),
                "last_observed_at": datetime.combine(LAST_DAY, datetime.min.time(), LOCAL).astimezone(UTC),
                "created_at": now,
            }
        )
        inherited.append((organization, metrics))  # not columns: what the site's records take from it

    def generate() -> Iterator[dict[str, Any]]:
        # Plain arithmetic on rng.random() rather than uniform()/randrange(): a million rows.
        days = (LAST_DAY - FIRST_DAY).days + 1
        first = datetime.combine(FIRST_DAY, datetime.min.time().replace(hour=8), LOCAL).astimezone(UTC)
        step = days * 10 * 3600 / observations  # seconds of working day between records
        random_ = rng.random
        site_count = len(sites)
        jitter = 0.0003  # ~±15 m
        for i in range(observations):
            day, seconds = divmod(i * step, 10 * 3600)
            observed_at = first + timedelta(days=int(day), seconds=int(seconds))  # no DST in China
            index = int(random_() * site_count)
            site = sites[index]
            organization, metrics = inherited[index]
            detected = random_() >= 0.15
            measured = metrics if detected else ()
            roll = random_()
            status = STATUSES[int(roll * len(STATUSES))]
            surveyors = ref.surveyors[organization]
            yield {
                "id": i + 1,
                "client_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "payload_sha256": "0" * 64,
                "organization_id": site["organization_id"],
                "surveyor_id": surveyors[i % len(surveyors)],
                "species_id": site["species_id"],
                "site_id": site["id"] if detected or roll < 0.5 else None,
                "detected": detected,
                "observed_at": observed_at,
                "latitude": round(site["latitude"] + (random_() - 0.5) * jitter, 6),
                "longitude": round(site["longitude"] + (random_() - 0.5) * jitter, 6),
                "accuracy_m": round(3 + random_() * 22, 1)
                if random_() > 0.03
                else round(31 + random_() * 49, 1),
                "altitude_m": round(300 + random_() * 800, 1) if roll < 0.8 else None,
                "position_source": PositionSource.GPS if roll < 0.9 else PositionSource.MAP,
                "township_id": site["township_id"],
                "place_name": site["place_name"],
                "habitat_id": site["habitat_id"],
                "area_m2": round(5 + random_() * 4995, 1) if "area" in measured else None,
                "cover_pct": round(1 + random_() * 94, 1) if "cover" in measured else None,
                "density_per_m2": round(random_() * 40, 2) if "density" in measured else None,
                "egg_masses_per_m2": round(random_() * 8, 2) if "egg_masses" in measured else None,
                "count": int(1 + random_() * 800) if "count" in measured else None,
                "severity": 1 + int(random_() * 5) if detected else None,
                "notes": NOTES[int(random_() * len(NOTES))] if random_() < 0.2 else None,
                "status": status,
                "review_comment": "请补充照片" if status is ReviewStatus.RETURNED else None,
                "created_at": observed_at,
                "updated_at": observed_at,
            }

    return sites, generate()


def flags_and_photos(observation: dict[str, Any], rng: random.Random) -> tuple[list[Any], list[Any]]:
    flags = []
    if observation["accuracy_m"] > 30:
        flags.append({"observation_id": observation["id"], "flag": Flag.LOW_ACCURACY})
    if rng.random() < 0.005:
        flags.append({"observation_id": observation["id"], "flag": Flag.POSSIBLE_DUPLICATE})
    photos = []
    if rng.random() < 0.10:
        key = f"photos/bench/{observation['id']:07d}"
        photos.append(
            {
                "observation_id": observation["id"],
                "sha256": hashlib.sha256(key.encode()).hexdigest(),
                "mime_type": "image/jpeg",
                "size_bytes": 3_500_000,
                "width": 4000,
                "height": 3000,
                "original_key": key + ".jpg",
                "display_key": key + "-display.jpg",
                "thumb_key": key + "-thumb.jpg",
                "taken_at": observation["observed_at"],
                "uploaded_by_id": observation["surveyor_id"],
                "created_at": observation["created_at"],
            }
        )
    return flags, photos


# ---------------------------------------------------------------------------------------------
# Building


def _reference(app: Any) -> Reference:
    with app.app_context():
        organizations = {o.code: o.id for o in db.session.scalars(sa.select(Organization))}
        now = datetime.now(UTC)
        people = [
            {
                "username": f"surveyor-{code}-{n:02d}",
                "display_name": f"调查员{code[:3]}{n:02d}",
                "role": Role.SURVEYOR,
                "organization_id": org_id,
                "password_hash": "!bench",  # cannot sign in with a password
                "active": True,
                "notify_email": False,
                "notify_digest": False,
                "created_at": now,
            }
            for code, org_id in sorted(organizations.items())
            for n in range(SURVEYORS_PER_ORGANIZATION)
        ]
        db.session.execute(sa.insert(User), people)
        surveyors: dict[str, list[int]] = {}
        for user_id, org_code in db.session.execute(
            sa.select(User.id, Organization.code).join(Organization).where(User.username.like("surveyor-%"))
        ):
            surveyors.setdefault(org_code, []).append(user_id)
        species = [
            (s.id, [b for b in (s.bureaus or []) if b in organizations], list(s.metrics or []))
            for s in db.session.scalars(
                sa.select(Species).where(Species.retired_on.is_(None)).order_by(Species.id)
            )
        ]
        townships = [(t.id, t.code) for t in db.session.scalars(sa.select(Township).order_by(Township.code))]
        habitats = list(
            db.session.scalars(sa.select(Habitat.id).where(Habitat.level == 2).order_by(Habitat.id))
        )
        district = db.session.scalar(sa.select(District))
        assert district is not None  # noqa: S101 - loaded just before
        # Keep the points inside the bounds (the API refuses anything outside them).
        margin = 0.005
        bounds = (
            district.min_lon + margin,
            district.min_lat + margin,
            district.max_lon - margin,
            district.max_lat - margin,
        )
        db.session.commit()
    return Reference(organizations, surveyors, species, townships, habitats, bounds)


def _migrate_and_load(app: Any) -> None:
    quiet_migrations()
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _columns(table: sa.Table, row: dict[str, Any]) -> list[sa.Column[Any]]:
    return [table.c[name] for name in row]


class SQLiteWriter:
    """executemany in one transaction, values converted by the columns' own bind processors (so they are
    stored exactly as the app stores them)."""

    def __init__(self, path: Path, dialect: sa.Dialect):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=OFF")
        self.connection.execute("PRAGMA cache_size=-262144")  # 256 MB while loading
        self.connection.execute("PRAGMA foreign_keys=OFF")
        self.connection.execute("BEGIN")
        self.dialect = dialect

    def write(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = _columns(table, rows[0])
        processors = [column.type.bind_processor(self.dialect) for column in columns]
        names = [column.name for column in columns]
        marks = ", ".join("?" * len(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - our own names
        self.connection.executemany(
            sql,
            (
                tuple(
                    v if (p is None or v is None) else p(v)
                    for p, v in zip(processors, row.values(), strict=True)
                )
                for row in rows
            ),
        )

    def secondary_indexes(self, table: str) -> list[tuple[str, str]]:
        return self.connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).fetchall()

    def drop_index(self, name: str) -> None:
        self.connection.execute(f'DROP INDEX "{name}"')

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def finish(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.connection.close()


class PostgresWriter:
    """COPY, with the Python values turned into what the columns hold (uuid as 32 hex, enums as values)."""

    def __init__(self, url: str):
        import psycopg

        self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))

    @staticmethod
    def _text(value: Any) -> str:
        """One value in COPY's text format."""
        if value is None:
            return "\\N"
        if value is True:
            return "t"
        if value is False:
            return "f"
        if isinstance(value, uuid.UUID):
            return value.hex
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            text = str(value.value) if hasattr(value, "value") else value  # StrEnum: its value
            return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return repr(value) if isinstance(value, float) else str(value)

    def write(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """Rows as COPY text, made here in one pass (several times faster than adapting value by value)."""
        if not rows:
            return
        names = list(rows[0])
        text = self._text
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            chunk: list[str] = []
            for row in rows:
                chunk.append("\t".join([text(v) for v in row.values()]))
                if len(chunk) == 5000:
                    copy.write(("\n".join(chunk) + "\n").encode())
                    chunk = []
            if chunk:
                copy.write(("\n".join(chunk) + "\n").encode())

    def secondary_indexes(self, table: str) -> list[tuple[str, str]]:
        # Plain indexes only: the ones behind primary keys and unique constraints stay.
        return self.connection.execute(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.tablename = %s AND i.schemaname = 'public'
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
            (table,),
        ).fetchall()

    def drop_index(self, name: str) -> None:
        self.connection.execute(f'DROP INDEX "{name}"')

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def finish(self) -> None:
        for table in ("observations", "sites", "photos"):
            self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        self.connection.commit()
        self.connection.autocommit = True
        self.connection.execute("ANALYZE")
        self.connection.close()


def build(url: str, storage_dir: Path, observations: int, progress: Progress) -> dict[str, int]:
    """Migrate `url` (empty) and fill it; returns row counts."""
    app = make_app(url, storage_dir)
    progress("  migrating, loading the district and the species registry")
    _migrate_and_load(app)
    ref = _reference(app)
    sites, rows = sites_and_observations(ref, observations)
    with app.app_context():
        dialect = db.engine.dialect
        db.session.remove()
        db.engine.dispose()
    writer: SQLiteWriter | PostgresWriter
    if dialect.name == "sqlite":
        writer = SQLiteWriter(Path(url.removeprefix("sqlite:///")), dialect)
    else:
        writer = PostgresWriter(url)
    tables = {m.__tablename__: m.__table__ for m in (Observation, ObservationFlag, Photo, Site)}
    dropped = writer.secondary_indexes("observations")
    for name, _sql in dropped:
        writer.drop_index(name)
    writer.write(tables["sites"], sites)
    rng = random.Random(SEED + 1)  # noqa: S311 - benchmark data
    written = flags = photos = 0
    started = time.perf_counter()
    for batch in _batches(rows, BATCH):
        extra_flags: list[dict[str, Any]] = []
        extra_photos: list[dict[str, Any]] = []
        for row in batch:
            f, p = flags_and_photos(row, rng)
            extra_flags += f
            extra_photos += p
        writer.write(tables["observations"], batch)
        writer.write(tables["observation_flags"], extra_flags)
        writer.write(tables["photos"], extra_photos)
        written += len(batch)
        flags += len(extra_flags)
        photos += len(extra_photos)
        if written % (BATCH * 4) == 0 or written == observations:
            rate = written / (time.perf_counter() - started)
            progress(f"  {written:>9,} observations written ({rate:,.0f}/s)")
    progress(f"  building {len(dropped)} observation indexes")
    for _name, sql in dropped:
        writer.execute(sql)
    writer.finish()
    return {"sites": len(sites), "observations": written, "observation_flags": flags, "photos": photos}


def _empty_postgres(url: str) -> str:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def prepare(
    *, workdir: Path, observations: int, database_url: str | None, progress: Progress = print
) -> Dataset:
    """A database with the benchmark data, ready to use: a fresh copy of the cached SQLite file in
    `workdir`, or the PostgreSQL database at `database_url`, emptied and filled."""
    key = source_key(observations)
    started = time.perf_counter()
    if database_url:
        progress(f"building the PostgreSQL data set ({observations:,} observations)")
        url = _empty_postgres(database_url)
        counts = build(url, workdir, observations, progress)
        return Dataset(
            url,
            "postgresql",
            observations,
            counts["sites"],
            time.perf_counter() - started,
            False,
            key,
            counts=counts,
        )

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"dataset-{observations}-{key}.sqlite"
    meta = cached.with_suffix(".json")
    reused = cached.exists() and meta.exists()
    if not reused:
        for stale in CACHE_DIR.glob(f"dataset-{observations}-*"):
            stale.unlink()
        progress(f"building the SQLite data set ({observations:,} observations; cached in {CACHE_DIR.name}/)")
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        counts = build(f"sqlite:///{partial}", workdir, observations, progress)
        partial.rename(cached)
        meta.write_text(json.dumps(counts))
    else:
        progress(f"reusing the cached SQLite data set {cached.name}")
    counts = json.loads(meta.read_text())
    target = workdir / "bench.db"
    shutil.copyfile(cached, target)
    return Dataset(
        f"sqlite:///{target}",
        "sqlite",
        observations,
        counts["sites"],
        time.perf_counter() - started,
        reused,
        key,
        counts=counts,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    dataset = prepare(workdir=args.workdir, observations=args.observations, database_url=args.database_url)
    print(json.dumps(asdict(dataset)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
