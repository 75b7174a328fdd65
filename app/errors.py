"""One error hierarchy for services, one envelope for the API, real pages for the browser.

Services raise `ServiceError` subclasses; they know nothing about HTTP beyond the status each maps to.
Every error an API client can see has the docs/contract.md §3.2 shape:

    {"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

import marshmallow as ma
from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from app import messages as wording
from app.messages import MAX_FIELD_NAME_CHARS, field_label, invalid_fields_message, translated

log = logging.getLogger(__name__)

# A refusal's `errors` object: each field at fault with its messages (app/messages.py words them).
FieldErrors: TypeAlias = wording.FieldErrors


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
