"""Loading the district's data files (`flask district load`): the district, its organizations, townships and
their old names, villages, the codes of former units and the folder's township polygons, idempotently."""

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
from app.district.divisions import short_name
from app.district.models import (
    Boundary,
    BoundaryLevel,
    BoundaryLoad,
    District,
    FormerUnit,
    Township,
    TownshipAlias,
    TownshipKind,
    Village,
)
from app.errors import InvalidInput
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
    villages: Tally = field(default_factory=Tally)
    former_units: Tally = field(default_factory=Tally)
    boundaries: Tally = field(default_factory=Tally)

    @property
    def changed_anything(self) -> bool:
        return any(
            t.touched
            for t in (
                self.district,
                self.organizations,
                self.townships,
                self.aliases,
                self.villages,
                self.former_units,
                self.boundaries,
            )
        )


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
    village_rows, former_rows = read_village_files(directory, meta, township_rows)
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

    for i, org in enumerate(meta.get("organization", []), 1):
        try:
            _org, outcome = upsert_organization(code=org["code"], name=org["name"], kind=org["kind"])
        except InvalidInput as exc:
            raise DistrictDataError([f"district.toml organization #{i} ({org['code']}): {exc}"]) from exc
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
    _load_villages(village_rows, existing, report.villages)
    _load_former_units(former_rows, report.former_units)
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


def read_village_files(
    directory: Path, meta: dict[str, Any], township_rows: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Parse and check the villages and former-units files `district.toml` names (both optional).

    Raises DistrictDataError listing every problem."""
    problems: list[str] = []
    townships = {row["code"] for row in township_rows}
    villages: list[dict[str, str]] = []
    if meta.get("villages"):
        villages = _csv_rows(
            directory / meta["villages"], ["code", "name", "short_name", "township_code"], problems
        )
    codes: set[str] = set()
    for line, row in enumerate(villages, 2):
        code, township = row["code"], row["township_code"]
        if township not in townships:
            problems.append(f"villages line {line}: unknown township_code {township!r}")
        if not (code.isdigit() and len(code) == 12 and code[:9] == township and not code.endswith("000")):
            problems.append(
                f"villages line {line}: code {code!r} is not a 12-digit village code of {township}"
            )
        if not row["name"]:
            problems.append(f"villages line {line}: name is required")
        if code in codes:
            problems.append(f"villages line {line}: code {code} appears twice")
        codes.add(code)
        row["short_name"] = row["short_name"] or short_name(row["name"])
    former: list[dict[str, str]] = []
    if meta.get("former_units"):
        former = _csv_rows(
            directory / meta["former_units"], ["code", "name", "today_code", "changed_in", "note"], problems
        )
    today = {str(meta.get("code")), *townships, *codes}
    for line, row in enumerate(former, 2):
        if not (row["code"].isdigit() and len(row["code"]) in (6, 9, 12)):
            problems.append(f"former_units line {line}: code {row['code']!r} must have 6, 9 or 12 digits")
        if row["today_code"] and row["today_code"] not in today:
            problems.append(
                f"former_units line {line}: today_code {row['today_code']} is not this district, "
                "one of its townships or villages"
            )
        if row["changed_in"] and not row["changed_in"].isdigit():
            problems.append(f"former_units line {line}: changed_in must be a year")
    if problems:
        raise DistrictDataError(problems)
    return villages, former


def _load_villages(rows: list[dict[str, str]], townships: dict[str, Township], tally: Tally) -> None:
    existing = {v.code: v for v in db.session.scalars(sa.select(Village))}
    for row in rows:
        values = {
            "name": row["name"],
            "short_name": row["short_name"],
            "township_id": townships[row["township_code"]].id,
        }
        village = existing.get(row["code"])
        if village is None:
            db.session.add(Village(code=row["code"], **values))
            tally.count("added")
        else:
            tally.count(apply_values(village, values))


def _load_former_units(rows: list[dict[str, str]], tally: Tally) -> None:
    existing = {f.code: f for f in db.session.scalars(sa.select(FormerUnit))}
    for row in rows:
        values = {
            "name": row["name"],
            "today_code": row["today_code"] or None,
            "changed_in": int(row["changed_in"]) if row["changed_in"] else None,
            "note": row["note"] or None,
        }
        unit = existing.get(row["code"])
        if unit is None:
            db.session.add(FormerUnit(code=row["code"], **values))
            tally.count("added")
        else:
            tally.count(apply_values(unit, values))
