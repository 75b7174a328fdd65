"""API-wide plumbing: the field types and request checks shared by every domain's api.py (the list
envelope and pagination: app/paging.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import IO, Any, NoReturn

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Request, request
from flask_babel import gettext as _
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from app.clock import local_zone
from app.errors import upload_fields

# The list envelope and pagination live in app/paging.py (one pager for the API and the pages).
from app.paging import MAX_PER_PAGE as MAX_PER_PAGE
from app.paging import PageArgs as PageArgs
from app.paging import page_of as page_of
from app.paging import paginate as paginate

# Row ids are 32-bit INTEGER keys: a larger id names nothing. It is refused (404 in a path, 422 in a
# field) before it reaches the database, whose driver would overflow on it (SQLite: a 500).
MAX_ID = 2**31 - 1
ID_RANGE = ma.validate.Range(min=1, max=MAX_ID)


# Days and times a client may send: wide enough for any record, narrow enough that converting zones
# or adding a day can never overflow Python's datetime (year 1 or 9999 would, as a 500).
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2199, 12, 31)


def _out_of_range() -> ma.ValidationError:
    return ma.ValidationError(
        _(
            "must be between %(first)s and %(last)s",
            first=EARLIEST_DAY.isoformat(),
            last=LATEST_DAY.isoformat(),
        )
    )


class LocalDateTime(ma.fields.DateTime):
    """ISO 8601 in and out. A time sent without an offset is local (Asia/Shanghai, docs/contract.md §3.2);
    it is kept as UTC and shown with the local offset (2026-05-04T09:30:00+08:00)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_DAY <= parsed.date() <= LATEST_DAY:
            raise _out_of_range()
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=local_zone())
        return parsed.astimezone(dt.UTC)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | float | None:
        if value is None:
            return None
        return super()._serialize(value.astimezone(local_zone()), attr, obj, **kwargs)


class WorkDay(ma.fields.Date):
    """A calendar day a client sends (filters, due dates), within the range every computation can take."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_DAY <= parsed <= LATEST_DAY:
            raise _out_of_range()
        return parsed


class ErrorResponsesPlugin(BasePlugin):
    """Document, on every operation, the errors the API-wide checks can answer with (the envelope of
    docs/contract.md §3.2)."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        error = {"$ref": "#/components/responses/DEFAULT_ERROR"}
        for operation in (operations or {}).values():
            codes: list[int] = []
            if operation.get("security") != []:
                codes += [401, 403]
            if "requestBody" in operation or operation.get("parameters"):
                codes.append(400)
            if "requestBody" in operation:
                codes += [413, 415]
            if path and "{" in path:
                codes.append(404)
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, error)


JSON_OR_FORM = ("application/json", "multipart/form-data")


def _refuse(code: int, location: str, errors: Any, *, message: str | None = None) -> NoReturn:
    """Answer a request-wide check's refusal: the error envelope (app/errors.py) with `errors` under
    the part of the request at fault (`json`, `headers` …), and `message`, or the status's own."""
    abort(code, message=message, messages={location: errors})
    raise AssertionError("abort raises")  # pragma: no cover - flask-smorest's abort is not typed NoReturn


def _send_as_file(field: str) -> str:
    return _(
        "Send the file as multipart/form-data, in the field %(field)s, as a file part with a file name.",
        field=field,
    )


def _require_known_body_type() -> None:
    """415 for a body the API cannot read, instead of treating it as missing fields. An upload endpoint
    says which field the file goes in, rather than asking for JSON."""
    if not request.path.startswith("/api/") or request.method not in {"POST", "PUT", "PATCH"}:
        return
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    mimetype = request.mimetype
    file_fields = upload_fields()
    if file_fields and has_body and mimetype != "multipart/form-data":
        _refuse(
            415,
            "files",
            {field: [_send_as_file(field)] for field in file_fields},
            message=_send_as_file(file_fields[0]),
        )
    if has_body and not (mimetype in JSON_OR_FORM or mimetype.endswith("+json")):
        _refuse(
            415,
            "headers",
            {"Content-Type": [_("%(type)s is not accepted here.", type=mimetype or "none")]},
            message=_("Send the body as JSON (Content-Type: application/json)."),
        )


def _refuse_files_sent_as_text() -> None:
    """422 naming the field for a file sent as a text field (no file name): otherwise it is "missing", or
    its bytes are judged as text."""
    if not request.path.startswith("/api/") or request.mimetype != "multipart/form-data":
        return
    as_text = [field for field in upload_fields() if field in request.form and field not in request.files]
    if as_text:
        _refuse(
            422,
            "files",
            {field: [_send_as_file(field)] for field in as_text},
            message=_send_as_file(as_text[0]),
        )


def _refuse_impossible_ids() -> None:
    """404 for an id in the path that no row can have (pages as well as the API)."""
    if any(isinstance(value, int) and value > MAX_ID for value in (request.view_args or {}).values()):
        abort(404)


def _storable(text: str) -> bool:
    """PostgreSQL cannot store NUL, and no database an unpaired surrogate (JSON can send both)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable_fields(value: Any, name: str = "") -> Iterator[str]:
    """The (dotted) names of the fields whose text, or key, cannot be stored."""
    if isinstance(value, str):
        if not _storable(value):
            yield name or "_request"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{name}.{key}" if name else str(key)
            if isinstance(key, str) and not _storable(key):
                yield child
            else:
                yield from _unstorable_fields(item, child)
    elif isinstance(value, list):
        for item in value:
            yield from _unstorable_fields(item, name)


def _refuse_unstorable_text() -> None:
    """422 naming the field for text no database column can hold, instead of a 500 when it is
    written (or, on PostgreSQL, even compared). In the path such text names nothing: 404. Pages'
    forms are checked too (the browser gets the 422 error page)."""
    if any(isinstance(value, str) and not _storable(value) for value in (request.view_args or {}).values()):
        abort(404)
    sent: dict[str, Any] = {"query": request.args.to_dict(flat=False)}
    if request.method in {"POST", "PUT", "PATCH"}:
        if _PARSED_BODY in request.environ:  # parsed once already, by `_refuse_unbounded_json`
            sent["body"] = request.environ[_PARSED_BODY]
        else:
            sent["body"] = (
                request.get_json(silent=True) if request.is_json else request.form.to_dict(flat=False)
            )
        sent["files"] = {name: upload.filename for name, upload in request.files.items()}
    fields = sorted({field for location in sent.values() for field in _unstorable_fields(location)})
    if fields:
        message = _("must not contain NUL characters or unpaired surrogates")
        _refuse(422, "json", {field: [message] for field in fields})


# JSON the API reads is small and shallow (a few levels, numbers that fit 64 bits or a double); these
# bounds stop a body that would exhaust the parser (deep nesting is recursion, long numbers are
# quadratic to convert) long before the body-size limit would.
MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_CHARS = 32
# Values (arrays, objects and the items between commas) a body may hold. Parsed JSON costs some 50-100
# bytes of memory per value, so 25 MB of `[[],[],…]` (the upload limit) was over a gigabyte and a minute of
# CPU, before sign-in for POST /api/v1/auth/tokens. The largest real body, a 50,000-point route, has about
# 300,000; commas and brackets inside strings count too (no text a client sends has thousands).
MAX_JSON_VALUES = 600_000


# The JSON body as `_refuse_unbounded_json` parsed it, for the next check (one parse a request, not two).
_PARSED_BODY = "ias.api.parsed_json"


class _JsonTooComplex(ValueError):
    pass


def _bounded(convert: Any) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_JSON_NUMBER_CHARS:
            raise _JsonTooComplex(
                _("The request body has a number longer than %(n)d characters.", n=MAX_JSON_NUMBER_CHARS)
            )
        return convert(text)

    return parse


_BOUNDED_INT, _BOUNDED_FLOAT = _bounded(int), _bounded(float)


def _refuse_too_deep() -> NoReturn:
    # Translated only when refused: looking up the translation costs more than the rest of this check.
    too_deep = _("The request body is nested deeper than %(n)d levels.", n=MAX_JSON_DEPTH)
    _refuse(400, "json", [too_deep], message=too_deep)


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def _refuse_unbounded_json() -> None:
    """400 naming the body for JSON nested deeper than MAX_JSON_DEPTH or with a number longer than
    MAX_JSON_NUMBER_CHARS, instead of a 500 from the parser; 413 for more than MAX_JSON_VALUES values,
    counted before it is parsed (run before anything reads the body)."""
    if request.method not in {"POST", "PUT", "PATCH", "DELETE"} or not request.is_json:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    if data.count(b",") + data.count(b"[") + data.count(b"{") > MAX_JSON_VALUES:  # before parsing it
        too_many = _("The request body holds more than %(n)s values.", n=MAX_JSON_VALUES)
        _refuse(413, "json", [too_many], message=too_many)
    try:
        value = json.loads(data, parse_int=_BOUNDED_INT, parse_float=_BOUNDED_FLOAT)
    except _JsonTooComplex as exc:
        _refuse(400, "json", [str(exc)], message=str(exc))
    except RecursionError:
        _refuse_too_deep()
    except ValueError:  # not JSON at all: the usual 400 says so
        return
    if _too_deep(value):
        _refuse_too_deep()
    request.environ[_PARSED_BODY] = value  # what request.get_json() would parse again (the same values)


# A form posted url-encoded is read whole and split by Werkzeug with no limit of its own (its
# max_form_memory_size and max_form_parts bound multipart forms only): 25 MB of `a=&a=&…` cost 30 s of CPU
# and 500 MB before sign-in, since the CSRF check reads the form first. The largest real one, a campaign's
# plan with a row per village, is some tens of kilobytes and a few thousand fields.
MAX_URLENCODED_BYTES = 4 * 1024 * 1024
MAX_URLENCODED_FIELDS = 50_000


class _BoundedFormParser(FormDataParser):
    def _parse_urlencoded(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> Any:
        data = stream.read(MAX_URLENCODED_BYTES + 1)
        if len(data) > MAX_URLENCODED_BYTES or data.count(b"&") >= MAX_URLENCODED_FIELDS:
            raise RequestEntityTooLarge()
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length, options)


class BoundedRequest(Request):
    """Flask's request, whose url-encoded form is bounded before it is split (413 beyond)."""

    form_data_parser_class = _BoundedFormParser


def register_api_checks(app: Flask) -> None:
    app.request_class = BoundedRequest
    app.before_request(_refuse_unbounded_json)
    app.before_request(_require_known_body_type)
    app.before_request(_refuse_impossible_ids)
    app.before_request(_refuse_files_sent_as_text)
    app.before_request(_refuse_unstorable_text)
