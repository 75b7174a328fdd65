"""Organizations and the bureau each unit reports to (`parent`), set by an admin.

A township station, forest farm or wetland park's management names its bureau as `parent`; the
bureau's census then covers it (app/census/scope.py). The parent must be a bureau (a forestry bureau or
agriculture commission) and may not make a cycle (a unit above itself).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import Organization, OrganizationKind, Role, User
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.extensions import db


def _check_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise PermissionDenied(_("Organizations are managed by administrators."))


def get_by_code(code: str) -> Organization:
    """The organization with this code; NotFound (404) when none has it."""
    organization = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if organization is None:
        raise NotFound(_("No organization has the code %(code)s.", code=code))
    return organization


def _parent(organization: Organization | None, code: str | None) -> Organization | None:
    """The organization `code` names, checked as a parent for `organization` (None: a new one)."""
    if code is None:
        return None
    parent = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if parent is None:
        raise InvalidInput.field("parent", _("No organization has the code %(code)s.", code=code))
    if not parent.is_bureau:
        raise InvalidInput.field(
            "parent", _("%(name)s is not a bureau; a unit reports to a bureau.", name=parent.name)
        )
    seen: set[int] = set()
    above: Organization | None = parent
    while above is not None and above.id not in seen:
        if organization is not None and above.id == organization.id:
            raise InvalidInput.field(
                "parent",
                _("%(name)s is under this organization already: that would be a cycle.", name=parent.name),
            )
        seen.add(above.id)
        above = above.parent
    return parent


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
    organization = Organization(code=code, name=name, kind=kind, parent=_parent(None, parent))
    db.session.add(organization)
    db.session.flush()
    return organization


def update_organization(
    *, actor: User | None, organization: Organization, changes: dict[str, Any]
) -> Organization:
    """Change an organization's name, kind or parent (`parent` None: reports to no bureau). Raises
    PermissionDenied, InvalidInput naming `parent` or `kind` (a bureau with units under it stays one)."""
    _check_admin(actor)
    if "parent" in changes:
        organization.parent = _parent(organization, changes["parent"])
    if "kind" in changes and changes["kind"] != organization.kind:
        has_units = db.session.scalar(
            sa.select(sa.func.count()).where(Organization.parent_id == organization.id)
        )
        if has_units and changes["kind"] not in (
            OrganizationKind.FORESTRY_BUREAU,
            OrganizationKind.AGRICULTURE_COMMISSION,
        ):
            raise InvalidInput.field("kind", _("Units report to this bureau; it stays a bureau."))
        organization.kind = changes["kind"]
    if "name" in changes:
        organization.name = changes["name"]
    db.session.flush()
    return organization
