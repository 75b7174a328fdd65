"""One error hierarchy for services, one envelope for the API, real pages for the browser.

Services raise `ServiceError` subclasses; they know nothing about HTTP beyond the status each maps to.
Every error an API client can see has the docs/contract.md §3.2 shape:

    {"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging
import re
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from app import metrics

log = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]


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


class ServiceError(Exception):
    """A business rule refused the request. `errors` names the fields at fault."""

    status_code = 400

    def __init__(
        self, message: str, errors: FieldErrors | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


class InvalidInput(ServiceError):
    status_code = 422

    @classmethod
    def field(cls, name: str, message: str) -> InvalidInput:
        return cls(
            _("Invalid value for %(field)s: %(message)s", field=field_label(name), message=message),
            {name: [message]},
        )


class AuthenticationFailed(ServiceError):
    status_code = 401


class PermissionDenied(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Gone(ServiceError):
    status_code = 410


class PreconditionFailed(ServiceError):
    """A change made from an old read: the request's If-Match no longer names the resource as it is."""

    status_code = 412


class TooLarge(ServiceError):
    status_code = 413


class RateLimited(ServiceError):
    status_code = 429


class ErrorEnvelopeSchema(ma.Schema):
    """The body of every API error (documentation only)."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "Messages by field name"},
    )


# However many fields a request got wrong, the answer names a bounded number of them, with bounded
# names: a request must not be able to make its answer many times its own size.
MAX_ERROR_FIELDS = 50
MAX_FIELD_NAME_CHARS = 80


def _bounded_errors(errors: FieldErrors) -> FieldErrors:
    if len(errors) <= MAX_ERROR_FIELDS and all(len(name) <= MAX_FIELD_NAME_CHARS for name in errors):
        return errors
    bounded: FieldErrors = {}
    for name, messages in list(errors.items())[:MAX_ERROR_FIELDS]:
        bounded.setdefault(name[:MAX_FIELD_NAME_CHARS], []).extend(messages[:5])
    if len(errors) > MAX_ERROR_FIELDS:
        bounded["_more"] = [_("%(n)d more fields are not valid.", n=len(errors) - MAX_ERROR_FIELDS)]
    return bounded


def envelope(code: int, message: str, errors: FieldErrors | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "message": message,
        "errors": _bounded_errors(errors or {}),
    }


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _flatten_webargs_messages(messages: Any) -> FieldErrors:
    """webargs nests messages by location ({"json": {"name": [...]}}); clients want them by field."""
    flat: FieldErrors = {}
    if not isinstance(messages, dict):
        return {"_request": [str(messages)]}
    for location, value in messages.items():
        if isinstance(value, dict):
            for field, field_messages in value.items():
                flat.setdefault(str(field), []).extend(_as_messages(field_messages))
        else:
            flat.setdefault(str(location), []).extend(_as_messages(value))
    return flat


def _as_messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [translated(m if isinstance(m, str) else str(m)) for m in value]
    if isinstance(value, dict):  # nested schema: keep the path readable
        return [f"{k}: {', '.join(_as_messages(v))}" for k, v in value.items()]
    return [translated(str(value))]


def _http_message(error: HTTPException, errors: FieldErrors) -> str:
    if isinstance(error, CSRFError):
        return _("The form has expired or did not come from this site; reload the page and try again.")
    if error.code == 422 and errors:
        return invalid_fields_message(errors)
    if error.code == 400 and "json" in errors:
        return _("The request body is not valid JSON.")
    messages = {
        400: _("The request could not be understood."),
        401: _("Sign in required."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("Method not allowed here."),
        413: _("The request body is too large."),
        415: _("Unsupported media type."),
        429: _("Too many requests; wait and try again."),
        500: _("Something went wrong on our side; it has been logged."),
    }
    return messages.get(error.code or 500, error.description or error.name)


def upload_fields() -> tuple[str, ...]:
    """The file fields (`location="files"` arguments) of the operation the current request reached; () when
    it takes no upload or matched no endpoint. Read from what flask-smorest's `arguments` recorded on the
    view, so that a new upload endpoint is covered without being listed anywhere."""
    rule = request.url_rule
    view = current_app.view_functions.get(rule.endpoint) if rule is not None else None
    view_class = getattr(view, "view_class", None)
    operation = getattr(view_class, request.method.lower(), None) if view_class is not None else view
    arguments = getattr(operation, "_apidoc", {}).get("arguments", {})
    fields: list[str] = []
    for parameter in arguments.get("parameters", []):
        if parameter.get("in") == "files":
            schema = parameter["schema"]
            fields.extend((schema() if isinstance(schema, type) else schema).fields)
    return tuple(fields)


def _upload_too_large(error: HTTPException) -> str | None:
    """What to say about an upload larger than MAX_CONTENT_LENGTH (IAS_MAX_UPLOAD_MB), with the limit;
    None for any other error (a 413 for a form with too many parts, a JSON body with too many values).

    Werkzeug refuses such a body before anything reads it, so no view can say which file was too big: a
    surveyor's 40 MB photo would otherwise get "the request body is too large" and nothing to fix."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not isinstance(error, RequestEntityTooLarge) or not limit or request.mimetype != "multipart/form-data":
        return None
    if request.content_length is not None and request.content_length <= limit:
        return None  # within the limit: refused for another reason
    return _("The file is larger than %(mb)s MB, the most one upload may be.", mb=f"{limit / 2**20:g}")


def handle_http_exception(error: HTTPException) -> tuple[Any, int] | tuple[Any, int, dict[str, str]]:
    code = error.code or 500
    too_large = _upload_too_large(error)
    if not _is_api_request():
        message = too_large or _http_message(error, {})
        return render_template("errors/error.html", code=code, message=message), code
    data = getattr(error, "data", None) or {}
    errors = _flatten_webargs_messages(data["messages"]) if "messages" in data else {}
    if isinstance(error, CSRFError):
        errors = {"X-CSRFToken": [error.description or "CSRF token missing"]}
    if too_large and not errors:
        # Named as a field refusal is (docs/contract.md §6: a clear 4xx naming the field): the file
        # field(s) of the endpoint, or `file`, the name every upload of the API uses.
        errors = {name: [too_large] for name in upload_fields() or ("file",)}
        data = {**data, "message": too_large}
    message = data.get("message") or _http_message(error, errors)
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return jsonify(envelope(code, message, errors)), code, headers


def handle_service_error(error: ServiceError) -> tuple[Any, int, dict[str, str]]:
    if not _is_api_request():
        return (
            render_template("errors/error.html", code=error.status_code, message=error.message),
            error.status_code,
            error.headers,
        )
    return (
        jsonify(envelope(error.status_code, error.message, error.errors)),
        error.status_code,
        error.headers,
    )


def handle_unexpected(error: Exception) -> Any:
    """Anything not foreseen: log it with its traceback, tell the client only that it happened."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("Unhandled error on %s %s", request.method, request.path, exc_info=error)
    return handle_http_exception(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's Api, so these replace its JSON-for-everything handler.
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(Exception, handle_unexpected)
