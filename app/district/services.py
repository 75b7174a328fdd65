"""Loading the district's data, and looking townships up by code or old name."""

from __future__ import annotations

import csv
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload, undefer

from app.accounts.models import OrganizationKind
from app.accounts.services import upsert_organization
from app.district.models import District, Township, TownshipAlias, TownshipKind
from app.extensions import db
from app.geo.shapes import contains, is_polygonal
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

    @property
    def changed_anything(self) -> bool:
        return any(t.touched for t in (self.district, self.organizations, self.townships, self.aliases))


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
    if meta.get("township_boundaries"):
        boundaries = _read_boundaries(directory / meta["township_boundaries"], codes, problems)
        for row in townships:
            row["boundary"] = boundaries.get(row["code"])  # type: ignore[assignment]
    if problems:
        raise DistrictDataError(problems)
    return meta, townships, aliases


def _read_boundaries(path: Path, codes: set[str], problems: list[str]) -> dict[str, dict[str, Any]]:
    """A GeoJSON FeatureCollection: one feature per township, `properties.code` naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: not valid JSON: {exc}")
        return {}
    boundaries: dict[str, dict[str, Any]] = {}
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        problems.append(f"{path.name}: must be a GeoJSON FeatureCollection")
        return {}
    for i, feature in enumerate(features, 1):
        properties = feature.get("properties") or {} if isinstance(feature, dict) else {}
        code = str(properties.get("code", ""))
        if code not in codes:
            problems.append(f"{path.name} feature #{i}: properties.code {code!r} is not a township code")
            continue
        if not is_polygonal(feature.get("geometry")):
            problems.append(f"{path.name} feature #{i} ({code}): geometry must be a Polygon or MultiPolygon")
            continue
        boundaries[code] = feature["geometry"]
    return boundaries


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
            "boundary": row.get("boundary"),
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
    return report


def get_district() -> District | None:
    return db.session.scalar(sa.select(District).order_by(District.id).limit(1))


def list_townships() -> sa.Select[tuple[Township]]:
    return sa.select(Township).options(selectinload(Township.aliases)).order_by(Township.code)


def township_at(lon: float, lat: float) -> Township | None:
    """The township whose loaded boundary contains the point (None without boundaries or outside them)."""
    rows = db.session.execute(
        sa.select(Township.id, Township.boundary).where(Township.boundary.is_not(None))
    ).all()
    for township_id, boundary in rows:
        if contains(boundary, lon, lat):
            return db.session.get(Township, township_id)
    return None


def has_boundaries() -> bool:
    return db.session.scalar(sa.select(sa.exists().where(Township.boundary.is_not(None)))) or False


def find_townships(name_or_code: str, *, with_boundary: bool = False) -> list[Township]:
    """Townships a record's township refers to: by code, current name or an old name (may be several).

    `with_boundary` loads the (deferred) boundary in the same statement, for a point-in-township check;
    the aliases are not loaded then (a record only needs the township itself).
    """
    text = name_or_code.strip()
    base = (
        sa.select(Township).options(undefer(Township.boundary)).order_by(Township.code)
        if with_boundary
        else list_townships()
    )
    stmt = base.where(
        sa.or_(
            Township.code == text,
            Township.name_zh == text,
            Township.id.in_(sa.select(TownshipAlias.township_id).where(TownshipAlias.name == text)),
        )
    )
    return list(db.session.scalars(stmt))
