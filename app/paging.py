"""One pager for the API's lists and the pages' lists: a query run for one page, in two statements.

The API takes `page` and `per_page` (PageArgs, ≤ MAX_PER_PAGE) and answers the envelope
{"items", "total", "page", "per_page"} (page_of); a page takes `?page=` (page_number) and shows
PAGE_SIZE rows with the pager links of app/templates/_paging.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import request

from app.extensions import db

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # a larger page number is read as this one (an empty page), never an overflow
PAGE_SIZE = 25  # rows on a browser page


class PageArgs(ma.Schema):
    """`page` and `per_page` (≤ 500), taken by every list endpoint."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
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
    """The `?page=` of a browser page: 1 when missing or not a number, kept within 1 … MAX_PAGE."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), MAX_PAGE)
