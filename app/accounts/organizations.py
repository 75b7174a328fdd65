"""Organizations and the bureau each unit reports to (`parent`), set by an admin.

A township station, forest farm or wetland park's management names its bureau as `parent`; the
bureau's census then covers it (app/census/scope.py). An organization is a bureau (a forestry bureau or
agriculture commission, reporting to no other) or a unit that reports to one: so the parent must be a bureau
with no parent of its own, a bureau and an organization with units under it get none, and none is its own
parent (which leaves no cycle). A unit that holds records keeps its bureau: moving it would change the
census figures both bureaus have signed (docs/census.md, "Moving a unit").
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import events
from app.accounts.events import UnitMoving
from app.accounts.models import BUREAU_KINDS, Organization, OrganizationKind, Role, User
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.extensions import db


def unit_ids(organization_id: int) -> frozenset[int]:
    """The organization and every unit under it, however deep (organizations are few: one query)."""
    children: dict[int | None, list[int]] = {}
    for org_id, parent_id in db.session.execute(sa.select(Organization.id, Organization.parent_id)):
        children.setdefault(parent_id, []).append(org_id)
    found = {organization_id}
    stack = [organization_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def lineage(code: str) -> list[str]:
    """The organization `code` and those above it, nearest first: a unit's code, then its bureau's. An
    unknown code is its own lineage (a census of the district names no organization). One query;
    cycle-safe for rows an earlier version allowed (`problems`)."""
    rows = db.session.execute(sa.select(Organization.id, Organization.code, Organization.parent_id)).all()
    parents = {org_code: parent_id for _id, org_code, parent_id in rows}
    codes = {org_id: org_code for org_id, org_code, _parent in rows}
    found: list[str] = []
    current: str | None = code
    while current is not None and current not in found:
        found.append(current)
        parent = parents.get(current)
        current = codes.get(parent) if parent is not None else None
    return found


def acting_ids(user: User) -> frozenset[int] | None:
    """The organizations `user` acts for (docs/contract.md §1): their own and, when it is a bureau,
    the units under it; a unit's staff act for their unit only. None for an admin: every one."""
    if user.role == Role.ADMIN:
        return None
    if not user.organization.is_bureau:
        return frozenset({user.organization_id})
    return unit_ids(user.organization_id)


def acts_for(user: User, organization_id: int) -> bool:
    """Whether `user` acts for the organization `organization_id` (an admin acts for every one)."""
    ids = acting_ids(user)
    return ids is None or organization_id in ids


def list_owners(organization: Organization) -> tuple[str, ...]:
    """The codes whose district species lists an organization's staff use: its own and, for a unit,
    its bureau's (a township station has no lists of its own; it works from its bureau's)."""
    if organization.parent is None or organization.is_bureau:
        return (organization.code,)
    return (organization.code, organization.parent.code)


def _check_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise PermissionDenied(_("Organizations are managed by administrators."))


def get_by_code(code: str) -> Organization:
    """The organization with this code; NotFound (404) when none has it."""
    organization = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if organization is None:
        raise NotFound(_("No organization has the code %(code)s.", code=code))
    return organization


def _units_under(organization: Organization) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Organization)
            .where(Organization.parent_id == organization.id)
        )
        or 0
    )


def _lock(*organizations: Organization | None) -> None:
    """Lock these organizations' rows (in id order, so two admins never wait on each other) and read them
    again: what is checked about them (whether the parent is a bureau reporting to none, whether units
    report to the organization) then holds until the change is committed. Without it, one admin making a
    bureau a unit of the other while another adds a unit under it, both checked before either committed,
    would leave a unit two levels down (PostgreSQL; SQLite's writers are one at a time already)."""
    ids = sorted({o.id for o in organizations if o is not None and o.id is not None})
    if ids:
        db.session.scalars(
            sa.select(Organization)
            .where(Organization.id.in_(ids))
            .order_by(Organization.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()


def _parent(
    organization: Organization | None, code: str | None, kind: OrganizationKind
) -> Organization | None:
    """The organization `code` names, checked as the parent of `organization` (None: a new one) of
    `kind` (docs/contract.md §2): a unit reports to a bureau, and a bureau to nobody. So the parent must
    be a bureau (a forestry bureau or agriculture commission that reports to no other), a bureau
    (`kind`) and an organization with units under it get no parent, and no organization is its own
    parent. Together these leave no cycle and no bureau inside another's census."""
    if code is None:
        return None
    parent = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if parent is None:
        raise InvalidInput.field("parent", _("No organization has the code %(code)s.", code=code))
    _lock(parent, organization)
    if organization is not None and parent.id == organization.id:
        raise InvalidInput.field("parent", _("An organization cannot report to itself."))
    if kind in BUREAU_KINDS:
        raise InvalidInput.field(
            "parent",
            _(
                "A bureau reports to no other bureau: giving it one would give that bureau's admins "
                "this bureau's users, records and census."
            ),
        )
    if not parent.is_bureau or parent.parent_id is not None:
        raise InvalidInput.field(
            "parent", _("%(name)s is not a bureau; a unit reports to a bureau.", name=parent.name)
        )
    if organization is not None:
        units = _units_under(organization)
        if units:
            raise InvalidInput.field(
                "parent",
                ngettext(
                    "%(num)d unit reports to this organization: it is a bureau and reports to no other.",
                    "%(num)d units report to this organization: it is a bureau and reports to no other.",
                    units,
                ),
            )
    return parent


def _check_move(organization: Organization, parent: Organization | None) -> None:
    """A unit that holds records keeps the bureau it reports to (docs/census.md, "Moving a unit"): the
    records it holds are in that bureau's census, counted and signed, and a move would take them out of
    it (and into the other's) for every past period at once. A bureau that reports to another (which
    earlier versions allowed) may always be detached: it should never have been inside that census."""
    if parent is None and organization.is_bureau:
        return
    held = sum(
        n for n in events.publish(UnitMoving(tuple(sorted(unit_ids(organization.id))))) if isinstance(n, int)
    )
    if held:
        raise InvalidInput.field(
            "parent",
            ngettext(
                "%(name)s holds %(num)d record (observations, control operations, re-inspections, "
                "sites, survey campaigns, routes and plots), counted in its bureau's census: the bureau it "
                "reports to cannot change. Create a new unit under the other bureau for its future work "
                "instead.",
                "%(name)s holds %(num)d records (observations, control operations, re-inspections, "
                "sites, survey campaigns, routes and plots), counted in its bureau's census: the bureau it "
                "reports to cannot change. Create a new unit under the other bureau for its future work "
                "instead.",
                held,
                name=organization.name,
            ),
        )


def check_kind(organization: Organization, kind: OrganizationKind) -> None:
    """Whether `organization` may become of `kind`: a bureau with units under it stays a bureau, and a
    unit that reports to a bureau does not become one (a bureau reports to no other). InvalidInput
    names `kind`."""
    if kind == organization.kind:
        return
    if kind not in BUREAU_KINDS and organization.is_bureau and _units_under(organization):
        raise InvalidInput.field("kind", _("Units report to this bureau; it stays a bureau."))
    if kind in BUREAU_KINDS and organization.parent is not None:
        raise InvalidInput.field(
            "kind",
            _("This unit reports to a bureau; a bureau reports to no other. Detach it (parent null) first."),
        )


def problems() -> list[str]:
    """What is wrong with the organizations as stored (`flask organizations check`): a bureau
    that reports to another, a unit whose parent is not a bureau. Earlier versions allowed the first;
    they are reported, never rewritten, because detaching one changes the census an admin has signed."""
    found: list[str] = []
    organizations = {o.id: o for o in db.session.scalars(sa.select(Organization).order_by(Organization.code))}
    for org in organizations.values():
        parent = organizations.get(org.parent_id) if org.parent_id is not None else None
        if parent is None:
            continue
        if org.is_bureau:
            found.append(f"{org.code}: a bureau that reports to {parent.code}")
        elif parent.id == org.id or not parent.is_bureau or parent.parent_id is not None:
            found.append(f"{org.code}: reports to {parent.code}, which is not a bureau that reports to none")
    return found


def create_organization(
    *, actor: User | None, code: str, name: str, kind: OrganizationKind, parent: str | None = None
) -> Organization:
    """A new organization (admins; `actor` None is the command line). Raises PermissionDenied,
    Conflict (the code is taken), InvalidInput naming `parent`."""
    _check_admin(actor)
    if db.session.scalar(sa.select(Organization.id).where(Organization.code == code)) is not None:
        raise Conflict(
            _("An organization with the code %(code)s exists already.", code=code), {"code": [code]}
        )
    organization = Organization(code=code, name=name, kind=kind, parent=_parent(None, parent, kind))
    db.session.add(organization)
    db.session.flush()
    return organization


def update_organization(
    *, actor: User | None, organization: Organization, changes: dict[str, Any]
) -> Organization:
    """Change an organization's name, kind or parent (`parent` None: reports to no bureau). Raises
    PermissionDenied, InvalidInput naming `parent` or `kind` (a bureau with units under it stays one)."""
    _check_admin(actor)
    if "parent" in changes or "kind" in changes:
        _lock(organization)
    kind = changes.get("kind", organization.kind)
    if "parent" in changes:
        parent = _parent(organization, changes["parent"], kind)
        if (parent.id if parent is not None else None) != organization.parent_id:
            _check_move(organization, parent)
            organization.parent = parent
    if kind != organization.kind:
        check_kind(organization, kind)
        organization.kind = kind
    if "name" in changes:
        organization.name = changes["name"]
    db.session.flush()
    return organization
