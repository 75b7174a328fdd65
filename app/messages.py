"""How the API's fields and the libraries' messages read in the user's language: each field by the label its
form shows (`field_label`), marshmallow's English messages translated with their values kept
(`translated`), and the one-line summary of the fields at fault (`invalid_fields_message`). Errors
(app/errors.py) and the pages' and services' refusals use them."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import metrics

FieldErrors = dict[str, list[str]]

# A field's name in a message is cut to this length: a request must not be able to make its answer many
# times its own size (app/errors.py bounds the `errors` object the same way).
MAX_FIELD_NAME_CHARS = 80


# What the forms call the fields the API names, so that a message says "卵块密度" and not
# "egg_masses_per_m2"; the `errors` object keeps the keys, for programs.
FIELD_LABELS: dict[str, Any] = {
    # marshmallow's key for the body as a whole (a list sent for an object); an item of a list as a whole
    # (`points.4._schema`) is named by its list (`field_label`).
    "_schema": _l("The request body"),
    "species_id": _l("Species"),
    "detected": _l("Finding"),
    "latitude": _l("Latitude"),
    "longitude": _l("Longitude"),
    "accuracy_m": _l("GPS accuracy"),
    "crs": _l("Coordinate system"),
    "observed_at": _l("Time"),
    "township_code": _l("Township"),
    "village_code": _l("Village"),
    "place_name": _l("Place name"),
    "habitat": _l("Habitat"),
    **{metric.field: metric.label for metric in metrics.METRICS},
    "severity": _l("Severity (1–5)"),
    "photos": _l("Photos"),
    "notes": _l("Notes"),
    "site_id": _l("Site"),
    "observation_id": _l("Record"),
    "method": _l("Method"),
    "performed_at": _l("Time"),
    "labour_person_days": _l("Labour (person-days)"),
    "cost_yuan": _l("Cost (yuan)"),
    "team": _l("Team"),
    "assignee_id": _l("Re-inspections by"),
    "check_site_id": _l("Check plot"),
    "follow_up_days": _l("Re-inspection days"),
    "due_on": _l("Due date"),
    "cancelled_reason": _l("Reason"),
    "details": _l("Method details"),
    "comment": _l("Comment"),
    "decision": _l("Decision"),
    # Pages' own inputs (app/pages.py)
    "next": _l("Page to go back to"),
    "page": _l("Page number"),
    "signed_out": _l("Sign out"),
    "file": _l("File"),
    "level": _l("Level"),
    "code_field": _l("Code field"),
    "dry_run": _l("Check only (write nothing)"),
    "apply": _l("Add the matched species now (otherwise only the report)"),
    "q": _l("Search species"),
    "lang": _l("Language"),
    "name_zh": _l("Chinese name"),
    "name_sci": _l("Scientific name"),
    # Survey campaigns, routes and plots (docs/surveys.md)
    "campaign_id": _l("Survey campaign"),
    "route_uuid": _l("Route"),
    "unit_id": _l("Survey unit"),
    "points": _l("Track points"),
    "pauses": _l("Pauses"),
    "dropped_point_count": _l("Points left out"),
    "started_at": _l("Started"),
    "ended_at": _l("Ended"),
    "starts_on": _l("First day"),
    "ends_on": _l("Last day"),
    "species_ids": _l("Target species"),
    "units": _l("Survey units"),
    "quadrats": _l("Quadrats"),
    "surveyed_at": _l("Time"),
    "height_cm": _l("Height (cm)"),
    # A campaign's units: their own due day and assignee, not a re-inspection's.
    "units.due_on": _l("Due by"),
    "units.assignee_id": _l("Unit's assignee"),
    "kind": _l("Kind"),
    "name": _l("Name"),
    # What GET /campaigns/{id} answers and a PATCH may send back unchanged (read-only).
    "bureau_name": _l("Bureau's name"),
    "unit_count": _l("Number of units"),
    "unit_code": _l("Unit code"),
    "township_name": _l("Township's name"),
    "village_name": _l("Village's name"),
    "assignee": _l("Assignee"),
    "created_by_id": _l("Created by"),
    "created_at": _l("Created"),
    "updated_at": _l("Last changed"),
    "If-Match": _l("Version read (If-Match)"),
    "version": _l("Version read"),
    "bureau": _l("Bureau"),
    "bureaus": _l("Bureaus"),
    "bureaus_shown": _l("Bureaus shown"),
    "active_on": _l("Under way on"),
    "add_species": _l("Add a species"),
    "bulk_assignee_id": _l("Assignee of the ticked units"),
    "bulk_due_on": _l("Due by (the ticked units)"),
    "pick_unit": _l("Survey unit"),
    "pick_assignee_id": _l("Unit's assignee"),
    "pick_due_on": _l("Due by"),
    "selected": _l("Ticked"),
    "shape": _l("Shape"),
    "length_m": _l("Length (m)"),
    "width_m": _l("Width (m)"),
    "radius_m": _l("Radius (m)"),
    "size_m2": _l("Quadrat size (m²)"),
    "number": _l("Number"),
    "records": _l("Records"),
    "new": _l("New"),
    "remove": _l("Remove"),
    "action": _l("Action"),
    # Records and their lists
    "client_uuid": _l("Record ID (client_uuid)"),
    "altitude_m": _l("Altitude (m)"),
    "position_source": _l("Position from"),
    "geometry": _l("Outline"),
    "bbox": _l("Map box"),
    "flag": _l("Flag"),
    "format": _l("Format"),
    "from": _l("From"),
    "from_": _l("From"),
    "to": _l("To"),
    "date_from": _l("First day"),
    "date_to": _l("Last day"),
    "on": _l("Day"),
    "due_before": _l("Due before"),
    "per_page": _l("Per page"),
    "quick": _l("Short form"),
    "scope": _l("Whose"),
    "status": _l("Status"),
    "statuses": _l("Review statuses"),
    "overdue": _l("Overdue"),
    "organization": _l("Organization"),
    "surveyor_id": _l("Surveyor"),
    "operator_id": _l("Operator"),
    "control_operation_id": _l("Control operation"),
    "observation": _l("Record"),
    "campaign": _l("Survey campaign"),
    "township": _l("Township"),
    "species": _l("Species"),
    "stage": _l("Before or after"),
    "note": _l("Note"),
    "zoom": _l("Zoom"),
    "min_zoom": _l("Smallest zoom"),
    "max_zoom": _l("Largest zoom"),
    "area": _l("Area to save"),
    "report": _l("Report"),
    "unread": _l("Unread only"),
    "id": _l("Item"),
    "ids": _l("Items"),
    # People and organizations
    "username": _l("User name"),
    "password": _l("Password"),
    "current_password": _l("Current password"),
    "new_password": _l("New password"),
    "confirm": _l("New password again"),
    "display_name": _l("Name shown"),
    "email": _l("E-mail"),
    "role": _l("Role"),
    "active": _l("Active"),
    "locale": _l("Language"),
    "parent": _l("Reports to"),
    "code": _l("Code"),
    "url": _l("Address (URL)"),
    "secret": _l("Signing secret"),
    # Species and lists
    "group": _l("Group"),
    "include_retired": _l("Include retired species"),
    "list": _l("Species list"),
    "like": _l("Copy from species"),
    "aliases": _l("Other names"),
    "names_en": _l("English names"),
    "pinyin": _l("Pinyin"),
    "synonyms": _l("Synonyms"),
    "census_categories": _l("Census categories"),
    "short_name": _l("Short name"),
    "published_on": _l("Published on"),
    "added_on": _l("Added on"),
    "removed_on": _l("Removed on"),
    "name_as_listed": _l("Name as listed"),
    "row": _l("Row"),
    # The imports page's form (its inputs are prefixed: two forms share the page)
    "import-file": _l("File"),
    "import-bureau": _l("Bureau"),
}


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown (`translated`)."""
    return message


# marshmallow's own messages ("Not a valid integer.") are English, and it ships no catalogue: each is
# translated here, its values kept ("Must be greater than or equal to 0." → "必须大于或等于 0。"), when an
# error is answered. The longer patterns come first (a range's two ends before one end).
_BUILTIN_MESSAGES: tuple[str, ...] = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Invalid JSON body."),  # webargs's, for a body that is not JSON
    N_("Invalid input."),
    N_("Unknown field."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid boolean."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid UUID."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid period of time."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("String does not match expected pattern."),
    N_('"%(input)s" cannot be formatted as a date.'),
    N_('"%(input)s" cannot be formatted as a datetime.'),
    N_("Must be one of: %(choices)s."),
    N_("Must be equal to %(other)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
)


def _builtin_pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", msgid)  # text, name, text, name, ..., text
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)) + "$"
    )


_BUILTIN_PATTERNS = tuple((_builtin_pattern(m), m) for m in _BUILTIN_MESSAGES)


def translated(message: str) -> str:
    """A marshmallow message in the reader's language (any other message is returned as it is)."""
    for pattern, msgid in _BUILTIN_PATTERNS:
        found = pattern.match(message)
        if found:
            return _(msgid, **found.groupdict())
    return message


def field_label(name: str, labels: dict[str, str] | None = None) -> str:
    """A field's name as the user sees it: given labels first (a method's own fields), then the
    table above (a nested "observation.density_per_m2" by its path without list indexes, then by its
    last part), else the key itself."""
    if labels and name in labels:
        return labels[name]
    # "units.0.due_on" → "units.due_on", then "due_on"; an item as a whole ("points.4._schema") by its list.
    path = [part for part in name.split(".") if not part.isdigit()]
    if len(path) > 1 and path[-1] == "_schema":
        path.pop()
    for key in (name, ".".join(path), path[-1] if path else name):
        if key in FIELD_LABELS:
            return str(FIELD_LABELS[key])
    return name


def invalid_fields_message(errors: FieldErrors, labels: dict[str, str] | None = None) -> str:
    """ "Invalid value for: 卵块密度, 时间" — the fields at fault by their labels, in the user's language."""
    names = sorted(errors)[:10]  # a hostile body may name thousands: the answer stays short
    fields = _(", ").join(dict.fromkeys(field_label(n, labels)[:MAX_FIELD_NAME_CHARS] for n in names))
    return _("Invalid value for: %(fields)s", fields=fields + (" …" if len(errors) > 10 else ""))
