"""Loading the district's data, and looking townships up by code or old name."""

from __future__ import annotations

import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.accounts.models import OrganizationKind
from app.accounts.services import upsert_organization
from app.district import boundaries
from app.district.models import (
    Boundary,
    BoundaryLevel,
    BoundaryLoad,
    District,
    Township,
    TownshipAlias,
    TownshipKind,
)
from app.extensions import db
from app.refdata import Tally, apply_values

KIND_BY_ZH = {
    "街道": TownshipKind.SUBDISTRICT,
    "镇": TownshipKind.TOWN,
    "乡": TownshipKind.TOWNSHIP,
}


class DistrictDataError(Exception):
    """The district files are inconsistent; `problems` lists every one found."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    district: Tally = field(default_factory=Tally)
    organizations: Tally = field(default_factory=Tally)
    townships: Tally = field(default_factory=Tally)
    aliases: Tally = field(default_factory=Tally)
    boundaries: Tally = field(default_factory=Tally)

    @property
    def changed_anything(self) -> bool:
        tallies = (self.district, self.organizations, self.townships, self.aliases, self.boundaries)
        return any(t.touched for t in tallies)


def _csv_rows(path: Path, header: list[str], problems: list[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames != header:
                problems.append(f"{path.name}: header must be {','.join(header)}")
                return []
            return [{k: (v or "").strip() for k, v in row.items()} for row in reader]
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
        return []


def read_district_files(
    directory: Path,
) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, str]]]:
    """Parse and check district.toml and its CSV files. Raises DistrictDataError listing every problem."""
    problems: list[str] = []
    try:
        with (directory / "district.toml").open("rb") as fh:
            meta = tomllib.load(fh)
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise DistrictDataError([f"district.toml: {exc}"]) from exc
    for name in ("code", "name", "bounds", "townships"):
        if name not in meta:
            problems.append(f"district.toml: {name} is required")
    bounds = meta.get("bounds", {})
    for name in ("min_lon", "min_lat", "max_lon", "max_lat"):
        if not isinstance(bounds.get(name), int | float):
            problems.append(f"district.toml: bounds.{name} must be a number")
    if not problems and not (bounds["min_lon"] < bounds["max_lon"] and bounds["min_lat"] < bounds["max_lat"]):
        problems.append("district.toml: bounds must have min < max")
    kinds = {kind.value for kind in OrganizationKind}
    for i, org in enumerate(meta.get("organization", []), 1):
        for name in ("code", "name"):
            if not isinstance(org.get(name), str) or not org[name].strip():
                problems.append(f"district.toml organization #{i}: {name} is required")
        if org.get("kind") not in kinds:
            problems.append(
                f"district.toml organization #{i}: kind must be one of {', '.join(sorted(kinds))}"
            )
    townships = _csv_rows(
        directory / meta.get("townships", "townships.csv"), ["code", "name_zh", "kind"], problems
    )
    codes = set()
    for line, row in enumerate(townships, 2):
        if not (
            row["code"].isdigit() and len(row["code"]) == 9 and row["code"].startswith(str(meta.get("code")))
        ):
            problems.append(
                f"townships line {line}: code {row['code']!r} is not a 9-digit code of this district"
            )
        if row["kind"] not in KIND_BY_ZH:
            problems.append(f"townships line {line}: kind must be 街道, 镇 or 乡")
        if row["code"] in codes:
            problems.append(f"townships line {line}: code {row['code']} appears twice")
        codes.add(row["code"])
    aliases: list[dict[str, str]] = []
    if meta.get("township_aliases"):
        aliases = _csv_rows(
            directory / meta["township_aliases"],
            ["alias", "township_code", "changed_in", "note"],
            problems,
        )
        for line, row in enumerate(aliases, 2):
            if row["township_code"] not in codes:
                problems.append(f"township_aliases line {line}: unknown township_code {row['township_code']}")
            if row["changed_in"] and not row["changed_in"].isdigit():
                problems.append(f"township_aliases line {line}: changed_in must be a year")
    if meta.get("township_boundaries") and not (directory / meta["township_boundaries"]).is_file():
        problems.append(f"{meta['township_boundaries']}: missing")
    if problems:
        raise DistrictDataError(problems)
    return meta, townships, aliases


def load_district(directory: Path) -> LoadReport:
    """Upsert the district, its organizations, townships and township aliases (idempotent)."""
    meta, township_rows, alias_rows = read_district_files(directory)
    report = LoadReport()
    bounds = meta["bounds"]
    values = {
        "name": meta["name"],
        "name_en": meta.get("name_en"),
        "province": meta.get("province"),
        "former_codes": list(meta.get("former_codes", [])),
        "area_km2": meta.get("area_km2"),
        "min_lon": float(bounds["min_lon"]),
        "min_lat": float(bounds["min_lat"]),
        "max_lon": float(bounds["max_lon"]),
        "max_lat": float(bounds["max_lat"]),
        "buffer_deg": float(bounds.get("buffer_deg", 0.01)),
    }
    district = db.session.scalar(sa.select(District).where(District.code == meta["code"]))
    if district is None:
        district = District(code=meta["code"], **values)
        db.session.add(district)
        db.session.flush()
        report.district.count("added")
    else:
        report.district.count(apply_values(district, values))

    for org in meta.get("organization", []):
        _org, outcome = upsert_organization(code=org["code"], name=org["name"], kind=org["kind"])
        report.organizations.count(outcome)

    existing = {
        t.code: t for t in db.session.scalars(sa.select(Township).options(selectinload(Township.aliases)))
    }
    for row in township_rows:
        township_values = {
            "name_zh": row["name_zh"],
            "kind": KIND_BY_ZH[row["kind"]],
            "district_id": district.id,
        }
        township = existing.get(row["code"])
        if township is None:
            township = Township(code=row["code"], aliases=[], **township_values)
            db.session.add(township)
            existing[row["code"]] = township
            report.townships.count("added")
        else:
            report.townships.count(apply_values(township, township_values))

    for row in alias_rows:
        township = existing[row["township_code"]]
        alias_values = {
            "changed_in": int(row["changed_in"]) if row["changed_in"] else None,
            "note": row["note"] or None,
        }
        alias = next((a for a in township.aliases if a.name == row["alias"]), None)
        if alias is None:
            township.aliases.append(TownshipAlias(name=row["alias"], **alias_values))
            report.aliases.count("added")
        else:
            report.aliases.count(apply_values(alias, alias_values))
    db.session.flush()
    if meta.get("township_boundaries"):
        _load_folder_boundaries(directory / meta["township_boundaries"], report)
    return report


def _load_folder_boundaries(path: Path, report: LoadReport) -> None:
    """The folder's township polygons, checked and loaded as a bureau's upload is (when the file changed)."""
    data = path.read_bytes()
    current = db.session.scalar(
        sa.select(BoundaryLoad.sha256)
        .where(BoundaryLoad.level == BoundaryLevel.TOWNSHIP)
        .order_by(BoundaryLoad.id.desc())
        .limit(1)
    )
    loaded = db.session.scalar(sa.select(sa.exists().where(Boundary.level == BoundaryLevel.TOWNSHIP)))
    if loaded and current == hashlib.sha256(data).hexdigest():
        report.boundaries.count("unchanged")
        return
    try:
        checked = boundaries.load_boundaries(data, path.name, level=BoundaryLevel.TOWNSHIP)
    except boundaries.BoundaryFileError as exc:
        raise DistrictDataError([str(exc)]) from exc
    except boundaries.BoundaryLoadError as exc:
        raise DistrictDataError([f"{path.name}: {p.message}" for p in exc.report.errors]) from exc
    if checked.units:
        report.boundaries.count("changed" if loaded else "added")


def get_district() -> District | None:
    return db.session.scalar(sa.select(District).order_by(District.id).limit(1))


def list_townships() -> sa.Select[tuple[Township]]:
    return sa.select(Township).options(selectinload(Township.aliases)).order_by(Township.code)


def township_at(lon: float, lat: float) -> Township | None:
    """The township whose loaded polygon holds the point (None without township polygons or outside them)."""
    code = boundaries.township_code_at(lon, lat)
    return None if code is None else db.session.scalar(sa.select(Township).where(Township.code == code))


def has_boundaries() -> bool:
    """Whether township polygons are loaded (a record's township then comes from its point)."""
    return boundaries.locator().townships is not None


def find_townships(name_or_code: str, *, with_aliases: bool = True) -> list[Township]:
    """Townships a record's township refers to: by code, current name or an old name (may be several).

    `with_aliases=False` leaves the aliases unloaded (a record only needs the township itself).
    """
    text = name_or_code.strip()
    base = list_townships() if with_aliases else sa.select(Township).order_by(Township.code)
    stmt = base.where(
        sa.or_(
            Township.code == text,
            Township.name_zh == text,
            Township.id.in_(sa.select(TownshipAlias.township_id).where(TownshipAlias.name == text)),
        )
    )
    return list(db.session.scalars(stmt))
