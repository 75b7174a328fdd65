"""The menu: one table of pages, each with the roles that see it (None: every signed-in user).

The role groups are app.policy's; the menu only hides what a role cannot use, every view (and the
services under it) checks permission itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import policy
from app.accounts.models import Role
from app.main.maps import basemap_layers
from app.notifications.inbox import unread_count as count_unread


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when the menu is drawn
    roles: frozenset[Role] | None = None
    tab: bool = False  # also in the thumb bar at the bottom of a phone screen
    short: object = None  # its label in the thumb bar, when the menu's is too long for a fifth of a phone


NAV = (
    NavItem("main.home", _l("Home"), tab=True),
    NavItem("observations.new", _l("New record"), tab=True),
    NavItem("control.follow_ups", _l("Follow-ups"), tab=True),
    NavItem("sites.map", _l("Map"), tab=True),
    NavItem("observations.records", _l("Records")),
    NavItem("control.new_operation", _l("Control operation")),
    NavItem("surveys.campaigns", _l("Survey campaigns")),
    NavItem("notifications.inbox", _l("Notifications"), tab=True, short=_l("Inbox")),
    NavItem("observations.review_queue", _l("Review"), policy.REVIEWERS),
    NavItem("dashboard.index", _l("Dashboard"), policy.DASHBOARD_VIEWERS),
    NavItem("exports.index", _l("Exports"), policy.EXPORTERS),
    NavItem("accounts.users", _l("Users"), policy.USER_MANAGERS),
    NavItem("species.lists", _l("Species lists"), policy.SPECIES_EDITORS),
    NavItem("district.index", _l("Boundaries"), policy.DISTRICT_MANAGERS),
)


def unread_count() -> int:
    """The signed-in user's unread notifications (the badge in the header and the thumb bar); read
    once per request, when a page draws the badge."""
    if not current_user.is_authenticated:
        return 0
    if "unread_count" not in g:
        g.unread_count = count_unread(current_user)
    return int(g.unread_count)


def menu() -> list[NavItem]:
    """The items the signed-in user may open."""
    if not current_user.is_authenticated:
        return []
    return [item for item in NAV if item.roles is None or current_user.role in item.roles]


def shows_api_docs() -> bool:
    """Whether the menu links the API documentation (app.policy.sees_api_docs_link)."""
    return bool(current_user.is_authenticated and policy.sees_api_docs_link(current_user))


def template_globals() -> dict[str, object]:
    """Names every page's layout uses: the menu (and its API link), the unread badge and the basemap."""
    return {
        "nav_menu": menu,
        "shows_api_docs": shows_api_docs,
        "basemap_layers": basemap_layers,
        "unread_count": unread_count,
    }
