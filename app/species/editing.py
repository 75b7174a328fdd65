"""The registry as the bureaus keep it in the app: district lists, membership periods, local names.

The files in species_lists/ are the shipped baseline (national and provincial lists); everything here is
a local edit kept in the database, audited (the models are `Audited`), and never overwritten by
`flask species sync`, which reports where the files and these edits differ.

Who may edit: an admin anything; a bureau admin what is their bureau's: a species whose bureaus include
theirs, a district list their bureau keeps, a row of a published list whose species is theirs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import policy
from app.accounts.models import Organization, OrganizationKind, User
from app.clock import local_today
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.species.models import (
    CensusCategory,
    ListLevel,
    ListMembership,
    NameKind,
    Origin,
    Species,
    SpeciesGroup,
    SpeciesList,
    SpeciesName,
)
from app.species.registry import CODE_RE, census_problem, pinyin_problem
from app.species.services import find_list, pinyin_full, write_search_names

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


# ---------------------------------------------------------------------------------------------
# District lists and membership periods


def create_district_list(actor: User, args: dict[str, Any]) -> SpeciesList:
    bureau = args.get("bureau") or actor.organization.code
    bureaus = bureau_codes()
    if bureau not in bureaus:
        raise InvalidInput.field("bureau", _("No bureau has the code %(code)s.", code=bureau))
    if not policy.may_edit_species_of(actor, [bureau]):
        raise PermissionDenied(_("A bureau admin may only create lists for their own bureau."))
    code = args["code"].strip().lower()
    if not CODE_RE.fullmatch(code.replace("-", "_")):
        raise InvalidInput.field("code", _("use lower-case letters, digits and hyphens, e.g. lp-agri-census"))
    if find_list(code) is not None:
        raise InvalidInput.field("code", _("A list with the code %(code)s exists.", code=code))
    species_list = SpeciesList(
        code=code,
        name=args["name"].strip(),
        short_name=(args.get("short_name") or "").strip() or None,
        level=ListLevel.DISTRICT,
        issuer=bureaus[bureau],
        announcement=None,
        published_on=args.get("published_on"),
        in_force_on=None,
        source=None,
        note=(args.get("note") or "").strip() or None,
        origin=Origin.LOCAL,
        bureau=bureau,
        census_categories=clean_list_categories(args.get("census_categories") or [], bureau),
    )
    db.session.add(species_list)
    db.session.flush()
    return species_list


# The census a bureau's list reports in, by the kind of the bureau keeping it.
_CENSUS_OF_KIND = {
    OrganizationKind.FORESTRY_BUREAU: "forestry",
    OrganizationKind.AGRICULTURE_COMMISSION: "agriculture",
}


def census_of_bureau(bureau: str | None) -> str | None:
    """The census ("agriculture" / "forestry", as CensusCategory.bureau) a bureau's list reports in."""
    if not bureau:
        return None
    kind = db.session.scalar(sa.select(Organization.kind).where(Organization.code == bureau))
    return _CENSUS_OF_KIND.get(kind) if kind is not None else None


def clean_list_categories(values: list[str], bureau: str | None) -> list[str]:
    """The census categories a list reports, checked: known codes, each once, and for a bureau's list
    only its own census's (a forestry list reports 林草 categories). InvalidInput names census_categories."""
    field = "census_categories"
    known = [c.value for c in CensusCategory]
    listed = ", ".join(known)
    cleaned: list[str] = []
    for value in values:
        code = value.strip()
        if code not in known:
            raise InvalidInput.field(
                field,
                _(
                    "Unknown census category %(value)s; known: %(known)s.",
                    value=value,
                    known=listed,
                ),
            )
        if code in cleaned:
            raise InvalidInput.field(field, _("The census category %(value)s is named twice.", value=code))
        cleaned.append(code)
    kind = (
        db.session.scalar(sa.select(Organization.kind).where(Organization.code == bureau)) if bureau else None
    )
    census = _CENSUS_OF_KIND.get(kind) if kind is not None else None
    other = [c for c in cleaned if census is not None and CensusCategory(c).bureau != census]
    if other:
        raise InvalidInput.field(
            field,
            _(
                "%(values)s belong to the other bureau's census; this bureau's list reports only its own.",
                values=", ".join(other),
            ),
        )
    return cleaned


def set_list_categories(actor: User, species_list: SpeciesList, values: list[str]) -> SpeciesList:
    """Set the census categories a district list reports (audited like every list edit)."""
    check_may_edit_list(actor, species_list)
    species_list.census_categories = clean_list_categories(values, species_list.bureau)
    db.session.flush()
    return species_list


def _periods(species_list: SpeciesList, species_id: int) -> list[ListMembership]:
    return list(
        db.session.scalars(
            sa.select(ListMembership).where(
                ListMembership.list_id == species_list.id, ListMembership.species_id == species_id
            )
        )
    )


def _overlap(a_start: date | None, a_end: date | None, b_start: date | None, b_end: date | None) -> bool:
    """Whether [a_start, a_end) and [b_start, b_end) share a day (None: open at that end)."""
    low = date.min
    high = date.max
    return (a_start or low) < (b_end or high) and (b_start or low) < (a_end or high)


def _check_period(
    species_list: SpeciesList,
    species_id: int,
    added_on: date | None,
    removed_on: date | None,
    skip: int | None,
) -> None:
    if added_on is not None and removed_on is not None and removed_on <= added_on:
        raise InvalidInput.field("removed_on", _("a period must end after it starts"))
    for other in _periods(species_list, species_id):
        if other.id != skip and _overlap(added_on, removed_on, other.added_on, other.removed_on):
            raise InvalidInput.field(
                "added_on",
                _(
                    "the species is already on this list from %(start)s to %(end)s",
                    start=other.added_on or "—",
                    end=other.removed_on or "—",
                ),
            )


def add_member(actor: User, species_list: SpeciesList, args: dict[str, Any]) -> ListMembership:
    check_may_edit_list(actor, species_list)
    species = db.session.get(Species, args["species_id"])
    if species is None or species.retired_on is not None:
        raise InvalidInput.field("species_id", _("No species with id %(id)s.", id=args["species_id"]))
    added_on = args.get("added_on") or local_today()
    removed_on = args.get("removed_on")
    _check_period(species_list, species.id, added_on, removed_on, None)
    row = args.get("row")
    if row is None:
        row = (
            db.session.scalar(
                sa.select(sa.func.max(ListMembership.row)).where(ListMembership.list_id == species_list.id)
            )
            or 0
        ) + 1
    # By ids, not relationships: a refused insert must leave no half-added row in a loaded collection.
    membership = ListMembership(
        list_id=species_list.id,
        species_id=species.id,
        row=row,
        name_as_listed=(args.get("name_as_listed") or species.name_zh).strip(),
        status="confirmed",
        verified=True,
        added_on=added_on,
        removed_on=removed_on,
    )
    try:
        with db.session.begin_nested():  # someone else opened the same period a moment ago
            db.session.add(membership)
    except IntegrityError:
        raise InvalidInput.field(
            "added_on", _("the species is already on this list from %(start)s to %(end)s", start="—", end="—")
        ) from None
    return membership


def get_membership(species_list: SpeciesList, membership_id: int) -> ListMembership:
    membership = db.session.get(ListMembership, membership_id)
    if membership is None or membership.list_id != species_list.id:
        raise NotFound(_("No such row on this list."))
    return membership


def update_period(actor: User, membership: ListMembership, args: dict[str, Any]) -> ListMembership:
    """Change a row's period (remove a species: set removed_on), or its row number or name."""
    check_may_edit_list(actor, membership.species_list)
    added_on = args.get("added_on", membership.added_on)
    removed_on = args.get("removed_on", membership.removed_on)
    _check_period(membership.species_list, membership.species_id, added_on, removed_on, membership.id)
    membership.added_on = added_on
    membership.removed_on = removed_on
    if "row" in args:
        membership.row = args["row"]
    if args.get("name_as_listed"):
        membership.name_as_listed = args["name_as_listed"].strip()
    db.session.flush()
    return membership


def confirm_row(actor: User, membership: ListMembership, note: str) -> ListMembership:
    """A bureau checked the row against the official text: kept in the app, reported by sync."""
    if not policy.may_edit_species_of(actor, membership.species.bureaus):
        raise PermissionDenied(_("Only an admin or a bureau admin of its bureau may confirm this row."))
    text = note.strip()
    if not text:
        raise InvalidInput.field("note", _("say what the row was checked against"))
    membership.confirmed_at = datetime.now(UTC)
    membership.confirmed_by_id = actor.id
    membership.confirmation_note = text
    db.session.flush()
    return membership


def list_changes(species_list: SpeciesList) -> list[dict[str, Any]]:
    """The list's changes by date, latest first: rows added after publication and rows removed."""
    rows = db.session.scalars(
        sa.select(ListMembership)
        .where(
            ListMembership.list_id == species_list.id,
            sa.or_(ListMembership.added_on.is_not(None), ListMembership.removed_on.is_not(None)),
        )
        .options(selectinload(ListMembership.species))
        .order_by(ListMembership.row)
    ).all()
    changes: list[dict[str, Any]] = []
    for m in rows:
        if m.added_on is not None:
            changes.append({"on": m.added_on, "change": "added", "membership": m})
        if m.removed_on is not None:
            changes.append({"on": m.removed_on, "change": "removed", "membership": m})
    changes.sort(key=lambda c: (c["on"], c["change"] == "added", -c["membership"].row), reverse=True)
    return changes


# ---------------------------------------------------------------------------------------------
# Importing a list from a spreadsheet of names

IMPORT_MAX_ROWS = 2000  # a county's 普查清单 has about a hundred names; far more is not a name list
NAME_HEADERS = {"名称", "中文名", "物种", "物种名称", "种名", "名录", "name", "species", "name_zh"}
MATCH_KINDS = (NameKind.NAME, NameKind.ALIAS, NameKind.SCIENTIFIC, NameKind.SYNONYM, NameKind.ENGLISH)


def _cell_text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def read_name_rows(data: bytes, filename: str) -> list[tuple[int, str]]:
    """(row number, name) of a spreadsheet's name column: .xlsx, or .csv in UTF-8 or GB18030.

    The name column is the one headed 名称/中文名/物种/name… in the first row, else the first column.
    Empty rows are skipped. Raises InvalidInput naming `file` for anything else.
    """
    rows: list[list[Any]]
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        from app.exports.name_sheet import SheetUnreadable, first_sheet_rows

        try:
            rows = first_sheet_rows(data, IMPORT_MAX_ROWS + 2)
        except SheetUnreadable:
            raise InvalidInput.field("file", _("The file is not a readable .xlsx workbook.")) from None
    elif lower.endswith(".csv"):
        import csv
        import io

        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InvalidInput.field("file", _("The CSV file is neither UTF-8 nor GB18030 text."))
        rows = [list(r) for r in csv.reader(io.StringIO(text))][: IMPORT_MAX_ROWS + 2]
    else:
        raise InvalidInput.field("file", _("Upload an .xlsx workbook or a .csv file of names."))
    if not rows:
        return []
    column, start = 0, 1
    header = [_cell_text(v).lower() for v in rows[0]]
    for i, text in enumerate(header):
        if text in NAME_HEADERS:
            column, start = i, 2
            break
    names = []
    for number, values in enumerate(rows[start - 1 :], start):
        name = _cell_text(values[column]) if column < len(values) else ""
        if name:
            names.append((number, name))
    if len(names) > IMPORT_MAX_ROWS:
        raise InvalidInput.field(
            "file", _("The file has more than %(n)s names; split it.", n=IMPORT_MAX_ROWS)
        )
    return names


def _match_index(names: list[str]) -> dict[str, set[int]]:
    """Each normalised name (and the binomial of a Latin name with an authority) → species ids."""
    wanted: set[str] = set()
    for name in names:
        wanted.add(name.lower())
        words = name.split()
        if len(words) > 2 and words[0][:1].isupper():
            wanted.add(" ".join(words[:2]).lower())  # "Pomacea canaliculata (Lamarck, 1819)"
    index: dict[str, set[int]] = {}
    if not wanted:
        return index
    rows = db.session.execute(
        sa.select(SpeciesName.value, SpeciesName.species_id)
        .join(Species, Species.id == SpeciesName.species_id)
        .where(
            SpeciesName.kind.in_(MATCH_KINDS),
            SpeciesName.value.in_(sorted(wanted)),
            Species.retired_on.is_(None),
        )
    )
    for value, sid in rows:
        index.setdefault(value, set()).add(sid)
    return index


def import_names(
    actor: User, species_list: SpeciesList, rows: list[tuple[int, str]], *, apply: bool, added_on: date | None
) -> dict[str, Any]:
    """Match each name by Chinese name, alias, Latin name, synonym or English name; report every row.

    Row statuses: `matched` (would be added, or `added` with apply), `on_list` (already there today),
    `duplicate` (the same species earlier in the file), `ambiguous` (several species have that name:
    candidates listed), `unknown` (no species: create it with POST /species, then import again).
    Nothing is added unless `apply` is set; then every matched row is added in one transaction.
    """
    check_may_edit_list(actor, species_list)
    day = added_on or local_today()
    index = _match_index([name for _row, name in rows])
    on_list = set(
        db.session.scalars(
            sa.select(ListMembership.species_id).where(
                ListMembership.list_id == species_list.id, ListMembership.removed_on.is_(None)
            )
        )
    )
    species_by_id: dict[int, Species] = {}
    ids = {sid for sids in index.values() for sid in sids}
    if ids:
        species_by_id = {s.id: s for s in db.session.scalars(sa.select(Species).where(Species.id.in_(ids)))}
    seen: set[int] = set()
    report: list[dict[str, Any]] = []
    counts = {"matched": 0, "added": 0, "on_list": 0, "duplicate": 0, "ambiguous": 0, "unknown": 0}
    for number, name in rows:
        key = name.lower()
        found = index.get(key)
        if not found and len(name.split()) > 2:
            found = index.get(" ".join(name.split()[:2]).lower())
        entry: dict[str, Any] = {"row": number, "name": name, "species": None, "candidates": []}
        if not found:
            entry["status"] = "unknown"
        elif len(found) > 1:
            entry["status"] = "ambiguous"
            entry["candidates"] = sorted((species_by_id[i] for i in found), key=lambda s: s.id)
        else:
            species = species_by_id[next(iter(found))]
            entry["species"] = species
            if species.id in on_list:
                entry["status"] = "on_list"
            elif species.id in seen:
                entry["status"] = "duplicate"
            else:
                entry["status"] = "matched"
                seen.add(species.id)
                if apply:
                    add_member(
                        actor,
                        species_list,
                        {"species_id": species.id, "name_as_listed": name[:100], "added_on": day},
                    )
                    entry["status"] = "added"
        counts[entry["status"]] += 1
        report.append(entry)
    return {"counts": counts, "rows": report, "applied": apply}


def resolve_name(name: str, field: str = "name") -> Species:
    """The one species a typed name (Chinese name, alias, Latin name, synonym, English) means."""
    text = " ".join(name.split())
    if not text:
        raise InvalidInput.field(field, _("type a Chinese name, alias or Latin name"))
    index = _match_index([text])
    found = index.get(text.lower()) or index.get(" ".join(text.split()[:2]).lower()) or set()
    if not found:
        raise InvalidInput.field(field, _("No species is called %(name)s.", name=text))
    if len(found) > 1:
        names = "、".join(
            db.session.scalars(sa.select(Species.name_zh).where(Species.id.in_(found)).order_by(Species.id))
        )
        raise InvalidInput.field(
            field, _("%(name)s could mean %(names)s: type the Latin name.", name=text, names=names)
        )
    return db.session.get_one(Species, next(iter(found)))
