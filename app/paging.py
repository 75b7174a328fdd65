"""One pager for the API's lists and the pages' lists: a query run for one page, in two statements.

The API takes `page` and `per_page` (PageArgs, ≤ MAX_PER_PAGE) and answers the envelope
{"items", "total", "page", "per_page"} (page_of); a page takes `?page=` (PageNumberArgs, read through
app/pages.py like every page's input: page_number, or a list's filter schema built on it) and shows
PAGE_SIZE rows with the pager links of app/templates/_paging.html (page_links: the list's URL with the
filters it loaded, never the query text as sent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import request, url_for
from flask_babel import lazy_gettext as _l

from app import pages
from app.extensions import db

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # the highest page number taken: a larger one is refused, never an offset overflow
PAGE_SIZE = 25  # rows on a browser page


def _page_field() -> ma.fields.Integer:
    message = _l("must be a whole number from 1 to %(max)s", max=MAX_PAGE)
    return ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_PAGE, error=message),
        error_messages={"invalid": message},
    )


class PageNumberArgs(ma.Schema):
    """`?page=` of a browser page's list; a list's filter schema extends it, so one read takes both."""

    page = _page_field()


class PageArgs(PageNumberArgs):
    """`page` and `per_page` (≤ 500), taken by every list endpoint."""

    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))


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


class Page(dict[str, Any]):
    """One page of a list: the API's envelope {"items", "total", "page", "per_page"} (a dict, as the list
    schemas dump it and templates read it: `page["items"]`, `page.total`), and what a pager needs."""

    def __init__(self, *, items: Sequence[Any], total: int, page: int, per_page: int) -> None:
        super().__init__(items=items, total=total, page=page, per_page=per_page)

    @property
    def pages(self) -> int:
        """How many pages the list fills (at least one, empty or not)."""
        return max((self["total"] + self["per_page"] - 1) // self["per_page"], 1)

    @property
    def has_previous(self) -> bool:
        return bool(self["page"] > 1)

    @property
    def has_next(self) -> bool:
        return bool(self["page"] < self.pages)


def empty(per_page: int = PAGE_SIZE) -> Page:
    """The first page of nothing (a page whose filters were refused shows it)."""
    return Page(items=[], total=0, page=1, per_page=per_page)


def paginate(stmt: sa.Select[Any], *, page: int, per_page: int) -> Page:
    """Run `stmt` for one page: two queries (count, rows) whatever the page size."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique().all()
    return Page(items=items, total=total or 0, page=page, per_page=per_page)


def page_number() -> int:
    """The `?page=` of a browser page without filters: 1 when missing; InvalidInput naming the page
    number when it is not a whole number from 1 to MAX_PAGE (a 422 page, app/errors.py)."""
    return int(pages.load(PageNumberArgs)["page"])


def page_links(
    args: dict[str, Any] | None = None, schema: type[ma.Schema] | None = None
) -> Callable[[int], str]:
    """`page_url(n)` for the pager: this list's URL for page n, with the filters `schema` loaded (`args`)
    written back by the same schema, so a link carries only what the page accepted."""
    kept = {
        name: value
        for name, value in (schema().dump(args) if schema and args else {}).items()
        if name != "page" and value is not None
    }
    endpoint, view_args = request.endpoint or "", dict(request.view_args or {})
    return lambda page: url_for(endpoint, **view_args, **kept, page=page)
