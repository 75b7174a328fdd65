"""How pages read their input (app/pages.py): a schema through webargs, blanks left out, errors by field."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from flask import Flask

from app import pages
from app.errors import InvalidInput


class FilterArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(["pending", "done"]))
    count = ma.fields.Integer(validate=ma.validate.Range(min=1))
    names = ma.fields.List(ma.fields.String())


def test_read_the_query_string(app: Flask) -> None:
    with app.test_request_context("/x?status=done&count=3&page=2&csrf_token=t&names=a&names=b"):
        assert pages.read(FilterArgs) == ({"status": "done", "count": 3, "names": ["a", "b"]}, {})


def test_blank_inputs_are_not_given(app: Flask) -> None:
    with app.test_request_context("/x?status=&count=%20%20"):
        assert pages.read(FilterArgs) == ({}, {})


def test_errors_by_field_with_what_did_load(app: Flask) -> None:
    with app.test_request_context("/x?status=lost&count=3"):
        args, errors = pages.read(FilterArgs)
    assert args == {"count": 3}
    assert set(errors) == {"status"} and all(isinstance(m, str) for m in errors["status"])


def test_read_a_posted_form(app: Flask) -> None:
    with app.test_request_context("/x", method="POST", data={"count": "0", "csrf_token": "t"}):
        args, errors = pages.read(FilterArgs, location="form")
    assert args == {} and set(errors) == {"count"}


def test_use_args_gives_the_view_its_input(app: Flask) -> None:
    @pages.use_args(FilterArgs)
    def view(args: dict[str, Any], extra: str) -> tuple[dict[str, Any], str]:
        return args, extra

    with app.test_request_context("/x?count=4"):
        assert view("kept") == ({"count": 4}, "kept")
    with app.test_request_context("/x?count=abc"), pytest.raises(InvalidInput) as refused:
        view("kept")
    assert set(refused.value.errors) == {"count"}


def test_posted_pages_still_need_their_csrf_token(app: Flask, web_as: Any) -> None:
    """Reading forms through schemas does not open a way around the CSRF check of every browser post."""
    web = web_as("surveyor")
    response = web.client.post("/notifications/read", data={})
    assert response.status_code == 400
