"""The species registry as the other domains and the pages ask it: search, lists, habitats, methods.

Searching matches the names stored by app/species/names.py; syncing from the files is app/species/sync.py.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app import refdata
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.species.models import (
    CensusCategory,
    ControlMethod,
    Habitat,
    ListMembership,
    Origin,
    Species,
    SpeciesGroup,
    SpeciesList,
    SpeciesName,
)
from app.species.names import normalize_query


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


def census_category_labels() -> dict[str, str]:
    """The census categories in the reader's language (the agriculture census's three are published)."""
    return {
        CensusCategory.AG_PLANT: _("Invasive plants of agriculture"),
        CensusCategory.AG_PEST: _("Invasive crop pests and diseases"),
        CensusCategory.AG_AQUATIC: _("Invasive aquatic animals"),
        CensusCategory.FG_PLANT: _("Invasive plants of forests and grasslands"),
        CensusCategory.FG_PEST: _("Invasive forest pests and diseases"),
        CensusCategory.FG_ANIMAL: _("Invasive animals of forests and wetlands"),
    }


def district_species_ids(*bureaus: str) -> set[int]:
    """Species on these bureaus' own district lists today: the picker offers them first (a unit's
    staff name their unit and its bureau, app.accounts.organizations.list_owners)."""
    return set(
        db.session.scalars(
            sa.select(ListMembership.species_id)
            .join(SpeciesList)
            .where(
                SpeciesList.origin == Origin.LOCAL,
                SpeciesList.bureau.in_(bureaus),
                ListMembership.removed_on.is_(None),
            )
        )
    )


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


def current_count(species_list: SpeciesList) -> int:
    """How many species the list holds today (memberships not removed)."""
    count = db.session.scalar(
        sa.select(sa.func.count(ListMembership.id)).where(
            ListMembership.list_id == species_list.id, ListMembership.removed_on.is_(None)
        )
    )
    return int(count or 0)


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
    """A habitat by code, or by its Chinese or English name (what a legacy workbook carries); the most
    specific (level 2 before its class). Kept per process (app/refdata.py)."""
    text = value.strip()
    found = [
        h
        for h in refdata.cached("habitats", _read_habitats)
        if h.code == text.lower() or h.name_zh == text or h.name_en.lower() == text.lower()
    ]
    return refdata.attach(max(found, key=lambda h: h.level)) if found else None


def _read_habitats() -> list[Habitat]:
    return refdata.detached(sa.select(Habitat).where(Habitat.retired.is_(False)).order_by(Habitat.id))


def record_species(species_id: int) -> Species | None:
    """A species by id as a record needs it (current or retired); kept per process (app/refdata.py)."""
    kept: dict[int, Species] = refdata.cached("species", dict)
    species = kept.get(species_id)
    if species is None:
        found = refdata.detached(sa.select(Species).where(Species.id == species_id))
        if not found:
            return None  # not kept: ids nobody has are not worth remembering
        species = kept.setdefault(species_id, found[0])
    return refdata.attach(species)


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
