"""Who may do what (docs/contract.md §1): the named role groups and the predicates built on them.

Services enforce these predicates (raising PermissionDenied with their own message); pages and the menu
ask the same predicates to decide what to show. tests/authorization/rules.py is the test suite's table
of the same rules, endpoint by endpoint; tests/test_policy.py checks that the two agree.

Predicates on records take the record and read its attributes (`organization_id`, `surveyor_id`,
`operator_id`, `assignee_id`), so this module needs nothing above app.accounts. "Acts for" is
app.accounts.organizations.acts_for: an admin acts for every organization, a bureau's staff for the
bureau and the units under it, a unit's staff for their unit only.

Who grants which role is app.accounts.services.GRANTABLE_ROLES, and who manages users at all its
USER_MANAGERS: accounts enforces them itself (it sits below this module); USER_MANAGERS is read from it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from app.accounts import services as accounts
from app.accounts.models import Role, User
from app.accounts.organizations import acts_for, unit_ids

# ---------------------------------------------------------------------------------------------------
# Role groups

EVERYONE = frozenset(Role)
ADMINISTRATORS = frozenset({Role.BUREAU_ADMIN, Role.ADMIN})
DESK = frozenset({Role.SUPERVISOR, Role.BUREAU_ADMIN, Role.ADMIN})

REVIEWERS = frozenset({Role.VERIFIER, Role.ADMIN})
"""Verify, return and reject submitted records; the review queue."""
DISTRICT_READERS = frozenset({Role.VERIFIER, Role.SUPERVISOR, Role.BUREAU_ADMIN, Role.ADMIN})
"""May widen the records page from their own records to the district's."""
FOLLOW_UP_MANAGERS = DESK
"""Assign, reschedule, cancel re-inspections and accept one recorded far from its site (§1 supervisors)."""
DASHBOARD_VIEWERS = DESK
"""The dashboard of overdue re-inspections and monthly trends."""
USER_MANAGERS = accounts.USER_MANAGERS
"""Manage the users of the organizations they act for (the roles that may grant a role at all)."""
EXPORTERS = ADMINISTRATORS
"""Export census workbooks: a bureau admin their bureau's and its units', an admin any and the district's."""
IMPORTERS = ADMINISTRATORS
"""Import legacy census workbooks into their own organization (an admin: any)."""
IMPORT_SURVEYORS = frozenset({Role.SURVEYOR, Role.SUPERVISOR, Role.BUREAU_ADMIN})
"""The roles an imported row's surveyor may be found among (people who record in the field)."""
SPECIES_EDITORS = ADMINISTRATORS
"""Edit the species registry and district lists of their own bureau (an admin: every bureau's)."""
WEBHOOK_MANAGERS = ADMINISTRATORS
"""Set up the group robots that receive an organization's reminders."""
ORGANIZATION_MANAGERS = frozenset({Role.ADMIN})
"""Create organizations and set the bureau a unit reports to."""
DISTRICT_MANAGERS = frozenset({Role.ADMIN})
"""Set up the district: load its boundaries (townships, villages)."""
CAMPAIGN_MANAGERS = DESK
"""Plan survey campaigns (调查任务) of the bureaus they act for: units, assignees, due dates (issue 19)."""


class Owned(Protocol):
    """Anything an organization owns (a record, an operation, a follow-up, an export …)."""

    @property
    def organization_id(self) -> int: ...


class Recorded(Owned, Protocol):
    """An observation: recorded by its surveyor for their organization."""

    @property
    def surveyor_id(self) -> int: ...


class Operated(Protocol):
    """A control operation: recorded by its operator."""

    @property
    def operator_id(self) -> int: ...


class Assigned(Owned, Protocol):
    """A follow-up (re-inspection): assigned to one person of its organization."""

    @property
    def assignee_id(self) -> int | None: ...


class MaybeOwned(Protocol):
    """An export: a bureau's (or, with None, the district's)."""

    @property
    def organization_id(self) -> int | None: ...


def _is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


# ---------------------------------------------------------------------------------------------------
# Records and photos


def may_edit_record(user: User, record: Recorded) -> bool:
    """Its surveyor only, admin included: a record is the surveyor's own testimony (others return it)."""
    return record.surveyor_id == user.id


def may_add_record_photos(user: User, record: Recorded) -> bool:
    """The record's surveyor, or an admin."""
    return record.surveyor_id == user.id or _is_admin(user)


def may_add_operation_photos(user: User, operation: Operated) -> bool:
    """The operation's operator, or an admin."""
    return operation.operator_id == user.id or _is_admin(user)


def may_see_originals(user: User, organization_id: int | None) -> bool:
    """Original photos (with their GPS) are for the recording organization's and its bureau's staff."""
    return _is_admin(user) or (organization_id is not None and acts_for(user, organization_id))


def may_widen_records(user: User) -> bool:
    """Whether the records page offers the district's records beside the user's own."""
    return user.role in DISTRICT_READERS


def reviews(user: User) -> bool:
    """Whether the user reviews records at all (the review queue, the menu)."""
    return user.role in REVIEWERS


def may_review(user: User, record: Recorded) -> bool:
    """A verifier (or admin) acting for the record's organization, never of their own record."""
    return reviews(user) and acts_for(user, record.organization_id) and record.surveyor_id != user.id


# ---------------------------------------------------------------------------------------------------
# Follow-ups (re-inspections) and the dashboard


def manages_follow_ups(user: User) -> bool:
    """Whether the user assigns and reschedules re-inspections at all (and may list their organization's)."""
    return user.role in FOLLOW_UP_MANAGERS


def may_manage_follow_ups_of(user: User, organization_id: int) -> bool:
    """Assign, reschedule, cancel or accept the re-inspections of that organization."""
    return manages_follow_ups(user) and acts_for(user, organization_id)


def may_manage_follow_up(user: User, follow_up: Owned) -> bool:
    return may_manage_follow_ups_of(user, follow_up.organization_id)


def may_complete_follow_up(user: User, follow_up: Assigned) -> bool:
    """Its assignee while they still work for its organization (or a unit under it), or anyone acting
    for its organization (a colleague at the site completes it). An assignee moved to another bureau
    no longer completes it: the record would be filed, and counted, under their new bureau."""
    if acts_for(user, follow_up.organization_id):
        return True
    return follow_up.assignee_id == user.id and user.organization_id in unit_ids(follow_up.organization_id)


def sees_dashboard(user: User) -> bool:
    return user.role in DASHBOARD_VIEWERS


def may_view_dashboard(user: User, organization_id: int | None) -> bool:
    """The dashboard of an organization the user acts for; of all of them (None) for an admin only."""
    if not sees_dashboard(user):
        return False
    return _is_admin(user) or (organization_id is not None and acts_for(user, organization_id))


# ---------------------------------------------------------------------------------------------------
# Survey campaigns (docs/surveys.md, Campaigns)


def manages_campaigns(user: User) -> bool:
    """Whether the user plans survey campaigns at all (the "new campaign" button, the menu)."""
    return user.role in CAMPAIGN_MANAGERS


def may_manage_campaigns_of(user: User, organization_id: int) -> bool:
    """Create or change the campaigns of a bureau the user acts for (an admin: any bureau's)."""
    return manages_campaigns(user) and acts_for(user, organization_id)


def may_manage_campaign(user: User, campaign: Owned) -> bool:
    return may_manage_campaigns_of(user, campaign.organization_id)


def may_read_route(user: User, route: Owned) -> bool:
    """A 踏查 route (a surveyor's track) is read by the staff acting for its organization: its bureau reads
    its units' routes (docs/surveys.md, Routes)."""
    return acts_for(user, route.organization_id)


# ---------------------------------------------------------------------------------------------------
# Exports and imports


def makes_exports(user: User) -> bool:
    """Whether the user makes census exports at all (the exports page, the menu)."""
    return user.role in EXPORTERS


def may_export_for(user: User, organization_id: int | None) -> bool:
    """Export the census of an organization the user acts for; the district's (None): admins only."""
    if not makes_exports(user):
        return False
    if organization_id is None:
        return _is_admin(user)
    return acts_for(user, organization_id)


def may_read_export(user: User, export: MaybeOwned) -> bool:
    """See and download an export, by the user's role and organization now (not as its requester): an
    admin any; a bureau admin those of their bureau or a unit under it; the district's: admins only."""
    if _is_admin(user):
        return True
    if user.role != Role.BUREAU_ADMIN or export.organization_id is None:
        return False
    return acts_for(user, export.organization_id)


def makes_imports(user: User) -> bool:
    return user.role in IMPORTERS


def may_import_for(user: User, organization_id: int) -> bool:
    """Import a census workbook as that organization's records: its own bureau admins, or an admin."""
    return makes_imports(user) and (_is_admin(user) or user.organization_id == organization_id)


# ---------------------------------------------------------------------------------------------------
# Administration


def manages_users(user: User) -> bool:
    return user.role in USER_MANAGERS


def may_manage_users_of(user: User, organization_id: int) -> bool:
    """Manage the users of an organization the user acts for (a bureau admin: the bureau and its units)."""
    return manages_users(user) and acts_for(user, organization_id)


def may_manage_organizations(user: User) -> bool:
    return user.role in ORGANIZATION_MANAGERS


def manages_district(user: User) -> bool:
    return user.role in DISTRICT_MANAGERS


def may_manage_webhooks(user: User, organization_id: int) -> bool:
    """The webhooks of an organization the user acts for, by its administrators."""
    return user.role in WEBHOOK_MANAGERS and acts_for(user, organization_id)


def edits_species(user: User) -> bool:
    """Whether the user edits the species registry and district lists at all (the menu, the pages)."""
    return user.role in SPECIES_EDITORS


def may_edit_species_of(user: User, bureaus: Collection[str]) -> bool:
    """What belongs to these bureaus (codes): an admin edits any; a bureau admin when theirs is among them."""
    return _is_admin(user) or (user.role == Role.BUREAU_ADMIN and user.organization.code in bureaus)


def edits_every_bureau(user: User) -> bool:
    """Whether the user's species edits reach every bureau (not only their own)."""
    return _is_admin(user)


def sees_api_docs_link(user: User) -> bool:
    """The menu links the API documentation for administrators (every signed-in user may open it)."""
    return user.role in ADMINISTRATORS
