"""Url-encoded forms bound memory before they are split (docs/contract.md §6): Werkzeug reads such a body
whole and splits it with no limit of its own, and the CSRF check reads the form before sign-in, so 25 MB
of `a=&a=&…` to /sign-in cost 30 s of CPU and 500 MB. Now more than MAX_URLENCODED_FIELDS fields or
MAX_URLENCODED_BYTES bytes answer 413 before anything is split."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from app.api import MAX_URLENCODED_BYTES, MAX_URLENCODED_FIELDS

FORM = "application/x-www-form-urlencoded"


def test_a_form_of_too_many_fields_is_413_before_sign_in(client: FlaskClient) -> None:
    body = "&".join(["a="] * (MAX_URLENCODED_FIELDS + 1))  # about 150 kB
    assert client.post("/sign-in", data=body, content_type=FORM).status_code == 413


def test_a_form_too_large_is_413_before_sign_in(client: FlaskClient) -> None:
    body = "username=" + "x" * MAX_URLENCODED_BYTES
    assert client.post("/sign-in", data=body, content_type=FORM).status_code == 413


def test_a_signed_in_page_form_is_bounded_too(web_as: Any) -> None:
    web = web_as("supervisor")
    body = f"csrf_token={web.csrf}&" + "&".join(["units-0-code="] * (MAX_URLENCODED_FIELDS + 1))
    answer = web.client.post("/campaigns/new", data=body, content_type=FORM)
    assert answer.status_code == 413
