"""One error hierarchy for services, one envelope for the API, real pages for the browser.

Services raise `ServiceError` subclasses; they know nothing about HTTP beyond the status each maps to.
Every error an API client can see has the docs/contract.md §3.2 shape:

    {"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from app import metrics

log = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]


# What the forms call the fields the API names, so that a message says "卵块密度" and not
# "egg_masses_per_m2"; the `errors` object keeps the keys, for programs.
FIELD_LABELS: dict[str, Any] = {
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
    "q": _l("Search species"),
    "lang": _l("Language"),
    "name_zh": _l("Chinese name"),
    "name_sci": _l("Scientific name"),
}


def field_label(name: str, labels: dict[str, str] | None = None) -> str:
    """A field's name as the user sees it: given labels first (a method's own fields), then the
    table above (a nested "observation.density_per_m2" by its last part), else the key itself."""
    if labels and name in labels:
        return labels[name]
    for key in (name, name.rsplit(".", 1)[-1]):
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
        return [m if isinstance(m, str) else str(m) for m in value]
    if isinstance(value, dict):  # nested schema: keep the path readable
        return [f"{k}: {', '.join(_as_messages(v))}" for k, v in value.items()]
    return [str(value)]


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


def handle_http_exception(error: HTTPException) -> tuple[Any, int] | tuple[Any, int, dict[str, str]]:
    code = error.code or 500
    if not _is_api_request():
        return render_template("errors/error.html", code=code, message=_http_message(error, {})), code
    data = getattr(error, "data", None) or {}
    errors = _flatten_webargs_messages(data["messages"]) if "messages" in data else {}
    if isinstance(error, CSRFError):
        errors = {"X-CSRFToken": [error.description or "CSRF token missing"]}
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
