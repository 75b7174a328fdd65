"""District lists (a bureau's 普查清单) kept in the app, and the membership periods of every list's rows.

Membership is kept as periods (added_on … removed_on), so a list as it stood on any day is a query. Who
may edit is app/species/editing.py's.
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
from app.species.editing import (
    bureau_codes,
    check_may_edit_list,
)
from app.species.models import (
    CensusCategory,
    ListLevel,
    ListMembership,
    Origin,
    Species,
    SpeciesList,
)
from app.species.registry import CODE_RE
from app.species.services import find_list


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
