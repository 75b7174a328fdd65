"""Who may call what: one rule for every endpoint of the app (API methods and browser pages).

Each rule's reason cites docs/contract.md by section (§1 people and roles, §3.2 the API, §6 security).

tests/authorization/test_matrix.py walks each rule × each role × own/other organization (and anonymous)
and checks the answer; it fails when the app has an endpoint this table does not name, or the other way
round, so a new endpoint cannot go unreviewed.

How to read a rule
- `roles`: the roles that may call it at all. `reach` narrows them:
  PUBLIC  anyone, signed in or not;
  ANY     the roles, whatever organization owns the target (or there is no target);
  ORG     the roles, on what their own organization owns; `admin` on everything;
  AUTHOR  only the user who made the target (any role; admin is not excepted);
  AUTHOR_OR_ADMIN  the user who made the target, or an admin.
- `target`: the organization-owned object the endpoint acts on. The matrix builds it as "forestry"'s
  (made by a forestry colleague of the caller); "own" callers are in forestry, "other" callers in
  agriculture, and for AUTHOR rules and `not_author` rules "self" callers made the target themselves
  (only for roles the rule lets in: for the others the role alone decides).
- `units`: the rule follows "a bureau acts for the units under it" (docs/contract.md §1,
  app.accounts.organizations.acting_ids); the matrix also walks "unit" (a forestry caller, the target
  a township station's under forestry: allowed as "own") and "station" (a caller of that station, the
  target forestry's own: refused as "other", for a unit's staff act for their unit only).
- `not_author`: the user who made the target is refused even if the rest allows (no self-review).
- `ok`: the status an allowed call gets from the matrix's request (its body is written so that this is
  the normal success, unless the rule says why not). 409/422 there still prove authorization passed.
- `denied`: how a signed-in refusal shows: 403 unless said; `org_denied` where a refusal because of
  the caller's organization shows differently (404 where the code hides existence; 422 where a
  form's choices leave the other organization out). FLASH: the page redirects back with an error
  message (and an allowed call redirects with an info message).
- Anonymous callers get 401 from the API and a redirect to the sign-in page (with `next`) from pages,
  unless the rule is PUBLIC or says `anonymous=` otherwise.

Where §1 is silent or loose, the rule follows the code and says so ("code:"); where it needed a
product decision the rule says "decided:" and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SURVEYOR = "surveyor"
VERIFIER = "verifier"
SUPERVISOR = "supervisor"
BUREAU_ADMIN = "bureau_admin"
ADMIN = "admin"
ROLES = (SURVEYOR, VERIFIER, SUPERVISOR, BUREAU_ADMIN, ADMIN)

EVERYONE = frozenset(ROLES)
REVIEWERS = frozenset({VERIFIER, ADMIN})  # app.observations.services.REVIEWERS
MANAGERS = frozenset({SUPERVISOR, BUREAU_ADMIN, ADMIN})  # app.control.services.MANAGERS (follow-ups)
DASHBOARD = MANAGERS  # app.dashboard.views.VIEWERS
ADMINS = frozenset({BUREAU_ADMIN, ADMIN})  # users, species lists, exports, imports, webhooks
CAMPAIGNS = MANAGERS  # app.policy.CAMPAIGN_MANAGERS: survey campaigns (issue 19)

FLASH = "flash"  # refused (or done) by a redirect carrying an error (or info) message
SIGN_IN = "sign-in"  # a redirect to the sign-in page with ?next=


class Reach(Enum):
    PUBLIC = "public"
    ANY = "any organization"
    ORG = "own organization (admin: all)"
    AUTHOR = "its author only"
    AUTHOR_OR_ADMIN = "its author, or an admin"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    reach: Reach
    why: str
    target: str | None = None
    not_author: bool = False
    ok: tuple[int, ...] = (200,)
    denied: int | str = 403
    org_denied: int | None = None
    anonymous: int | None = None  # instead of 401 (API) or the sign-in redirect (page)
    units: bool = False


def public(why: str, ok: tuple[int, ...] = (200,)) -> Rule:
    return Rule(EVERYONE, Reach.PUBLIC, why, ok=ok)


def signed_in(why: str, target: str | None = None, ok: tuple[int, ...] = (200,)) -> Rule:
    return Rule(EVERYONE, Reach.ANY, why, target=target, ok=ok)


# Routes that only serve files shipped with the app or its packages: public, not walked.
UNWALKED = {
    "GET /static/{filename}": "the app's CSS, JS and icon: the sign-in page needs them",
    "GET /api-docs/static/{filename}": "Swagger UI's files from its wheel (app/main/api_docs.py)",
    "GET /vendor/leaflet/{filename}": "Leaflet's files from the XStatic wheel, cached by the service worker",
    "GET /vendor/geoman/{filename}": "Leaflet-Geoman (the area tool) from node_modules, cached likewise",
}

READ = "§1: all signed-in staff may read the district's observations (one shared census)"
COVERAGE = (
    "decided (issue 19): a campaign's coverage is the progress of the shared census; all signed-in staff "
    "read it, as they read the district's records (§1)"
)
REFERENCE = "reference data every signed-in user's forms need (app/accounts/auth.py: API sign-in by default)"

RULES: dict[str, Rule] = {
    # ---------------------------------------------------------------------------------------------
    # API: accounts
    "POST /api/v1/auth/tokens": public("§3.2: username and password → token (@public)", ok=(201,)),
    "DELETE /api/v1/auth/tokens/current": signed_in(
        "code: revokes the bearer token of the request", ok=(204,)
    ),
    "GET /api/v1/me": signed_in("code: the signed-in user"),
    "POST /api/v1/me/password": signed_in(
        "§6: one's own password (the matrix sends no current password: 422 proves it was let in)",
        ok=(422,),
    ),
    "GET /api/v1/organizations": signed_in(REFERENCE),
    "POST /api/v1/organizations": Rule(
        frozenset({ADMIN}), Reach.ANY, "§1: admin manages organizations and district set-up", ok=(201,)
    ),
    "PATCH /api/v1/organizations/{code}": Rule(
        frozenset({ADMIN}), Reach.ANY, "§1: admin manages organizations (a unit's parent bureau)"
    ),
    "GET /api/v1/users": Rule(
        ADMINS, Reach.ANY, "§3.2 users: admin and bureau_admin (the list is their own org's)"
    ),
    "POST /api/v1/users": Rule(
        ADMINS,
        Reach.ORG,
        "§3.2 users: admin and bureau_admin (own organization and its units) only; target = the new "
        "user's org",
        target="organization",
        ok=(201,),
        units=True,
    ),
    "GET /api/v1/users/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "§3.2 users: admin and bureau_admin (own organization) only",
        target="user",
        units=True,
    ),
    "PATCH /api/v1/users/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "§3.2 users: admin and bureau_admin (own organization) only",
        target="user",
        units=True,
    ),
    # ---------------------------------------------------------------------------------------------
    # API: observations and photos
    "GET /api/v1/observations": signed_in(READ),
    "POST /api/v1/observations": signed_in(
        "§1: recording is everyone's (the record is owned by the caller's org)", ok=(201,)
    ),
    "GET /api/v1/observations/geojson": signed_in(READ),
    "GET /api/v1/observations/download": signed_in(READ + "; the list as a GIS file (app/gis/api.py)"),
    "GET /api/v1/map/observations": signed_in(READ + "; the list aggregated for the map (app/gis/)"),
    "GET /api/v1/observations/{id}": signed_in(READ, target="observation"),
    "PATCH /api/v1/observations/{id}": Rule(
        EVERYONE,
        Reach.AUTHOR,
        "§3.2 'edit … (owner)'; decided: its surveyor only, admin included, since a record is "
        "the surveyor's own testimony: anyone else returns it with a comment (review) for them to fix",
        target="observation",
    ),
    "POST /api/v1/observations/{id}/photos": Rule(
        EVERYONE,
        Reach.AUTHOR_OR_ADMIN,
        "code: photos.services._check_may_add: the record's surveyor, or an admin",
        target="observation",
        ok=(201,),
    ),
    "POST /api/v1/observations/{id}/review": Rule(
        REVIEWERS,
        Reach.ORG,
        "§1: verification acts within the actor's organization (a bureau: its units too) unless "
        "admin; never one's own record",
        target="observation",
        not_author=True,
        units=True,
    ),
    "GET /api/v1/photos/{id}/{variant}": Rule(
        EVERYONE,
        Reach.ORG,
        "§6: originals (with their GPS) for the recording organization's and its bureau's staff only, "
        "admin included (the matrix asks for the original; thumbnails and display copies stay READ)",
        target="photo",
        units=True,
    ),
    # ---------------------------------------------------------------------------------------------
    # API: sites, control operations, follow-ups
    "GET /api/v1/sites": signed_in(READ),
    "GET /api/v1/sites/download": signed_in(READ + "; the list as a GIS file (app/gis/api.py)"),
    "GET /api/v1/sites/{id}": signed_in(READ, target="site"),
    "GET /api/v1/control-methods": signed_in(REFERENCE),
    "GET /api/v1/control-operations": signed_in(READ),
    "GET /api/v1/control-operations/download": signed_in(READ + "; the list as a GIS file (app/gis/api.py)"),
    "POST /api/v1/control-operations": signed_in(
        "decided: anyone may treat any org's site. A site is a shared place in the one district "
        "census (forestry and agriculture treat the same ditches); the operation is owned by the "
        "caller's org, and refusing would make the team open a duplicate site beside the first",
        target="observation",
        ok=(201,),
    ),
    "GET /api/v1/control-operations/{id}": signed_in(READ, target="operation"),
    "POST /api/v1/control-operations/{id}/photos": Rule(
        EVERYONE,
        Reach.AUTHOR_OR_ADMIN,
        "code: photos.services._check_may_add_to_operation: its operator, or an admin",
        target="operation",
        ok=(201,),
    ),
    "GET /api/v1/follow-ups": signed_in(READ),
    "POST /api/v1/follow-ups": Rule(
        MANAGERS,
        Reach.ANY,
        "§1 supervisors assign; code: a re-inspection of any site, owned by the caller's org",
        target="site",
        ok=(201,),
    ),
    "GET /api/v1/follow-ups/{id}": signed_in(READ, target="follow_up"),
    "PATCH /api/v1/follow-ups/{id}": Rule(
        MANAGERS,
        Reach.ORG,
        "§1: assignment acts within the actor's organization (a bureau: its units too) unless admin "
        "(services._check_manager)",
        target="follow_up",
        units=True,
    ),
    "POST /api/v1/follow-ups/{id}/complete": Rule(
        EVERYONE,
        Reach.ORG,
        "§1 surveyors complete 're-inspections assigned to them'; decided: anyone acting for its org, "
        "since a colleague at the site with no signal cannot wait for a supervisor to reassign it "
        "(the completion records who did it)",
        target="follow_up",
        units=True,
    ),
    "POST /api/v1/follow-ups/{id}/accept": Rule(
        MANAGERS,
        Reach.ORG,
        "decided: a supervisor of its organization accepts a re-inspection recorded far from its site "
        "(services.accept_far_follow_up checks the role first)",
        target="follow_up",
        ok=(409,),  # the matrix's follow-up is pending, not a far re-inspection: nothing to accept
        units=True,
    ),
    # ---------------------------------------------------------------------------------------------
    # API: exports and imports
    "POST /api/v1/exports": Rule(
        ADMINS,
        Reach.ORG,
        "§1: bureau_admin exports, within the actor's organization unless admin (bureau = target)",
        target="organization",
        ok=(202,),
        units=True,
    ),
    "GET /api/v1/exports/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "decided (issue 15): services.may_read: the exported bureau's bureau_admins (and those of the "
        "bureau above it) or an admin, by their role and organization now; not the requester as such",
        target="export",
        units=True,
    ),
    "GET /api/v1/exports/{id}/download": Rule(
        ADMINS,
        Reach.ORG,
        "as GET /api/v1/exports/{id}; allowed → 409 (the matrix's export is still queued)",
        target="export",
        ok=(409,),
        units=True,
    ),
    "GET /api/v1/census/summary": signed_in(READ + "; the census figures are counted from those records"),
    "POST /api/v1/imports": Rule(
        ADMINS,
        Reach.ANY,
        "code: imports.IMPORTERS; rows become the caller's org's; allowed → 422 (no workbook sent)",
        ok=(422,),
    ),
    # ---------------------------------------------------------------------------------------------
    # API: survey campaigns (issue 19, docs/surveys.md)
    "GET /api/v1/campaigns": signed_in(READ + "; decided: campaigns are read by all staff like the census"),
    "POST /api/v1/campaigns": Rule(
        CAMPAIGNS,
        Reach.ORG,
        "issue 19: a bureau's supervisors and bureau admins plan its campaigns, admins any bureau's "
        "(target = the campaign's bureau)",
        target="organization",
        ok=(201,),
    ),
    "GET /api/v1/campaigns/{id}": signed_in(READ + "; a campaign's plan", target="campaign"),
    "PATCH /api/v1/campaigns/{id}": Rule(
        CAMPAIGNS,
        Reach.ORG,
        "issue 19: as POST /api/v1/campaigns, on the campaign's bureau",
        target="campaign",
    ),
    "GET /api/v1/campaigns/{id}/units": signed_in(READ + "; a campaign's units", target="campaign"),
    "PATCH /api/v1/campaigns/{id}/units/{id}": Rule(
        CAMPAIGNS, Reach.ORG, "issue 19: reassigning a unit is planning the campaign", target="campaign"
    ),
    "GET /api/v1/me/survey-units": signed_in("code: the caller's own survey units"),
    # ---------------------------------------------------------------------------------------------
    # API: notifications and webhooks
    "GET /api/v1/notifications": signed_in("code: the caller's own inbox"),
    "POST /api/v1/notifications/read": signed_in("code: marks the caller's own notifications"),
    "GET /api/v1/me/notification-settings": signed_in("code: the caller's own settings"),
    "PATCH /api/v1/me/notification-settings": signed_in("code: the caller's own settings"),
    "GET /api/v1/organizations/{code}/webhooks": Rule(
        ADMINS,
        Reach.ORG,
        "code: _check_org: an organization's settings, by its admins",
        target="organization",
        units=True,
    ),
    "POST /api/v1/organizations/{code}/webhooks": Rule(
        ADMINS,
        Reach.ORG,
        "code: _check_org: an organization's settings, by its admins",
        target="organization",
        ok=(201,),
        units=True,
    ),
    "DELETE /api/v1/webhooks/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "code: WebhookItem.delete; another org's webhook is a 404 (its existence is not told)",
        target="webhook",
        ok=(204,),
        org_denied=404,
        units=True,
    ),
    # ---------------------------------------------------------------------------------------------
    # API: reference data and the document
    "GET /api/v1/district": signed_in(REFERENCE),
    "GET /api/v1/townships": signed_in(REFERENCE),
    "GET /api/v1/villages": signed_in(REFERENCE),
    "GET /api/v1/boundaries/outlines": signed_in(REFERENCE + "; the maps' outlines"),
    "GET /api/v1/habitats": signed_in(REFERENCE),
    "GET /api/v1/species": signed_in(REFERENCE),
    "GET /api/v1/species/{id}": signed_in(REFERENCE),
    "GET /api/v1/species-lists": signed_in(REFERENCE),
    "GET /api/v1/species-lists/{code}/members": signed_in(REFERENCE),
    "GET /api/v1/species-lists/{code}/changes": signed_in(REFERENCE),
    "GET /api/v1/species-lists/{code}": signed_in(REFERENCE),
    # The registry kept in the app (issue 20): bureau admins edit their bureau's species and lists.
    "POST /api/v1/species": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: bureau admins add species for their own bureau, admins for any; target = bureaus",
        target="organization",
        ok=(201,),
    ),
    "PATCH /api/v1/species/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: local names, readings and bureaus of their bureau's species (target: a forestry species)",
        target="species",
    ),
    "POST /api/v1/species-lists": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: a bureau admin creates their own bureau's district list; target = the list's bureau",
        target="organization",
        ok=(201,),
    ),
    "POST /api/v1/species-lists/{code}/members": Rule(
        ADMINS, Reach.ORG, "issue 20: their own bureau's district lists", target="species_list", ok=(201,)
    ),
    "PATCH /api/v1/species-lists/{code}/members/{id}": Rule(
        ADMINS, Reach.ORG, "issue 20: their own bureau's district lists", target="species_list"
    ),
    "PATCH /api/v1/species-lists/{code}": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: the census categories of their own bureau's district lists",
        target="species_list",
    ),
    "POST /api/v1/species-lists/{code}/import": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: their own bureau's district lists (a report only here)",
        target="species_list",
    ),
    "POST /api/v1/species-lists/{code}/members/{id}/confirm": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: a bureau confirms rows of its own species (target: 567 row 40, a forestry pest)",
        target="species",
    ),
    "GET /api/v1/openapi.json": public("§3.2: the OpenAPI document (api-docs.* endpoints are public)"),
    # ---------------------------------------------------------------------------------------------
    # Pages: signing in, the shell, offline support
    "GET /sign-in": public("the sign-in page; a signed-in user is sent home (302)", ok=(200, 302)),
    "POST /sign-in": public("signing in (CSRF-checked); a signed-in user is sent home", ok=(302,)),
    "POST /sign-out": signed_in("code: @login_required", ok=(302,)),
    "GET /account/password": signed_in("§6: the self-service password change page"),
    "POST /account/password": signed_in(
        "§6: one's own password (the matrix sends an empty form: 422 proves it was let in)", ok=(422,)
    ),
    "GET /account/sessions": signed_in("§6: one's own sign-ins (browsers and API tokens)"),
    "POST /account/sessions": signed_in(
        "§6: signing out everywhere else, with one's password (the matrix sends an empty form: 422 "
        "proves it was let in)",
        ok=(422,),
    ),
    "POST /language": public(
        "code: the language of this browser (and of the user when signed in)", ok=(302,)
    ),
    "GET /healthz": public("§3.2: liveness for load balancers"),
    "GET /favicon.ico": public("the icon browsers ask for on a page that names none", ok=(302,)),
    "GET /sw.js": public("the service worker must load before anyone signs in"),
    "GET /manifest.webmanifest": public("the web app manifest"),
    "GET /offline": public("shown by the service worker when a page was never cached"),
    "GET /app/signed-out": public("shown by the service worker after signing out with no signal"),
    "GET /app/session.json": Rule(
        EVERYONE,
        Reach.ANY,
        "code: the outbox asks who is signed in; a stranger gets 401 JSON (a script reads it)",
        anonymous=401,
    ),
    "GET /app/field-data.json": signed_in("reference data for the offline forms (@login_required)"),
    "GET /map/offline": signed_in("issue 18: saving a township's basemap on the phone (@login_required)"),
    "GET /app/offline-tiles": signed_in("issue 18: the tiles to save for an area (@login_required)"),
    "GET /api-docs": signed_in("§3.2: interactive docs for signed-in staff"),
    "GET /": signed_in("home: the caller's own follow-ups and records"),
    # ---------------------------------------------------------------------------------------------
    # Pages: observations
    "GET /observations": signed_in("code: the caller's records (desk roles may widen to the district)"),
    "GET /observations/new": signed_in("§1: recording is everyone's"),
    "GET /observations/{id}": signed_in(READ, target="observation"),
    "GET /observations/{id}/edit": Rule(
        EVERYONE,
        Reach.AUTHOR,
        "as PATCH /api/v1/observations/{id} (services.check_editable)",
        target="observation",
    ),
    "POST /observations/{id}/edit": Rule(
        EVERYONE,
        Reach.AUTHOR,
        "as PATCH /api/v1/observations/{id} (services.check_editable)",
        target="observation",
        ok=(302,),
    ),
    "POST /observations/{id}/review": Rule(
        REVIEWERS,
        Reach.ORG,
        "as POST /api/v1/observations/{id}/review; the page turns every refusal into an error message",
        target="observation",
        not_author=True,
        ok=(302,),
        denied=FLASH,
        units=True,
    ),
    "GET /review": Rule(
        REVIEWERS, Reach.ANY, "§1 verifiers review (services.review_queue: their org's records)"
    ),
    # ---------------------------------------------------------------------------------------------
    # Pages: sites, control, follow-ups, dashboard, notifications
    "GET /sites/{id}": signed_in(READ, target="site"),
    "GET /map": signed_in(READ),
    "GET /control-operations/new": signed_in(
        "§1: recording operations is everyone's (the form reads the record it starts from)",
        target="observation",
    ),
    "GET /follow-ups": signed_in("code: the caller's follow-ups (managers may widen to their org's)"),
    "GET /follow-ups/{id}": signed_in(READ, target="follow_up"),
    "POST /follow-ups/{id}": Rule(
        MANAGERS,
        Reach.ORG,
        "as PATCH /api/v1/follow-ups/{id} (the matrix reschedules)",
        target="follow_up",
        ok=(302,),
        units=True,
    ),
    "GET /dashboard": Rule(
        DASHBOARD,
        Reach.ORG,
        "§1 supervisors watch the dashboard; another org's (?organization=) is admin's only, a "
        "unit's its bureau's too",
        target="organization",
        units=True,
    ),
    "GET /notifications": signed_in("code: the caller's own inbox"),
    "POST /notifications/read": signed_in("code: marks the caller's own notifications", ok=(302,)),
    # ---------------------------------------------------------------------------------------------
    # Pages: survey campaigns (issue 19)
    "GET /campaigns": signed_in(READ + "; decided: campaigns are read by all staff"),
    "GET /campaigns/new": Rule(CAMPAIGNS, Reach.ANY, "issue 19: the plan form, for campaign planners"),
    "POST /campaigns/new": Rule(
        CAMPAIGNS,
        Reach.ORG,
        "as POST /api/v1/campaigns (target = the campaign's bureau)",
        target="organization",
        ok=(302,),
    ),
    "GET /campaigns/{id}": signed_in(READ + "; a campaign's page", target="campaign"),
    "GET /campaigns/{id}/edit": Rule(
        CAMPAIGNS, Reach.ORG, "as PATCH /api/v1/campaigns/{id}: the form", target="campaign"
    ),
    "POST /campaigns/{id}/edit": Rule(
        CAMPAIGNS, Reach.ORG, "as PATCH /api/v1/campaigns/{id}", target="campaign", ok=(302,)
    ),
    # ---------------------------------------------------------------------------------------------
    # Pages: exports and administration
    "GET /exports": Rule(ADMINS, Reach.ANY, "§1 bureau_admin exports census tables (exports.EXPORTERS)"),
    "POST /exports": Rule(
        ADMINS,
        Reach.ORG,
        "as POST /api/v1/exports; another org's bureau is not among the form's choices (422)",
        target="organization",
        ok=(302,),
        org_denied=422,
        units=True,
    ),
    "POST /exports/import": Rule(
        ADMINS,
        Reach.ANY,
        "as POST /api/v1/imports; allowed → 422 (no workbook sent)",
        ok=(422,),
    ),
    "GET /admin/users": Rule(ADMINS, Reach.ANY, "§1 bureau_admin manages the bureau's users"),
    "GET /admin/users/new": Rule(ADMINS, Reach.ANY, "§1 bureau_admin manages the bureau's users"),
    "POST /admin/users/new": Rule(
        ADMINS,
        Reach.ORG,
        "as POST /api/v1/users; another org is not among the form's choices (422)",
        target="organization",
        ok=(302,),
        org_denied=422,
        units=True,
    ),
    "GET /admin/users/{id}": Rule(
        ADMINS, Reach.ORG, "as GET /api/v1/users/{id} (services.get_managed_user)", target="user", units=True
    ),
    "POST /admin/users/{id}": Rule(
        ADMINS, Reach.ORG, "as PATCH /api/v1/users/{id}", target="user", ok=(302,), units=True
    ),
    "GET /admin/species-lists": Rule(ADMINS, Reach.ANY, "§1 bureau_admin manages species lists"),
    "GET /admin/boundaries": Rule(
        frozenset({ADMIN}), Reach.ANY, "§2 boundaries are the district's, loaded by the system admin"
    ),
    "POST /admin/boundaries": Rule(
        frozenset({ADMIN}), Reach.ANY, "§2 as GET /admin/boundaries (a check-only upload here)"
    ),
    "GET /admin/species-lists/{code}": Rule(ADMINS, Reach.ANY, "§1 bureau_admin manages species lists"),
    "GET /admin/species/{id}": Rule(
        ADMINS, Reach.ANY, "issue 20: bureau admins see a species' names and edits"
    ),
    "POST /admin/species/{id}": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: local names, readings and bureaus of their bureau's species (target: a forestry species)",
        target="species",
        ok=(302,),
    ),
    "GET /admin/species/new": Rule(ADMINS, Reach.ANY, "issue 20: the new-species form"),
    "POST /admin/species/new": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: bureau admins add species for their own bureau (target: the bureau)",
        target="organization",
        ok=(302,),
    ),
    "POST /admin/species-lists": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: a bureau admin creates their own bureau's district list (target: the bureau)",
        target="organization",
        ok=(302,),
    ),
    "POST /admin/species-lists/{code}/categories": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: the census categories of their own bureau's district lists",
        target="species_list",
        ok=(302,),
    ),
    "POST /admin/species-lists/{code}/members": Rule(
        ADMINS, Reach.ORG, "issue 20: their own bureau's district lists", target="species_list", ok=(302,)
    ),
    "POST /admin/species-lists/{code}/members/{id}/remove": Rule(
        ADMINS, Reach.ORG, "issue 20: their own bureau's district lists", target="species_list", ok=(302,)
    ),
    "POST /admin/species-lists/{code}/members/{id}/confirm": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: a bureau confirms rows of its own species (target: 567 row 40, a forestry pest)",
        target="species",
        ok=(302,),
    ),
    "POST /admin/species-lists/{code}/import": Rule(
        ADMINS,
        Reach.ORG,
        "issue 20: their own bureau's district lists (a report only here)",
        target="species_list",
    ),
    # ---------------------------------------------------------------------------------------------
    # Survey campaigns' coverage (docs/surveys.md, Coverage)
    "GET /api/v1/campaigns/{id}/coverage": signed_in(COVERAGE, target="campaign"),
    "GET /api/v1/campaigns/{id}/coverage/geojson": signed_in(COVERAGE, target="campaign"),
    "GET /campaigns/{id}/coverage": signed_in(COVERAGE, target="campaign"),
    # API: survey routes (docs/surveys.md, Routes)
    "GET /api/v1/routes": signed_in(
        "code: the routes of the organizations the caller acts for (§1 acts for)"
    ),
    "POST /api/v1/routes": signed_in(
        "§2 Route: whoever records for the campaign (the matrix's caller is forestry's, as is the campaign)",
        ok=(201,),
    ),
    "GET /api/v1/routes/{id}": Rule(
        EVERYONE,
        Reach.ORG,
        "decided: a route (a surveyor's track) is read by its bureau's staff",
        target="route",
        units=True,
    ),
    "GET /api/v1/routes/{id}/geojson": Rule(
        EVERYONE, Reach.ORG, "as GET /api/v1/routes/{id}", target="route", units=True
    ),
    # Pages: survey routes
    "GET /surveys/routes/new": signed_in("§2 Route: walking a route, like recording, is everyone's"),
    "GET /surveys/routes": signed_in("code: the caller's own routes"),
    "GET /surveys/routes/{id}": Rule(
        EVERYONE, Reach.ORG, "as GET /api/v1/routes/{id}", target="route", units=True
    ),
    # ---------------------------------------------------------------------------------------------
    # Surveys: plots (样地) and quadrats (docs/surveys.md, Plots)
    "GET /api/v1/plots": signed_in(READ),
    "POST /api/v1/plots": signed_in(
        "decided: anyone may lay a plot at any site, as anyone may treat one: a site is a shared place "
        "of the one district census; the plot is owned by the caller's org",
        ok=(201,),
    ),
    "GET /api/v1/plots/{id}": signed_in(READ, target="plot"),
    "PATCH /api/v1/plots/{id}": Rule(
        EVERYONE,
        Reach.AUTHOR,
        "decided: as PATCH /api/v1/observations/{id}: its surveyor only, admin included (the plot is "
        "their measurement), until its campaign ends",
        target="plot",
    ),
    "POST /api/v1/plots/{id}/photos": Rule(
        EVERYONE,
        Reach.AUTHOR_OR_ADMIN,
        "as POST /api/v1/observations/{id}/photos: the plot's surveyor, or an admin",
        target="plot",
        ok=(201,),
    ),
    "GET /sites/{id}/plots/new": signed_in("as POST /api/v1/plots: anyone may lay a plot", target="site"),
    "GET /plots/{id}": signed_in(READ, target="plot"),
    "GET /plots/{id}/edit": Rule(
        EVERYONE,
        Reach.AUTHOR,
        "as PATCH /api/v1/plots/{id}: the edit page, its surveyor's only",
        target="plot",
    ),
    "POST /plots/{id}/edit": Rule(
        EVERYONE, Reach.AUTHOR, "as PATCH /api/v1/plots/{id}", target="plot", ok=(302,)
    ),
}


def relations(rule: Rule) -> tuple[str, ...]:
    """How the caller stands to the target: "any" when no organization is involved."""
    if rule.target is None:
        return ("any",)
    walked: tuple[str, ...] = ("own", "other")
    if rule.reach in (Reach.AUTHOR, Reach.AUTHOR_OR_ADMIN) or rule.not_author:
        walked += ("self",)
    if rule.units:
        walked += ("unit", "station")
    return walked


def allowed(rule: Rule, role: str | None, relation: str) -> bool:
    """Whether the table lets `role` (None: not signed in) call the endpoint on that target."""
    if rule.reach is Reach.PUBLIC:
        return True
    if role is None or role not in rule.roles:
        return False
    if relation == "self" and rule.not_author:
        return False
    if rule.reach is Reach.ANY:
        return True
    if rule.reach is Reach.ORG:
        return relation not in ("other", "station") or role == ADMIN
    if rule.reach is Reach.AUTHOR:
        return relation == "self"
    return relation == "self" or role == ADMIN
