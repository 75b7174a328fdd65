"""The species registry: syncing it from the data files, and searching it the way surveyors type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.refdata import Tally, apply_values
from app.species.models import (
    NAME_KIND_WEIGHT,
    ControlMethod,
    Habitat,
    ListMembership,
    NameKind,
    Species,
    SpeciesGroup,
    SpeciesList,
    SpeciesName,
)
from app.species.registry import ListSpec, Registry, SpeciesSpec, read_registry

# ---------------------------------------------------------------------------------------------
# Names and pinyin


def pinyin_full(text: str) -> str:
    """福寿螺 → fushouluo (letters only: punctuation and spaces dropped)."""
    # Imported here: pypinyin's dictionaries take ~55 MB, and only `flask species sync` needs them
    # (search matches the pinyin stored by the sync), not every web worker.
    from pypinyin import Style, lazy_pinyin

    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.NORMAL)).lower())


def pinyin_initials(text: str) -> str:
    """福寿螺 → fsl."""
    from pypinyin import Style, lazy_pinyin

    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower())


def normalize_query(text: str) -> str:
    return " ".join(text.lower().split())


def search_names(spec: SpeciesSpec) -> set[tuple[NameKind, str]]:
    """Every form a surveyor might type for this species, normalised for LIKE matching."""
    names: set[tuple[NameKind, str]] = {
        (NameKind.NAME, spec.name_zh),
        (NameKind.SCIENTIFIC, normalize_query(spec.name_sci)),
    }
    for alias in spec.aliases:
        names.add((NameKind.ALIAS, alias))
    for synonym in spec.synonyms:
        names.add((NameKind.SYNONYM, normalize_query(synonym)))
    for chinese in (spec.name_zh, *spec.aliases):
        names.add((NameKind.PINYIN, pinyin_full(chinese)))
        names.add((NameKind.INITIALS, pinyin_initials(chinese)))
    return {(kind, value) for kind, value in names if value}


# ---------------------------------------------------------------------------------------------
# Sync


@dataclass
class SyncReport:
    lists: Tally = field(default_factory=Tally)
    species: Tally = field(default_factory=Tally)
    memberships: Tally = field(default_factory=Tally)
    habitats: Tally = field(default_factory=Tally)
    methods: Tally = field(default_factory=Tally)
    flagged: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        tallies = (self.lists, self.species, self.memberships, self.habitats, self.methods)
        return any(t.touched for t in tallies)


def _list_values(spec: ListSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "short_name": spec.short_name,
        "level": spec.level,
        "issuer": spec.issuer,
        "announcement": spec.announcement,
        "published_on": spec.published_on,
        "in_force_on": spec.in_force_on,
        "source": spec.source,
        "note": spec.note,
    }


def _species_values(spec: SpeciesSpec) -> dict[str, Any]:
    return {
        "name_zh": spec.name_zh,
        "name_sci": spec.name_sci,
        "authority": spec.authority,
        "pinyin": pinyin_full(spec.name_zh),
        "group": spec.group,
        "aliases": list(spec.aliases),
        "synonyms": list(spec.synonyms),
        "bureaus": list(spec.bureaus),
        "metrics": list(spec.metrics),
        "severity": spec.severity,
        "follow_up_days": spec.follow_up_days,
        "next_spring_check": spec.next_spring_check,
        "spring_check_md": spec.spring_check_md,
        "flag": spec.flag,
        "retired_on": None,
    }


def _sync_names(species_by_key: dict[str, Species], registry: Registry) -> None:
    """Make each species' search names match its names in the files (one read for all species)."""
    existing: dict[int, dict[tuple[NameKind, str], SpeciesName]] = {}
    for name in db.session.scalars(sa.select(SpeciesName)):
        existing.setdefault(name.species_id, {})[(name.kind, name.value)] = name
    for key, spec in registry.species.items():
        species = species_by_key[key]
        wanted = search_names(spec)
        current = existing.get(species.id, {})
        for name_key, row in current.items():
            if name_key not in wanted:
                db.session.delete(row)
        for kind, value in wanted - current.keys():
            db.session.add(
                SpeciesName(species_id=species.id, kind=kind, weight=NAME_KIND_WEIGHT[kind], value=value)
            )


def _sync_memberships(
    spec: ListSpec,
    species_list: SpeciesList,
    species_by_key: dict[str, Species],
    new_list: bool,
    today: date,
    report: SyncReport,
) -> None:
    existing = {m.species_id: m for m in species_list.memberships}
    wanted_ids = set()
    for member in spec.members:
        species = species_by_key[member.species_key]
        wanted_ids.add(species.id)
        values = {
            "row": member.row,
            "name_as_listed": member.name_as_listed,
            "status": member.status,
            "verified": member.verified,
            "removed_on": None,
        }
        current = existing.get(species.id)
        if current is None:
            # Rows present when a list is first loaded date from its publication; later ones from today.
            db.session.add(
                ListMembership(
                    species_list=species_list,
                    species=species,
                    added_on=None if new_list else today,
                    **values,
                )
            )
            report.memberships.count("added")
        else:
            if current.removed_on is not None:
                values["added_on"] = today
            report.memberships.count(apply_values(current, values))
    for species_id, current in existing.items():
        if species_id not in wanted_ids and current.removed_on is None:
            current.removed_on = today
            report.memberships.count("retired")


def _sync_habitats(registry: Registry, report: SyncReport) -> None:
    existing = {h.code: h for h in db.session.scalars(sa.select(Habitat))}
    for code, spec in registry.habitats.items():  # classes come first, so parents exist
        parent = existing[spec.parent] if spec.parent else None
        values = {
            "level": spec.level,
            "name_zh": spec.name_zh,
            "name_en": spec.name_en,
            "parent": parent,
            "provisional": spec.provisional,
            "position": spec.position,
            "retired": False,
        }
        habitat = existing.get(code)
        if habitat is None:
            existing[code] = Habitat(code=code, **values)
            db.session.add(existing[code])
            report.habitats.count("added")
        else:
            report.habitats.count(apply_values(habitat, values))
    for code, habitat in existing.items():
        if code not in registry.habitats and not habitat.retired:
            habitat.retired = True
            report.habitats.count("retired")


def _sync_methods(registry: Registry, report: SyncReport) -> None:
    existing = {m.code: m for m in db.session.scalars(sa.select(ControlMethod))}
    for position, (code, spec) in enumerate(registry.methods.items(), 1):
        values = {
            "name_zh": spec.name_zh,
            "name_en": spec.name_en,
            "applies_to": list(spec.applies_to),
            "fields": [dict(f) for f in spec.fields],
            "position": position,
            "retired": False,
        }
        method = existing.get(code)
        if method is None:
            db.session.add(ControlMethod(code=code, **values))
            report.methods.count("added")
        else:
            report.methods.count(apply_values(method, values))
    for code, method in existing.items():
        if code not in registry.methods and not method.retired:
            method.retired = True
            report.methods.count("retired")


def sync_registry(directory: Path, *, today: date | None = None) -> SyncReport:
    """Upsert lists, species, search names and memberships from the registry files.

    Idempotent: a second run with the same files changes nothing. Species are never deleted; one
    missing from the files is retired (hidden from pickers, kept for its records). Raises RegistryError
    when the files are inconsistent, before writing anything.
    """
    registry: Registry = read_registry(directory)
    today = today or datetime.now(UTC).date()
    report = SyncReport()

    species_by_key = {s.key: s for s in db.session.scalars(sa.select(Species))}
    for key, spec in registry.species.items():
        species = species_by_key.get(key)
        if species is None:
            species = Species(key=key, **_species_values(spec))
            db.session.add(species)
            species_by_key[key] = species
            report.species.count("added")
        else:
            report.species.count(apply_values(species, _species_values(spec)))
    for key, species in species_by_key.items():
        if key not in registry.species and species.retired_on is None:
            species.retired_on = today
            report.species.count("retired")
    db.session.flush()
    _sync_names(species_by_key, registry)
    _sync_habitats(registry, report)
    _sync_methods(registry, report)

    lists_by_code = {
        sl.code: sl
        for sl in db.session.scalars(sa.select(SpeciesList).options(selectinload(SpeciesList.memberships)))
    }
    for code, list_spec in registry.lists.items():
        species_list = lists_by_code.get(code)
        new_list = species_list is None
        if species_list is None:
            species_list = SpeciesList(code=code, **_list_values(list_spec))
            db.session.add(species_list)
            report.lists.count("added")
        else:
            report.lists.count(apply_values(species_list, _list_values(list_spec)))
        _sync_memberships(list_spec, species_list, species_by_key, new_list, today, report)
    db.session.flush()

    for code, list_spec in registry.lists.items():
        unverified = [m for m in list_spec.members if not m.verified]
        if unverified:
            rows = ", ".join(f"{m.row} {m.name_as_listed} ({m.status})" for m in unverified)
            report.flagged.append(f"{code}: {len(unverified)} unverified rows: {rows}")
    for species_spec in registry.species.values():
        if species_spec.flag:
            report.flagged.append(f"{species_spec.name_zh} ({species_spec.key}): {species_spec.flag}")
    for key, species in species_by_key.items():
        if species.retired_on is not None:
            report.flagged.append(
                f"{species.name_zh} ({key}): no longer in the files, retired {species.retired_on}"
            )
    return report


# ---------------------------------------------------------------------------------------------
# Queries


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_list(code: str) -> SpeciesList | None:
    return db.session.scalar(sa.select(SpeciesList).where(SpeciesList.code == code))


def search_species(
    *,
    q: str | None = None,
    list_code: str | None = None,
    group: SpeciesGroup | None = None,
    include_retired: bool = False,
) -> sa.Select[tuple[Species]]:
    """Species matching what a surveyor typed, best match first.

    `q` matches the Chinese name, any alias, full pinyin or initials (fsl, fushouluo), the scientific
    name and old synonyms, anywhere in the name; exact beats prefix beats substring, and the main
    name beats an alias, pinyin or a synonym. Raises InvalidInput for an unknown list code.
    """
    stmt = sa.select(Species).options(
        selectinload(Species.memberships).joinedload(ListMembership.species_list)
    )
    query = normalize_query(q or "")
    if query:
        compact = query.replace(" ", "")
        value = SpeciesName.value
        match_rank = sa.case(
            (value.in_([query, compact]), 0),
            (
                sa.or_(
                    value.like(_like_escape(query) + "%", escape="\\"),
                    value.like(_like_escape(compact) + "%", escape="\\"),
                ),
                10,
            ),
            else_=20,
        )
        hits = (
            sa.select(SpeciesName.species_id, sa.func.min(match_rank + SpeciesName.weight).label("rank"))
            .where(
                sa.or_(
                    value.like("%" + _like_escape(query) + "%", escape="\\"),
                    value.like("%" + _like_escape(compact) + "%", escape="\\"),
                )
            )
            .group_by(SpeciesName.species_id)
            .subquery()
        )
        stmt = stmt.join(hits, hits.c.species_id == Species.id).order_by(
            hits.c.rank, Species.pinyin, Species.id
        )
    else:
        stmt = stmt.order_by(Species.pinyin, Species.id)
    if list_code:
        species_list = find_list(list_code)
        if species_list is None:
            raise InvalidInput.field("list", _("No species list has the code %(code)s.", code=list_code))
        stmt = stmt.where(
            Species.id.in_(
                sa.select(ListMembership.species_id).where(
                    ListMembership.list_id == species_list.id, ListMembership.removed_on.is_(None)
                )
            )
        )
    if group:
        stmt = stmt.where(Species.group == group)
    if not include_retired:
        stmt = stmt.where(Species.retired_on.is_(None))
    return stmt


def get_species(species_id: int) -> Species:
    species = db.session.get(Species, species_id)
    if species is None:
        raise NotFound(_("No species with id %(id)s.", id=species_id))
    return species


def list_species_lists() -> list[tuple[SpeciesList, int]]:
    """Every list with its current member count (one query)."""
    count = (
        sa.select(sa.func.count(ListMembership.id))
        .where(ListMembership.list_id == SpeciesList.id, ListMembership.removed_on.is_(None))
        .correlate(SpeciesList)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(SpeciesList, count).order_by(SpeciesList.level, SpeciesList.published_on, SpeciesList.code)
    )
    return [(row[0], row[1]) for row in rows]


def members_on(species_list: SpeciesList, on: date | None) -> sa.Select[tuple[ListMembership]]:
    """The list's rows as they stood on `on` (today when None), in row order."""
    stmt = (
        sa.select(ListMembership)
        .where(ListMembership.list_id == species_list.id)
        .options(selectinload(ListMembership.species))
        .order_by(ListMembership.row)
    )
    if on is None:
        return stmt.where(ListMembership.removed_on.is_(None))
    if species_list.published_on and on < species_list.published_on:
        return stmt.where(sa.false())
    return stmt.where(
        sa.or_(ListMembership.added_on.is_(None), ListMembership.added_on <= on),
        sa.or_(ListMembership.removed_on.is_(None), ListMembership.removed_on > on),
    )


def list_habitats() -> list[Habitat]:
    return list(
        db.session.scalars(sa.select(Habitat).where(Habitat.retired.is_(False)).order_by(Habitat.position))
    )


def find_habitat(value: str) -> Habitat | None:
    """A habitat by code, or by its Chinese or English name (what a legacy workbook carries)."""
    text = value.strip()
    return db.session.scalar(
        sa.select(Habitat)
        .where(
            Habitat.retired.is_(False),
            sa.or_(
                Habitat.code == text.lower(),
                Habitat.name_zh == text,
                sa.func.lower(Habitat.name_en) == text.lower(),
            ),
        )
        .order_by(Habitat.level.desc())
        .limit(1)
    )


def list_control_methods() -> list[ControlMethod]:
    return list(
        db.session.scalars(
            sa.select(ControlMethod).where(ControlMethod.retired.is_(False)).order_by(ControlMethod.position)
        )
    )


def find_control_method(code: str) -> ControlMethod | None:
    return db.session.scalar(
        sa.select(ControlMethod).where(ControlMethod.code == code, ControlMethod.retired.is_(False))
    )
