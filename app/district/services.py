"""Loading the district's data, and looking townships up by code or old name."""

from __future__ import annotations

import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import OrganizationKind
from app.accounts.services import upsert_organization
from app.district import boundaries
from app.district.codes import CodeBook, CodeRefused, UnitCode, parse_code
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
from app.errors import FieldErrors, InvalidInput
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


def get_district() -> District | None:
    return db.session.scalar(sa.select(District).order_by(District.id).limit(1))


def list_townships() -> sa.Select[tuple[Township]]:
    return sa.select(Township).options(selectinload(Township.aliases)).order_by(Township.code)


def township_at(lon: float, lat: float) -> Township | None:
    """The township whose loaded polygon holds the point (None without township polygons or outside them)."""
    code = boundaries.township_code_at(lon, lat)
    return None if code is None else db.session.scalar(sa.select(Township).where(Township.code == code))


def village_at(lon: float, lat: float, township: Township | None = None) -> Village | None:
    """The village whose loaded polygon holds the point, when it lies in `township` (if one is known)."""
    code = boundaries.village_code_at(lon, lat)
    if code is None:
        return None
    village = db.session.scalar(
        sa.select(Village).options(joinedload(Village.township)).where(Village.code == code)
    )
    if village is None or (township is not None and village.township_id != township.id):
        return None
    return village


def has_boundaries() -> bool:
    """Whether township polygons are loaded (a record's township then comes from its point)."""
    return boundaries.locator().townships is not None


def find_townships(name_or_code: str, *, with_aliases: bool = True) -> list[Township]:
    """Townships a record's township refers to: by code, current name or an old name (may be several).

    `with_aliases=False` leaves the aliases unloaded (a record only needs the township itself). A code
    may be typed in any form app.district.codes reads; one this district cannot use raises InvalidInput (422).
    """
    text = name_or_code.strip()
    unit = parse_unit_code(text)  # 9- and 12-digit forms, a village's code, a former code mapped
    base = list_townships() if with_aliases else sa.select(Township).order_by(Township.code)
    if unit is not None:
        return list(db.session.scalars(base.where(Township.code == unit.township)))
    stmt = base.where(
        sa.or_(
            Township.name_zh == text,
            Township.id.in_(sa.select(TownshipAlias.township_id).where(TownshipAlias.name == text)),
        )
    )
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------------------------------------
# Villages (村/社区) and the codes of former units


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


def code_book() -> CodeBook:
    """What the loaded district data says about codes (for app.district.codes)."""
    district = get_district()
    if district is None:
        return CodeBook(district_code="", district_name="")
    counties = {code: code for code in district.former_codes}
    units: dict[str, str] = {}
    for code, name, today in db.session.execute(
        sa.select(FormerUnit.code, FormerUnit.name, FormerUnit.today_code)
    ):
        if len(code) == 6:
            counties[code] = name
        elif today:
            units[code] = today
    return CodeBook(
        district_code=district.code,
        district_name=district.name,
        former_counties=counties,
        former_units=units,
    )


def parse_unit_code(text: str, field_name: str = "township_code") -> UnitCode | None:
    """A typed township or village code as a unit; None for a name. Raises InvalidInput (422) naming the
    field when the text is a code this district cannot use (another county's, a former one not mapped)."""
    try:
        return parse_code(text, code_book())
    except CodeRefused as exc:
        raise InvalidInput.field(field_name, exc.message) from exc


def list_villages(township_code: str | None = None, q: str | None = None) -> sa.Select[tuple[Village]]:
    """The villages, by code; of one township when given (any form of its code, or its name), and whose
    short or official name contains `q` when given."""
    stmt = sa.select(Village).options(joinedload(Village.township)).order_by(Village.code)
    if q and q.strip():
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(Village.short_name.like(pattern, escape="\\"), Village.name.like(pattern, escape="\\"))
        )
    if township_code:
        townships = find_townships(township_code)
        if not townships:
            raise InvalidInput.field("township_code", _("Unknown township; see GET /api/v1/townships."))
        stmt = stmt.where(Village.township_id.in_([t.id for t in townships]))
    return stmt


def find_village(text: str, township: Township | None = None) -> list[Village]:
    """Villages a record's village refers to: by code (any form people type) or by short or official name,
    within the township when given (short names repeat between townships: 和平村, 大兴村, 永和村)."""
    unit = parse_unit_code(text, "village_code")
    if unit is not None:
        if unit.village is None:
            raise InvalidInput.field(
                "village_code",
                _("%(code)s is a township's code; a village's code has 12 digits.", code=text.strip()),
            )
        return list(db.session.scalars(sa.select(Village).where(Village.code == unit.village)))
    name = text.strip()
    stmt = sa.select(Village).where(sa.or_(Village.short_name == name, Village.name == name))
    if township is not None:
        stmt = stmt.where(Village.township_id == township.id)
    return list(db.session.scalars(stmt.order_by(Village.code)))


def resolve_village(
    village_text: str | None,
    township_text: str | None,
    township: Township | None,
    errors: FieldErrors,
    *,
    kept: bool = False,
) -> tuple[Township | None, Village | None]:
    """A record's village, and its township when only the village was given.

    `township` is the one the record's `township_code` named (or derived from the point when none was
    given). A village code in `township_code` names that village too. A village outside the named township
    is refused on both fields; one `kept` from before an edit that moved the record is dropped instead.
    Problems are added to `errors`.
    """
    village: Village | None = None
    if village_text:
        matches = find_village(village_text, township if township_text else None)
        if len(matches) == 1:
            village = matches[0]
        elif matches:
            errors["village_code"] = [
                _(
                    "%(name)s is in several townships (%(townships)s); send the village's code or the "
                    "township.",
                    name=village_text.strip(),
                    townships=", ".join(f"{v.township.name_zh} {v.code}" for v in matches),
                )
            ]
            return township, None
        elif not kept:
            errors["village_code"] = [_("Unknown village; see GET /api/v1/villages.")]
            return township, None
    elif township_text:
        unit = parse_unit_code(township_text)
        if unit is not None and unit.village is not None:
            village = db.session.scalar(sa.select(Village).where(Village.code == unit.village))
            if village is None:
                errors["township_code"] = [_("Unknown village; see GET /api/v1/villages.")]
    if village is None:
        return township, None
    if not township_text:
        return village.township, village
    if township is not None and village.township_id != township.id:
        if kept:
            return township, None
        message = _(
            "the village %(village)s (%(village_code)s) is not in the township %(township)s "
            "(%(township_code)s).",
            village=village.short_name,
            village_code=village.code,
            township=township.name_zh,
            township_code=township.code,
        )
        errors["township_code"] = [message]
        errors["village_code"] = [message]
        return township, None
    return township, village
