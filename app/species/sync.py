"""`flask species sync`: the registry files (species_lists/) upserted into the database, with a report.

Local edits kept in the app (app/species/editing.py, app/species/district_lists.py) are never overwritten: the
report says where the files and they differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.refdata import Tally, apply_values
from app.species.models import (
    ControlMethod,
    Habitat,
    ListMembership,
    NameKind,
    Origin,
    Species,
    SpeciesList,
    SpeciesName,
)
from app.species.names import (
    pinyin_full,
    write_search_names,
)
from app.species.registry import ListSpec, Registry, SpeciesSpec, read_registry


@dataclass
class SyncReport:
    lists: Tally = field(default_factory=Tally)
    species: Tally = field(default_factory=Tally)
    memberships: Tally = field(default_factory=Tally)
    habitats: Tally = field(default_factory=Tally)
    methods: Tally = field(default_factory=Tally)
    flagged: list[str] = field(default_factory=list)
    # Where the files and the local edits kept in the app differ (the local edits stand).
    differences: list[str] = field(default_factory=list)

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
        "census_categories": list(spec.census_categories),
    }


def _species_values(spec: SpeciesSpec) -> dict[str, Any]:
    return {
        "name_zh": spec.name_zh,
        "name_sci": spec.name_sci,
        "authority": spec.authority,
        "pinyin": pinyin_full(spec.name_zh, spec.pinyin.get(spec.name_zh)),
        "group": spec.group,
        "aliases": list(spec.aliases),
        "synonyms": list(spec.synonyms),
        "bureaus": list(spec.bureaus),
        "names_en": list(spec.names_en),
        "pinyin_overrides": dict(spec.pinyin),
        "census_categories": list(spec.census_categories),
        "metrics": list(spec.metrics),
        "severity": spec.severity,
        "follow_up_days": spec.follow_up_days,
        "next_spring_check": spec.next_spring_check,
        "spring_check_md": spec.spring_check_md,
        "flag": spec.flag,
        "retired_on": None,
    }


def _sync_names(species_by_key: dict[str, Species]) -> None:
    """Make every species' search names match its names and local edits (one read for all species)."""
    existing: dict[int, dict[tuple[NameKind, str], SpeciesName]] = {}
    for name in db.session.scalars(sa.select(SpeciesName)):
        existing.setdefault(name.species_id, {})[(name.kind, name.value)] = name
    for species in species_by_key.values():
        write_search_names(species, existing.get(species.id, {}))


def _sync_memberships(
    spec: ListSpec,
    species_list: SpeciesList,
    species_by_key: dict[str, Species],
    new_list: bool,
    today: date,
    report: SyncReport,
) -> None:
    """Bring a published list's periods in line with its members file.

    A species new in the file opens a period today (or from publication, when the list itself is new);
    one gone from the file has its open period closed today; earlier periods are history and stay.
    Confirmations made in the app are never touched.
    """
    periods: dict[int, list[ListMembership]] = {}
    for membership in species_list.memberships:
        periods.setdefault(membership.species_id, []).append(membership)
    wanted_ids = set()
    for member in spec.members:
        species = species_by_key[member.species_key]
        wanted_ids.add(species.id)
        values = {
            "row": member.row,
            "name_as_listed": member.name_as_listed,
            "status": member.status,
            "verified": member.verified,
        }
        rows = periods.get(species.id, [])
        current = next((m for m in rows if m.removed_on is None), None)
        # Removed and put back on the same day: that period simply goes on.
        current = current or next((m for m in rows if m.removed_on == today), None)
        if current is None:
            # Rows present when a list is first loaded date from its publication; later ones from today.
            db.session.add(
                ListMembership(
                    species_list=species_list,
                    species=species,
                    added_on=None if new_list else today,
                    removed_on=None,
                    **values,
                )
            )
            report.memberships.count("added")
        else:
            report.memberships.count(apply_values(current, {**values, "removed_on": None}))
    for species_id, rows in periods.items():
        for current in rows:
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
        if species is not None and species.origin == Origin.LOCAL:
            report.differences.append(
                f"{species.name_zh} ({key}): created in the app and now also in the files; the app's "
                "entry is kept, edit or remove the file entry"
            )
            continue
        values = _species_values(spec)
        if species is None:
            species = Species(key=key, **values)
            db.session.add(species)
            species_by_key[key] = species
            report.species.count("added")
        else:
            if species.local_bureaus is not None:
                values["bureaus"] = list(species.local_bureaus)
            report.species.count(apply_values(species, values))
        _local_differences(species, spec, report)
    for key, species in species_by_key.items():
        retire = species.origin == Origin.FILES and key not in registry.species
        if retire and species.retired_on is None:
            species.retired_on = today
            report.species.count("retired")
    db.session.flush()
    _sync_names(species_by_key)
    db.session.flush()
    _shared_names(report)
    _sync_habitats(registry, report)
    _sync_methods(registry, report)

    lists_by_code = {
        sl.code: sl
        for sl in db.session.scalars(sa.select(SpeciesList).options(selectinload(SpeciesList.memberships)))
    }
    confirmed: dict[tuple[str, str], ListMembership] = {}
    for code, list_spec in registry.lists.items():
        species_list = lists_by_code.get(code)
        if species_list is not None and species_list.origin == Origin.LOCAL:
            report.differences.append(
                f"list {code}: kept in the app and also in the files; the app's list is kept, rename the "
                "file's code"
            )
            continue
        new_list = species_list is None
        if species_list is None:
            species_list = SpeciesList(code=code, **_list_values(list_spec))
            db.session.add(species_list)
            report.lists.count("added")
        else:
            report.lists.count(apply_values(species_list, _list_values(list_spec)))
            for membership in species_list.memberships:
                if membership.confirmed_at is not None and membership.removed_on is None:
                    confirmed[(code, membership.species.key)] = membership
        _sync_memberships(list_spec, species_list, species_by_key, new_list, today, report)
    db.session.flush()

    for code, list_spec in registry.lists.items():
        unverified = [
            m for m in list_spec.members if not m.verified and (code, m.species_key) not in confirmed
        ]
        if unverified:
            rows = ", ".join(f"{m.row} {m.name_as_listed} ({m.status})" for m in unverified)
            report.flagged.append(f"{code}: {len(unverified)} unverified rows: {rows}")
        for m in list_spec.members:
            confirmation = confirmed.get((code, m.species_key))
            if confirmation is not None and not m.verified:
                report.differences.append(
                    f"{code} row {m.row} {m.name_as_listed}: unverified in the files, confirmed in the app "
                    f"({confirmation.confirmation_note}); set it verified in members/{code}.csv"
                )
    for species_spec in registry.species.values():
        if species_spec.flag:
            report.flagged.append(f"{species_spec.name_zh} ({species_spec.key}): {species_spec.flag}")
    for key, species in species_by_key.items():
        if species.retired_on is not None:
            report.flagged.append(
                f"{species.name_zh} ({key}): no longer in the files, retired {species.retired_on}"
            )
    return report


def _shared_names(report: SyncReport) -> None:
    """A Chinese name or alias that two current species now answer to (a local alias the files gave
    another). A retired species keeps its names (its records name it) but no longer shares them: after a
    merge the kept species answers to the old name, as species_lists/README.md says to do."""
    named = sa.and_(SpeciesName.kind.in_([NameKind.NAME, NameKind.ALIAS]), Species.retired_on.is_(None))
    shared = (
        sa.select(SpeciesName.value)
        .join(Species, Species.id == SpeciesName.species_id)
        .where(named)
        .group_by(SpeciesName.value)
        .having(sa.func.count(sa.distinct(SpeciesName.species_id)) > 1)
    )
    rows = db.session.execute(
        sa.select(SpeciesName.value, Species.name_zh)
        .join(Species, Species.id == SpeciesName.species_id)
        .where(named, SpeciesName.value.in_(shared))
        .order_by(SpeciesName.value, Species.id)
    )
    owners: dict[str, list[str]] = {}
    for value, name_zh in rows:
        owners.setdefault(value, []).append(name_zh)
    for value, names in owners.items():
        report.differences.append(
            f"{value} is a name of {', '.join(names)}: a local alias and the files disagree; remove one"
        )


def _local_differences(species: Species, spec: SpeciesSpec, report: SyncReport) -> None:
    """Where a species' local edits and its files disagree (the local edits stand)."""
    where = f"{spec.name_zh} ({spec.key})"
    if species.local_bureaus is not None and sorted(species.local_bureaus) != sorted(spec.bureaus):
        report.differences.append(
            f"{where}: bureaus are {', '.join(species.local_bureaus) or '(none)'} in the app, "
            f"{', '.join(spec.bureaus) or '(none)'} in the files"
        )
    for label, local, files in (
        ("alias", species.local_aliases, spec.aliases),
        ("synonym", species.local_synonyms, spec.synonyms),
        ("English name", species.local_names_en, spec.names_en),
    ):
        for name in local or []:
            if name in files:
                report.differences.append(f"{where}: local {label} {name!r} is now in the files too")
    for name, reading in (species.local_pinyin or {}).items():
        if name in spec.pinyin and spec.pinyin[name] != reading:
            report.differences.append(
                f"{where}: pinyin of {name} is {reading!r} in the app, {spec.pinyin[name]!r} in the files"
            )
