"""API-wide plumbing: the list envelope, pagination and request checks shared by every domain's api.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from apispec import BasePlugin
from flask import Flask, request
from flask_babel import gettext as _
from flask_smorest import abort

from app.clock import local_zone
from app.extensions import db

MAX_PER_PAGE = 500


class PageArgs(ma.Schema):
    """`page` and `per_page` (≤ 500), taken by every list endpoint."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))


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
    """ISO 8601 in and out. A time sent without an offset is local (Asia/Shanghai, SPEC §3.2);
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


_page_schemas: dict[str, type[ma.Schema]] = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope {"items", "total", "page", "per_page"} around `item_schema` (one class per type)."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(
            name,
            (ma.Schema,),
            {
                "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
                "total": ma.fields.Integer(required=True),
                "page": ma.fields.Integer(required=True),
                "per_page": ma.fields.Integer(required=True),
            },
        )
    return _page_schemas[name]


def paginate(stmt: sa.Select[Any], *, page: int, per_page: int) -> dict[str, Any]:
    """Run `stmt` for one page: two queries (count, rows) whatever the page size."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique().all()
    return {"items": items, "total": total or 0, "page": page, "per_page": per_page}


class ErrorResponsesPlugin(BasePlugin):
    """Document, on every operation, the errors the API-wide checks can answer with (SPEC §3.2 envelope)."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        error = {"$ref": "#/components/responses/DEFAULT_ERROR"}
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            if operation.get("security") != []:
                responses.setdefault(401, error)
                responses.setdefault(403, error)
            if "requestBody" in operation or operation.get("parameters"):
                responses.setdefault(400, error)
            if "requestBody" in operation:
                responses.setdefault(413, error)
                responses.setdefault(415, error)
            if path and "{" in path:
                responses.setdefault(404, error)


JSON_OR_FORM = ("application/json", "multipart/form-data")


def _require_known_body_type() -> None:
    """415 for a body the API cannot read, instead of treating it as missing fields."""
    if not request.path.startswith("/api/") or request.method not in {"POST", "PUT", "PATCH"}:
        return
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    mimetype = request.mimetype
    if has_body and not (mimetype in JSON_OR_FORM or mimetype.endswith("+json")):
        abort(
            415,
            message=_("Send the body as JSON (Content-Type: application/json)."),
            messages={
                "headers": {"Content-Type": [_("%(type)s is not accepted here.", type=mimetype or "none")]}
            },
        )


def register_api_checks(app: Flask) -> None:
    app.before_request(_require_known_body_type)
