"""The one pager (app/paging.py) and its links (app/templates/_paging.html)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
import sqlalchemy as sa
from flask import render_template_string

from app import pages
from app.accounts.models import Organization
from app.errors import InvalidInput
from app.extensions import db
from app.paging import (
    MAX_PAGE,
    PAGE_SIZE,
    Page,
    PageArgs,
    PageNumberArgs,
    empty,
    page_links,
    page_number,
    paginate,
)


def test_a_page_is_the_api_envelope_and_knows_its_neighbours() -> None:
    page = Page(items=[1, 2], total=51, page=2, per_page=25)
    assert page == {"items": [1, 2], "total": 51, "page": 2, "per_page": 25}
    assert page.pages == 3 and page.has_previous and page.has_next
    last = Page(items=[1], total=51, page=3, per_page=25)
    assert not last.has_next
    assert empty().pages == 1 and empty() == {"items": [], "total": 0, "page": 1, "per_page": PAGE_SIZE}
    assert not empty().has_previous and not empty().has_next


def test_paginate_counts_and_slices(app: Any) -> None:
    stmt = sa.select(Organization).order_by(Organization.code)
    everything = list(db.session.scalars(stmt))
    assert len(everything) >= 2
    first = paginate(stmt, page=1, per_page=1)
    second = paginate(stmt, page=2, per_page=1)
    assert first["total"] == second["total"] == len(everything)
    assert first["items"] == everything[:1] and second["items"] == everything[1:2]
    beyond = paginate(stmt, page=MAX_PAGE, per_page=1)
    assert beyond["items"] == [] and beyond["total"] == len(everything)


def test_page_number_from_the_query_string(app: Any) -> None:
    for query, expected in (("", 1), ("page=", 1), ("page=3", 3), (f"page={MAX_PAGE}", MAX_PAGE)):
        with app.test_request_context(f"/x?{query}"):
            assert page_number() == expected, query


@pytest.mark.parametrize("page", ["0", "-2", "abc", "2.5", "99999999999999"])
def test_a_bad_page_number_is_refused_naming_it_in_chinese(app: Any, page: str) -> None:
    with (
        app.test_request_context(f"/x?page={page}", headers={"Accept-Language": "zh"}),
        pytest.raises(InvalidInput) as refused,
    ):
        page_number()
    assert set(refused.value.errors) == {"page"}
    assert "页码" in refused.value.message
    assert f"须为 1 到 {MAX_PAGE} 之间的整数" in refused.value.message


def test_page_links_carry_what_the_schema_loaded(app: Any) -> None:
    class Filters(PageNumberArgs):
        status = ma.fields.String()
        species_id = ma.fields.Integer()

    with app.test_request_context("/observations?status=verified&species_id=07&junk=1&page=2"):
        args = pages.load(Filters)
        link = page_links(args, Filters)
        assert link(3) == "/observations?status=verified&species_id=7&page=3"
        assert page_links()(2) == "/observations?page=2"


def test_api_page_args() -> None:
    assert PageArgs().load({}) == {"page": 1, "per_page": 50}
    errors = PageArgs().validate({"per_page": 501, "page": MAX_PAGE + 1})
    assert set(errors) == {"per_page", "page"}


def test_the_pager_links(app: Any) -> None:
    template = '{% from "_paging.html" import pager %}{{ pager(page, page_url) }}'
    with app.test_request_context("/"):
        html = render_template_string(
            template, page=Page(items=[], total=60, page=2, per_page=25), page_url=lambda n: f"/list?page={n}"
        )
        assert 'rel="prev" href="/list?page=1"' in html and 'rel="next" href="/list?page=3"' in html
        single = render_template_string(template, page=empty(), page_url=lambda n: "")
        assert "<nav" not in single
