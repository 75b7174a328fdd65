"""Reading and checking the species registry files in species_lists/ (pure: files in, records out).

The format is documented in species_lists/README.md. Every problem in the files is collected and
reported at once, naming the file, the entry and the field, before anything touches the database.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from app import metrics
from app.species.models import CensusCategory, ListLevel, SpeciesGroup

METRICS = metrics.KEYS  # the survey metrics a species may name (app/metrics.py)
CODE_RE = re.compile(r"[a-z][a-z0-9_]*")
# A pinyin reading: lower-case syllables separated by single spaces ("chang mang xian").
PINYIN_RE = re.compile(r"[a-z]+( [a-z]+)*")
HAN_RE = re.compile(r"[\u3400-\u9fff]")


def pinyin_problem(name: str, reading: str) -> str | None:
    """Why `reading` cannot be the pinyin of `name`, or None when it can."""
    if not PINYIN_RE.fullmatch(reading):
        return "pinyin must be lower-case letters, one syllable per character, separated by spaces"
    if len(reading.split(" ")) != len(HAN_RE.findall(name)):
        return "pinyin must have one syllable per Chinese character"
    return None


def census_problem(categories: list[str], bureaus: list[str]) -> str | None:
    """Why these census categories do not fit the bureaus, or None when they do."""
    try:
        parsed = [CensusCategory(c) for c in categories]
    except ValueError:
        return "census_categories must be drawn from " + ", ".join(c.value for c in CensusCategory)
    covered = {c.bureau for c in parsed}
    if covered - set(bureaus):
        return "census_categories name a census whose bureau is not in bureaus"
    if set(bureaus) - covered:
        return "census_categories must give a category for each bureau in bureaus"
    return None


def list_census_problem(categories: Any, bureau: str | None) -> str | None:
    """Why these cannot be the census categories a list reports, or None when they can: each must be a
    CensusCategory value, once; a bureau's list reports only its bureau's census's categories."""
    if not _str_list(categories):
        return "census_categories must be a list of category codes"
    known = {c.value for c in CensusCategory}
    unknown = [c for c in categories if c not in known]
    if unknown:
        return f"unknown census categories {', '.join(unknown)}; known: {', '.join(sorted(known))}"
    if len(set(categories)) != len(categories):
        return "census_categories names a category twice"
    if bureau in ("agriculture", "forestry"):
        other = [c for c in categories if CensusCategory(c).bureau != bureau]
        if other:
            return f"census_categories {', '.join(other)} belong to the other bureau's census"
    return None


class RegistryError(Exception):
    """The registry files are inconsistent; `problems` lists every one found."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MethodSpec:
    code: str
    name_zh: str
    name_en: str
    applies_to: tuple[str, ...]
    fields: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class SpeciesSpec:
    key: str
    name_zh: str
    name_sci: str
    authority: str | None
    group: SpeciesGroup
    aliases: tuple[str, ...]
    synonyms: tuple[str, ...]
    bureaus: tuple[str, ...]
    names_en: tuple[str, ...]
    pinyin: dict[str, str]  # name → its reading, where pypinyin reads a polyphonic character wrongly
    census_categories: tuple[str, ...]
    metrics: tuple[str, ...]
    severity: dict[str, Any]
    follow_up_days: dict[str, list[int]]
    next_spring_check: bool
    spring_check_md: str | None  # "03-15": the day of the next-spring check, when there is one
    flag: str | None


@dataclass(frozen=True)
class MemberSpec:
    row: int
    species_key: str
    name_as_listed: str
    status: str
    verified: bool


@dataclass(frozen=True)
class ListSpec:
    code: str
    name: str
    short_name: str | None
    level: ListLevel
    issuer: str
    announcement: str | None
    published_on: date | None
    in_force_on: date | None
    source: str | None
    note: str | None
    members: tuple[MemberSpec, ...]
    # The census categories the list reports (CensusCategory values; list_census_problem).
    census_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class HabitatSpec:
    code: str
    level: int  # 1: 三调 land class, 2: place type
    name_zh: str
    name_en: str
    parent: str | None  # the class of a place type
    provisional: bool
    position: int  # order in the file, the order pickers show


@dataclass
class Registry:
    methods: dict[str, MethodSpec] = field(default_factory=dict)
    habitats: dict[str, HabitatSpec] = field(default_factory=dict)
    species: dict[str, SpeciesSpec] = field(default_factory=dict)
    lists: dict[str, ListSpec] = field(default_factory=dict)


def _toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path.name}: not valid TOML: {exc}")
    return {}


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _check_follow_ups(where: str, value: Any, methods: dict[str, MethodSpec], problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{where}: follow_up_days must be a table of method = [days]")
        return
    for method, days in value.items():
        if method not in methods:
            problems.append(f"{where}: follow_up_days names unknown control method {method!r}")
        ok = isinstance(days, list) and days and all(isinstance(d, int) and d > 0 for d in days)
        if not ok or days != sorted(set(days)):
            problems.append(f"{where}: follow_up_days.{method} must be ascending positive whole days")


def _check_severity(where: str, severity: Any, scales: dict[str, Any], problems: list[str]) -> None:
    if not isinstance(severity, dict):
        problems.append(f"{where}: severity must be a table")
        return
    if severity.get("metric") not in METRICS:
        problems.append(f"{where}: severity.metric must be one of {', '.join(METRICS)}")
    thresholds = severity.get("thresholds")
    numeric = isinstance(thresholds, list) and all(isinstance(t, int | float) for t in thresholds)
    if not numeric or len(thresholds) != 4 or thresholds != sorted(thresholds):  # type: ignore[arg-type]
        problems.append(
            f"{where}: severity.thresholds must be 4 ascending numbers (upper bounds of levels 1–4)"
        )
    if severity.get("scale") not in scales:
        problems.append(f"{where}: severity scale {severity.get('scale')!r} is not in defaults.toml [scales]")


def _read_methods(directory: Path, problems: list[str]) -> dict[str, MethodSpec]:
    methods: dict[str, MethodSpec] = {}
    for i, entry in enumerate(_toml(directory / "control_methods.toml", problems).get("method", []), 1):
        where = f"control_methods.toml method #{i}"
        code = entry.get("code")
        if not isinstance(code, str) or not code:
            problems.append(f"{where}: code is required")
            continue
        if code in methods:
            problems.append(f"{where}: duplicate code {code!r}")
        for name in ("name_zh", "name_en"):
            if not isinstance(entry.get(name), str):
                problems.append(f"{where} ({code}): {name} is required")
        methods[code] = MethodSpec(
            code=code,
            name_zh=entry.get("name_zh", ""),
            name_en=entry.get("name_en", ""),
            applies_to=tuple(entry.get("applies_to", ["*"])),
            fields=tuple(entry.get("fields", [])),
        )
    return methods


def _resolve_species(
    i: int,
    entry: dict[str, Any],
    defaults: dict[str, Any],
    methods: dict[str, MethodSpec],
    problems: list[str],
) -> SpeciesSpec | None:
    key = entry.get("key")
    where = f"species.toml species #{i}" + (f" ({key})" if key else "")
    for name in ("key", "name_zh", "name_sci", "group"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            problems.append(f"{where}: {name} is required")
    try:
        group = SpeciesGroup(str(entry.get("group")))
    except ValueError:
        problems.append(
            f"{where}: group {entry.get('group')!r} is not one of {', '.join(g.value for g in SpeciesGroup)}"
        )
        return None
    for name in ("aliases", "synonyms", "bureaus", "names_en", "census_categories"):
        if name in entry and entry[name] and not _str_list(entry[name]):
            problems.append(f"{where}: {name} must be a list of names")
    if "census_categories" not in entry:
        problems.append(f"{where}: census_categories is required ([] only for a species in neither census)")
    elif _str_list(entry["census_categories"]) or entry["census_categories"] == []:
        problem = census_problem(list(entry["census_categories"]), list(entry.get("bureaus", [])))
        if problem:
            problems.append(f"{where}: {problem}")
    pinyin = entry.get("pinyin", {})
    if not isinstance(pinyin, dict):
        problems.append(f"{where}: pinyin must be a table of name = reading")
        pinyin = {}
    for name, reading in pinyin.items():
        if name not in (entry.get("name_zh"), *entry.get("aliases", [])):
            problems.append(f"{where}: pinyin names {name!r}, which is not its name_zh or an alias")
        elif not isinstance(reading, str) or pinyin_problem(name, reading):
            problems.append(f"{where}: pinyin.{name}: {pinyin_problem(name, str(reading))}")
    group_defaults = defaults.get("groups", {}).get(group.value, {})
    scales = defaults.get("scales", {})
    metrics = entry.get("metrics", group_defaults.get("metrics", []))
    if not _str_list(metrics) or any(m not in METRICS for m in metrics):
        problems.append(f"{where}: metrics must be a list drawn from {', '.join(METRICS)}")
    scale = entry.get("severity_scale", group_defaults.get("severity_scale"))
    severity = {**group_defaults.get("severity", {}), **entry.get("severity", {}), "scale": scale}
    _check_severity(where, severity, scales, problems)
    severity["levels"] = scales.get(scale, {}).get("levels", [])
    follow_ups = {**group_defaults.get("follow_up_days", {}), **entry.get("follow_up_days", {})}
    _check_follow_ups(where, follow_ups, methods, problems)
    spring = defaults.get("next_spring_check", {})
    next_spring = entry.get("next_spring_check", group.value in spring.get("groups", []))
    spring_md = None
    if next_spring:
        try:
            spring_md = date(2000, int(spring.get("month", 0)), int(spring.get("day", 0))).strftime("%m-%d")
        except (TypeError, ValueError):
            problems.append("defaults.toml [next_spring_check]: month and day must name a real day")
    return SpeciesSpec(
        key=str(key),
        name_zh=str(entry.get("name_zh", "")).strip(),
        name_sci=str(entry.get("name_sci", "")).strip(),
        authority=entry.get("authority") or None,
        group=group,
        aliases=tuple(entry.get("aliases", [])),
        synonyms=tuple(entry.get("synonyms", [])),
        bureaus=tuple(entry.get("bureaus", [])),
        names_en=tuple(entry.get("names_en", [])),
        pinyin={str(k): str(v) for k, v in pinyin.items()},
        census_categories=tuple(entry.get("census_categories", [])),
        metrics=tuple(metrics) if isinstance(metrics, list) else (),
        severity=severity,
        follow_up_days=follow_ups,
        next_spring_check=bool(next_spring),
        spring_check_md=spring_md,
        flag=entry.get("flag") or None,
    )


def _read_members(
    directory: Path, code: str, relpath: str, species: dict[str, SpeciesSpec], problems: list[str]
) -> tuple[MemberSpec, ...]:
    path = directory / relpath
    members: list[MemberSpec] = []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            expected = ["row", "species_key", "name_as_listed", "status", "verified"]
            if reader.fieldnames != expected:
                problems.append(f"{relpath}: header must be {','.join(expected)}")
                return ()
            seen_keys: set[str] = set()
            seen_rows: dict[int, int] = {}  # row number → the line that has it
            for line_no, rec in enumerate(reader, 2):
                where = f"{relpath} line {line_no}"
                key = (rec["species_key"] or "").strip()
                if key not in species:
                    problems.append(f"{where}: species_key {key!r} is not in species.toml")
                if key in seen_keys:
                    problems.append(f"{where}: species_key {key!r} listed twice")
                seen_keys.add(key)
                if not (rec["row"] or "").strip().isdigit():
                    problems.append(f"{where}: row must be a whole number")
                    continue
                row = int(rec["row"])
                if row in seen_rows:
                    # Two species under one row number: a list's row is one entry of the published list.
                    problems.append(f"{where}: row {row} is on line {seen_rows[row]} too")
                seen_rows.setdefault(row, line_no)
                verified = (rec["verified"] or "").strip().lower()
                if verified not in {"true", "false"}:
                    problems.append(f"{where}: verified must be true or false")
                members.append(
                    MemberSpec(
                        row=row,
                        species_key=key,
                        name_as_listed=(rec["name_as_listed"] or "").strip(),
                        status=(rec["status"] or "").strip(),
                        verified=verified == "true",
                    )
                )
    except FileNotFoundError:
        problems.append(f"lists.toml list {code}: members file {relpath} is missing")
    return tuple(members)


def _read_habitats(directory: Path, problems: list[str]) -> dict[str, HabitatSpec]:
    data = _toml(directory / "habitats.toml", problems)
    habitats: dict[str, HabitatSpec] = {}
    position = 0
    for level, table in ((1, "class"), (2, "place")):
        for i, entry in enumerate(data.get(table, []), 1):
            where = f"habitats.toml {table} #{i}"
            code = entry.get("code")
            if not isinstance(code, str) or not CODE_RE.fullmatch(code):
                problems.append(f"{where}: code must be ascii snake_case")
                continue
            if code in habitats:
                problems.append(f"{where}: code {code!r} appears twice")
            for name in ("name_zh", "name_en"):
                if not isinstance(entry.get(name), str) or not entry[name].strip():
                    problems.append(f"{where} ({code}): {name} is required")
            parent = entry.get("class") if level == 2 else None
            if level == 2 and (parent not in habitats or habitats[parent].level != 1):
                problems.append(f"{where} ({code}): class {parent!r} is not a [[class]] code above it")
            position += 1
            habitats[code] = HabitatSpec(
                code=code,
                level=level,
                name_zh=str(entry.get("name_zh", "")),
                name_en=str(entry.get("name_en", "")),
                parent=parent,
                provisional=bool(entry.get("provisional", False)),
                position=position,
            )
    if data and not habitats:
        problems.append("habitats.toml: no [[class]] or [[place]] entries")
    return habitats


def read_registry(directory: Path) -> Registry:
    """Parse and cross-check every registry file. Raises RegistryError listing all problems."""
    problems: list[str] = []
    registry = Registry()
    registry.methods = _read_methods(directory, problems)
    registry.habitats = _read_habitats(directory, problems)
    defaults = _toml(directory / "defaults.toml", problems)

    for i, entry in enumerate(_toml(directory / "species.toml", problems).get("species", []), 1):
        spec = _resolve_species(i, entry, defaults, registry.methods, problems)
        if spec is None:
            continue
        if spec.key in registry.species:
            problems.append(f"species.toml: key {spec.key!r} appears twice")
        registry.species[spec.key] = spec
    names = [s.name_zh for s in registry.species.values()]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"species.toml: name_zh {name!r} is used by more than one species")
    owners: dict[str, set[str]] = {}
    for spec in registry.species.values():
        for name in (spec.name_zh, *spec.aliases):
            owners.setdefault(name, set()).add(spec.key)
    for name, keys in sorted(owners.items()):
        if len(keys) > 1:
            problems.append(f"species.toml: alias {name!r} is used by {', '.join(sorted(keys))}")
    sci: dict[str, set[str]] = {}
    for spec in registry.species.values():
        sci.setdefault(spec.name_sci.lower(), set()).add(spec.key)
    for name, keys in sorted(sci.items()):
        if len(keys) > 1:
            problems.append(f"species.toml: name_sci {name!r} is used by {', '.join(sorted(keys))}")

    for i, entry in enumerate(_toml(directory / "lists.toml", problems).get("list", []), 1):
        code = entry.get("code")
        where = f"lists.toml list #{i}" + (f" ({code})" if code else "")
        for name in ("code", "name", "issuer", "members"):
            if not isinstance(entry.get(name), str) or not entry[name]:
                problems.append(f"{where}: {name} is required")
        try:
            level = ListLevel(entry.get("level"))
        except ValueError:
            problems.append(f"{where}: level must be national, provincial or district")
            continue
        for name in ("published_on", "in_force_on"):
            if name in entry and not isinstance(entry[name], date):
                problems.append(f"{where}: {name} must be a TOML date (YYYY-MM-DD)")
        categories = entry.get("census_categories", [])
        problem = list_census_problem(categories, None)
        if problem:
            problems.append(f"{where}: {problem}")
            categories = []
        if not isinstance(code, str) or not isinstance(entry.get("members"), str):
            continue
        if code in registry.lists:
            # A [[list]] block pasted twice: the second would replace the first, and sync would end the
            # periods of every species only the first one's members file holds.
            problems.append(f"{where}: code {code!r} appears twice")
            continue
        registry.lists[code] = ListSpec(
            census_categories=tuple(categories),
            code=code,
            name=entry["name"],
            short_name=entry.get("short_name"),
            level=level,
            issuer=entry.get("issuer", ""),
            announcement=entry.get("announcement"),
            published_on=entry.get("published_on"),
            in_force_on=entry.get("in_force_on"),
            source=entry.get("source"),
            note=entry.get("note"),
            members=_read_members(directory, code, entry["members"], registry.species, problems),
        )
    if problems:
        raise RegistryError(problems)
    return registry
