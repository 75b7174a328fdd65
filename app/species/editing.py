"""The registry as the bureaus keep it in the app: who may edit, local names, species added locally.

District lists and membership periods are app/species/district_lists.py; a list imported from a spreadsheet of
names is app/species/name_import.py. Both ask this module who may edit.

The files in species_lists/ are the shipped baseline (national and provincial lists); everything here is
a local edit kept in the database, audited (the models are `Audited`), and never overwritten by
`flask species sync`, which reports where the files and these edits differ.

Who may edit: an admin anything; a bureau admin what is their bureau's: a species whose bureaus include
theirs, a district list their bureau keeps, a row of a published list whose species is theirs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import Organization, OrganizationKind, User
from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.species.models import (
    NameKind,
    Origin,
    Species,
    SpeciesGroup,
    SpeciesList,
    SpeciesName,
)
from app.species.names import pinyin_full, write_search_names
from app.species.registry import CODE_RE, census_problem, pinyin_problem

BUREAU_KINDS = (OrganizationKind.FORESTRY_BUREAU, OrganizationKind.AGRICULTURE_COMMISSION)
LIST_CODE_RE = CODE_RE  # lower-case ascii, digits and underscores; hyphens allowed below
NAME_LIMIT = 100


# ---------------------------------------------------------------------------------------------
# Who may edit


def bureau_codes() -> dict[str, str]:
    """The bureaus (code → name) that can be responsible for species and keep district lists."""
    rows = db.session.execute(
        sa.select(Organization.code, Organization.name)
        .where(Organization.kind.in_(BUREAU_KINDS))
        .order_by(Organization.code)
    )
    return {code: name for code, name in rows}


def check_may_edit_species(actor: User, species: Species) -> None:
    if not policy.may_edit_species_of(actor, species.bureaus):
        raise PermissionDenied(_("Only an admin or a bureau admin of its bureau may edit this species."))


def check_may_edit_list(actor: User, species_list: SpeciesList) -> None:
    if species_list.origin != Origin.LOCAL:
        raise InvalidInput.field(
            "code", _("A published list changes only through its files (species_lists/).")
        )
    if not policy.may_edit_species_of(actor, [species_list.bureau or ""]):
        raise PermissionDenied(_("Only an admin or a bureau admin of its bureau may edit this list."))


# ---------------------------------------------------------------------------------------------
# Names


def _clean_names(field: str, values: list[str], limit: int = NAME_LIMIT) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        text = " ".join(str(value).split())
        if not text:
            raise InvalidInput.field(field, _("a name cannot be empty"))
        if len(text) > limit:
            raise InvalidInput.field(field, _("a name has at most %(n)s characters", n=limit))
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


def _chinese_owner(name: str, exclude_id: int | None) -> Species | None:
    """The species (other than `exclude_id`) whose Chinese name or alias `name` already is."""
    stmt = (
        sa.select(Species)
        .join(SpeciesName, SpeciesName.species_id == Species.id)
        .where(SpeciesName.kind.in_([NameKind.NAME, NameKind.ALIAS]), SpeciesName.value == name)
    )
    if exclude_id is not None:
        stmt = stmt.where(Species.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


def _check_aliases_free(aliases: list[str], exclude_id: int | None, field: str = "aliases") -> None:
    for alias in aliases:
        owner = _chinese_owner(alias, exclude_id)
        if owner is not None:
            raise InvalidInput.field(
                field,
                _("%(name)s is already a name of %(species)s.", name=alias, species=owner.name_zh),
            )


def _check_sci_free(name_sci: str, exclude_id: int | None, field: str = "name_sci") -> None:
    stmt = sa.select(Species).where(sa.func.lower(Species.name_sci) == name_sci.lower())
    if exclude_id is not None:
        stmt = stmt.where(Species.id != exclude_id)
    owner = db.session.scalars(stmt.limit(1)).first()
    if owner is not None:
        raise InvalidInput.field(
            field,
            _(
                "%(name)s is already the scientific name of %(species)s.",
                name=name_sci,
                species=owner.name_zh,
            ),
        )


def _clean_pinyin(values: dict[str, str], chinese_names: list[str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for name, reading in values.items():
        if name not in chinese_names:
            raise InvalidInput.field(
                "pinyin", _("%(name)s is not a Chinese name or alias of this species.", name=name)
            )
        text = " ".join(str(reading).lower().split())
        if pinyin_problem(name, text):
            raise InvalidInput.field(
                "pinyin",
                _(
                    "the reading of %(name)s must be letters only, one syllable per character, "
                    "separated by spaces (e.g. chang mang xian)",
                    name=name,
                ),
            )
        cleaned[name] = text
    return cleaned


def _clean_bureaus(values: list[str]) -> list[str]:
    known = bureau_codes()
    cleaned = list(dict.fromkeys(values))
    for code in cleaned:
        if code not in known:
            raise InvalidInput.field("bureaus", _("No bureau has the code %(code)s.", code=code))
    return cleaned


def _refresh_names(species: Species) -> None:
    current = {
        (name.kind, name.value): name
        for name in db.session.scalars(sa.select(SpeciesName).where(SpeciesName.species_id == species.id))
    }
    write_search_names(species, current)
    species.pinyin = pinyin_full(species.name_zh, species.all_pinyin.get(species.name_zh))


def update_local(actor: User, species: Species, changes: dict[str, Any]) -> Species:
    """Set a species' local aliases, synonyms, English names, pinyin readings or bureaus.

    Each given field replaces the local edits of that kind (the files' values stay beside them). A bureau
    admin may only add or take away their own bureau; `bureaus: null` returns to the files' bureaus.
    """
    check_may_edit_species(actor, species)
    if "aliases" in changes:
        aliases = _clean_names("aliases", changes["aliases"])
        _check_aliases_free([a for a in aliases if a not in species.aliases], species.id)
        if species.name_zh in aliases:
            raise InvalidInput.field("aliases", _("%(name)s is its own name.", name=species.name_zh))
        species.local_aliases = [a for a in aliases if a not in species.aliases]
    if "synonyms" in changes:
        synonyms = _clean_names("synonyms", changes["synonyms"], 200)
        for synonym in synonyms:
            _check_sci_free(synonym, species.id, "synonyms")
        species.local_synonyms = [s for s in synonyms if s not in species.synonyms]
    if "names_en" in changes:
        names_en = _clean_names("names_en", changes["names_en"])
        species.local_names_en = [n for n in names_en if n not in species.names_en]
    if "pinyin" in changes:
        species.local_pinyin = _clean_pinyin(changes["pinyin"], [species.name_zh, *species.all_aliases])
    if "bureaus" in changes:
        _set_bureaus(actor, species, changes["bureaus"])
    _refresh_names(species)
    db.session.flush()
    return species


def _set_bureaus(actor: User, species: Species, value: list[str] | None) -> None:
    if value is None:
        # Back to the files' bureaus: the next sync writes them; until then the bureaus stay as they are.
        if species.local_bureaus is not None and not policy.edits_every_bureau(actor):
            raise PermissionDenied(_("Only an admin may return a species to the files' bureaus."))
        species.local_bureaus = None
        return
    bureaus = _clean_bureaus(value)
    others_changed = (set(bureaus) ^ set(species.bureaus)) - {actor.organization.code}
    if others_changed and not policy.edits_every_bureau(actor):
        raise PermissionDenied(_("A bureau admin may only add or take away their own bureau."))
    if census_problem(species.census_categories, bureaus):
        # Keep the categories in step: drop a removed bureau's, add the group's for an added one.
        species.census_categories = default_categories(species.group, bureaus, species.census_categories)
    species.local_bureaus = bureaus
    species.bureaus = bureaus


AQUATIC = {SpeciesGroup.FISH, SpeciesGroup.AMPHIBIAN, SpeciesGroup.REPTILE, SpeciesGroup.CRUSTACEAN}


def default_categories(group: SpeciesGroup, bureaus: list[str], keep: list[str] | None = None) -> list[str]:
    """Census categories for these bureaus: those in `keep` that still apply, else the group's."""
    kept = [c for c in (keep or []) if ("agriculture" if c.startswith("ag_") else "forestry") in bureaus]
    result = list(kept)
    if "agriculture" in bureaus and not any(c.startswith("ag_") for c in kept):
        if group == SpeciesGroup.PLANT:
            result.append("ag_plant")
        elif group in AQUATIC:
            result.append("ag_aquatic")
        else:
            result.append("ag_pest")
    if "forestry" in bureaus and not any(c.startswith("fg_") for c in kept):
        if group == SpeciesGroup.PLANT:
            result.append("fg_plant")
        elif group in (SpeciesGroup.INSECT, SpeciesGroup.PATHOGEN, SpeciesGroup.NEMATODE):
            result.append("fg_pest")
        else:
            result.append("fg_animal")
    return result


# ---------------------------------------------------------------------------------------------
# New species


def _local_key(name_sci: str) -> str:
    base = "-".join(name_sci.lower().split())
    base = "".join(ch for ch in base if ch.isascii() and (ch.isalnum() or ch == "-")) or "species"
    key, n = base, 1
    while db.session.scalar(sa.select(Species.id).where(Species.key == key)) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


def create_species(actor: User, args: dict[str, Any]) -> Species:
    """A species found locally, its survey defaults copied from a similar species (`like`)."""
    like = db.session.get(Species, args["like"])
    if like is None:
        raise InvalidInput.field("like", _("No species with id %(id)s.", id=args["like"]))
    bureaus = _clean_bureaus(args.get("bureaus") or [actor.organization.code])
    if not policy.may_edit_species_of(actor, bureaus) or (
        not policy.edits_every_bureau(actor) and set(bureaus) - {actor.organization.code}
    ):
        raise PermissionDenied(_("A bureau admin may only add species for their own bureau."))
    name_zh = _clean_names("name_zh", [args["name_zh"]])[0]
    name_sci = _clean_names("name_sci", [args["name_sci"]], 200)[0]
    _check_aliases_free([name_zh], None, "name_zh")
    _check_sci_free(name_sci, None)
    aliases = _clean_names("aliases", args.get("aliases", []))
    _check_aliases_free(aliases, None)
    group = args.get("group") or like.group
    categories = args.get("census_categories")
    if categories is None:
        categories = default_categories(group, bureaus)
    problem = census_problem(list(categories), bureaus)
    if problem:
        raise InvalidInput.field("census_categories", _("give one category for each bureau, and only theirs"))
    species = Species(
        key=_local_key(name_sci),
        origin=Origin.LOCAL,
        name_zh=name_zh,
        name_sci=name_sci,
        authority=None,
        pinyin="",
        group=group,
        aliases=[],
        synonyms=[],
        names_en=[],
        pinyin_overrides={},
        census_categories=list(categories),
        bureaus=bureaus,
        local_aliases=aliases,
        local_synonyms=_clean_names("synonyms", args.get("synonyms", []), 200),
        local_names_en=_clean_names("names_en", args.get("names_en", [])),
        local_pinyin={},
        local_bureaus=bureaus,
        metrics=list(like.metrics),
        severity=dict(like.severity),
        follow_up_days={k: list(v) for k, v in like.follow_up_days.items()},
        next_spring_check=like.next_spring_check,
        spring_check_md=like.spring_check_md,
        flag=None,
    )
    db.session.add(species)
    db.session.flush()
    species.local_pinyin = _clean_pinyin(args.get("pinyin", {}), [name_zh, *aliases])
    _refresh_names(species)
    db.session.flush()
    return species
