"""app/policy.py and the test suite's rule table (tests/authorization/rules.py) say the same thing.

Every rule that restricts who may call an endpoint (a role group narrower than everyone, or a reach
narrower than "any organization") names the policy predicate that decides it; each predicate is asked
for every role and every relation the matrix walks (own, other, self, unit, station) and must answer
as rules.allowed does. The matrix itself (tests/authorization/test_matrix.py) checks the endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from app import policy
from app.accounts.models import Organization, OrganizationKind, User
from app.extensions import db
from tests.authorization import rules
from tests.authorization.rules import RULES, Reach, allowed, relations

Target = SimpleNamespace
Check = Callable[[User, Target], bool]

TARGET = "forestry"
OTHER = "agriculture"
STATION = "lp-station"
SOMEONE_ELSE = 2**31 - 1  # the id of the colleague who made a target the caller did not make

_review: Check = policy.may_review
_edit: Check = lambda user, t: policy.may_edit_record(user, t)  # noqa: E731
_manage_follow_up: Check = policy.may_manage_follow_up
_users_of: Check = lambda user, t: policy.may_manage_users_of(user, t.organization_id)  # noqa: E731
_webhooks: Check = lambda user, t: policy.may_manage_webhooks(user, t.organization_id)  # noqa: E731
_export_for: Check = lambda user, t: policy.may_export_for(user, t.organization_id)  # noqa: E731
_read_export: Check = policy.may_read_export
_species_of: Check = lambda user, t: policy.may_edit_species_of(user, t.bureaus)  # noqa: E731
_campaigns_of: Check = policy.may_manage_campaign


def _role(check: Callable[[User], bool]) -> Check:
    return lambda user, _t: check(user)


# The predicate each restricting rule follows.
CHECKS: dict[str, Check] = {
    "POST /api/v1/organizations": _role(policy.may_manage_organizations),
    "PATCH /api/v1/organizations/{code}": _role(policy.may_manage_organizations),
    "GET /api/v1/users": _role(policy.manages_users),
    "POST /api/v1/users": _users_of,
    "GET /api/v1/users/{id}": _users_of,
    "PATCH /api/v1/users/{id}": _users_of,
    "PATCH /api/v1/observations/{id}": _edit,
    "POST /api/v1/observations/{id}/photos": policy.may_add_record_photos,
    "POST /api/v1/observations/{id}/review": _review,
    "GET /api/v1/photos/{id}/{variant}": lambda user, t: policy.may_see_originals(user, t.organization_id),
    "POST /api/v1/control-operations/{id}/photos": policy.may_add_operation_photos,
    "POST /api/v1/follow-ups": _role(policy.manages_follow_ups),
    "PATCH /api/v1/follow-ups/{id}": _manage_follow_up,
    "POST /api/v1/follow-ups/{id}/complete": policy.may_complete_follow_up,
    "POST /api/v1/follow-ups/{id}/accept": _manage_follow_up,
    "POST /api/v1/exports": _export_for,
    "GET /api/v1/exports/{id}": _read_export,
    "GET /api/v1/exports/{id}/download": _read_export,
    "POST /api/v1/imports": lambda user, _t: policy.may_import_for(user, user.organization_id),
    "GET /api/v1/organizations/{code}/webhooks": _webhooks,
    "POST /api/v1/organizations/{code}/webhooks": _webhooks,
    "POST /api/v1/campaigns": _campaigns_of,
    "PATCH /api/v1/campaigns/{id}": _campaigns_of,
    "PATCH /api/v1/campaigns/{id}/units/{id}": _campaigns_of,
    "DELETE /api/v1/webhooks/{id}": _webhooks,
    "POST /api/v1/species": _species_of,
    "PATCH /api/v1/species/{id}": _species_of,
    "POST /api/v1/species-lists": _species_of,
    "POST /api/v1/species-lists/{code}/members": _species_of,
    "PATCH /api/v1/species-lists/{code}/members/{id}": _species_of,
    "PATCH /api/v1/species-lists/{code}": _species_of,
    "POST /api/v1/species-lists/{code}/import": _species_of,
    "POST /api/v1/species-lists/{code}/members/{id}/confirm": _species_of,
    "GET /observations/{id}/edit": _edit,
    "POST /observations/{id}/edit": _edit,
    "POST /observations/{id}/review": _review,
    "GET /review": _role(policy.reviews),
    "POST /follow-ups/{id}": _manage_follow_up,
    "GET /dashboard": lambda user, t: policy.may_view_dashboard(user, t.organization_id),
    "GET /campaigns/new": _role(policy.manages_campaigns),
    "POST /campaigns/new": _campaigns_of,
    "GET /campaigns/{id}/edit": _campaigns_of,
    "POST /campaigns/{id}/edit": _campaigns_of,
    "GET /exports": _role(policy.makes_exports),
    "POST /exports": _export_for,
    "POST /exports/import": lambda user, _t: policy.may_import_for(user, user.organization_id),
    "GET /admin/users": _role(policy.manages_users),
    "GET /admin/users/new": _role(policy.manages_users),
    "POST /admin/users/new": _users_of,
    "GET /admin/users/{id}": _users_of,
    "POST /admin/users/{id}": _users_of,
    "GET /admin/species-lists": _role(policy.edits_species),
    "GET /admin/species-lists/{code}": _role(policy.edits_species),
    "GET /admin/species/{id}": _role(policy.edits_species),
    "POST /admin/species/{id}": _species_of,
    "GET /admin/species/new": _role(policy.edits_species),
    "POST /admin/species/new": _species_of,
    "POST /admin/species-lists": _species_of,
    "POST /admin/species-lists/{code}/categories": _species_of,
    "POST /admin/species-lists/{code}/members": _species_of,
    "POST /admin/species-lists/{code}/members/{id}/remove": _species_of,
    "POST /admin/species-lists/{code}/members/{id}/confirm": _species_of,
    "POST /admin/species-lists/{code}/import": _species_of,
    "GET /admin/boundaries": _role(policy.manages_district),
    "POST /admin/boundaries": _role(policy.manages_district),
    # Plots are recorded like records (app/surveys/plots.py; the campaign's end is checked apart).
    "PATCH /api/v1/plots/{id}": _edit,
    "GET /plots/{id}/edit": _edit,
    "POST /plots/{id}/edit": _edit,
    "GET /api/v1/routes/{id}": policy.may_read_route,
    "GET /api/v1/routes/{id}/geojson": policy.may_read_route,
    "GET /surveys/routes/{id}": policy.may_read_route,
    "POST /api/v1/plots/{id}/photos": policy.may_add_record_photos,
}


def _restricts(rule: rules.Rule) -> bool:
    return rule.reach is not Reach.PUBLIC and (rule.roles != rules.EVERYONE or rule.reach is not Reach.ANY)


def test_every_restricting_rule_names_its_predicate() -> None:
    restricting = {key for key, rule in RULES.items() if _restricts(rule)}
    assert restricting == CHECKS.keys(), (
        f"rules with no policy predicate here: {sorted(restricting - CHECKS.keys())}; "
        f"predicates for rules that restrict nothing: {sorted(CHECKS.keys() - restricting)}"
    )


def test_role_groups_are_the_tables() -> None:
    values = lambda group: frozenset(role.value for role in group)  # noqa: E731
    assert values(policy.EVERYONE) == rules.EVERYONE
    assert values(policy.REVIEWERS) == rules.REVIEWERS
    assert values(policy.FOLLOW_UP_MANAGERS) == rules.MANAGERS
    assert values(policy.CAMPAIGN_MANAGERS) == rules.CAMPAIGNS
    assert values(policy.DASHBOARD_VIEWERS) == rules.DASHBOARD
    for group in (
        policy.USER_MANAGERS,
        policy.EXPORTERS,
        policy.IMPORTERS,
        policy.SPECIES_EDITORS,
        policy.WEBHOOK_MANAGERS,
    ):
        assert values(group) == rules.ADMINS


def _cases() -> list[tuple[str, str, str]]:
    return [
        (key, role, relation) for key in CHECKS for role in rules.ROLES for relation in relations(RULES[key])
    ]


@pytest.fixture
def station(db_session: Any) -> Organization:
    unit = Organization(
        code=STATION,
        name="梁山街道林业站",
        kind=OrganizationKind.TOWNSHIP_STATION,
        parent=db.session.scalar(sa.select(Organization).where(Organization.code == TARGET)),
    )
    db.session.add(unit)
    db.session.flush()
    return unit


def _org_id(code: str) -> int:
    found = db.session.scalar(sa.select(Organization.id).where(Organization.code == code))
    assert found is not None
    return found


@pytest.mark.parametrize(("key", "role", "relation"), _cases())
def test_policy_agrees_with_the_rule_table(
    make_user: Any, station: Organization, key: str, role: str, relation: str
) -> None:
    user = make_user(role, {"other": OTHER, "station": STATION}.get(relation, TARGET))
    owner = STATION if relation == "unit" else TARGET
    maker = user.id if relation == "self" else SOMEONE_ELSE
    if relation == "any":  # no target: what the caller acts on is their own organization's
        owner = user.organization.code
    target = Target(
        organization_id=_org_id(owner),
        surveyor_id=maker,
        operator_id=maker,
        assignee_id=SOMEONE_ELSE,
        bureaus=(owner,),
    )
    rule = RULES[key]
    expected = allowed(rule, role, relation)
    assert CHECKS[key](user, target) is expected, (
        f"{key} as {role} ({relation}): the rule table says {'allowed' if expected else 'refused'} "
        f"({rule.reach.value}: {rule.why}); app.policy says otherwise"
    )


def test_menu_groups_follow_the_policy() -> None:
    from app.main.navigation import NAV

    roles = {item.endpoint: item.roles for item in NAV}
    assert roles["observations.review_queue"] == policy.REVIEWERS
    assert roles["dashboard.index"] == policy.DASHBOARD_VIEWERS
    assert roles["exports.index"] == policy.EXPORTERS
    assert roles["accounts.users"] == policy.USER_MANAGERS
    assert roles["species.lists"] == policy.SPECIES_EDITORS
    assert roles["district.index"] == policy.DISTRICT_MANAGERS
