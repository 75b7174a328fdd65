"""Who does a re-inspection and who supervises it: assignees and supervisors of an organization."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import Organization, Role, User
from app.accounts.organizations import unit_ids
from app.control.models import FollowUp, FollowUpStatus
from app.errors import FieldErrors
from app.extensions import db


def may_be_assigned(user: User | None, organization_id: int) -> bool:
    """Whether `user` may re-inspect for the organization `organization_id`: an active user of it or,
    when it is a bureau, of a unit under it (docs/contract.md §1)."""
    return user is not None and user.active and user.organization_id in unit_ids(organization_id)


def assignable_users(organization_id: int) -> list[User]:
    """The choices of assignee for a follow-up of `organization_id` (its units' staff included)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organization_id.in_(sorted(unit_ids(organization_id))), User.active.is_(True))
            .order_by(User.display_name, User.id)
        )
    )


def assignee_or_error(user_id: int, organization_id: int, field: str, errors: FieldErrors) -> User | None:
    user = db.session.get(User, user_id)
    if not may_be_assigned(user, organization_id):
        errors[field] = [_("must be an active user of the organization or of a unit under it.")]
        return None
    return user


def organization_supervisor(organization_id: int) -> User | None:
    """The supervisor who receives an organization's reminders (the longest-serving active one); for a
    unit with none, its bureau's, whose supervisors supervise the units' re-inspections too."""
    organization = db.session.get(Organization, organization_id)
    while organization is not None:
        supervisor = db.session.scalar(
            sa.select(User)
            .where(
                User.organization_id == organization.id, User.role == Role.SUPERVISOR, User.active.is_(True)
            )
            .order_by(User.id)
            .limit(1)
        )
        if supervisor is not None:
            return supervisor
        organization = organization.parent
    return None


def refresh_supervisors(among: sa.ColumnElement[bool] | None = None) -> None:
    """Point pending follow-ups (those matching `among`, when given) at their organization's supervisor as
    things are now (`organization_supervisor`): one appointed, deactivated or moved since a follow-up was
    made changes whom its reminders reach. The reminder sweep calls it for the follow-ups it is about to
    remind of; one statement per organization among them, whatever their number."""
    pending = FollowUp.status == FollowUpStatus.PENDING
    if among is not None:
        pending = sa.and_(pending, among)
    organization_ids = db.session.scalars(sa.select(FollowUp.organization_id).where(pending).distinct()).all()
    for organization_id in organization_ids:
        supervisor = organization_supervisor(organization_id)
        current = supervisor.id if supervisor is not None else None
        db.session.execute(
            sa.update(FollowUp)
            .where(
                pending,
                FollowUp.organization_id == organization_id,
                FollowUp.supervisor_id.is_distinct_from(current),
            )
            .values(supervisor_id=current)
            .execution_options(synchronize_session=False)
        )
