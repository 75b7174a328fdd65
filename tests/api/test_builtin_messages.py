"""marshmallow's own messages ("Not a valid integer.") reach a Chinese reader in Chinese, with their values
kept, and an English reader as they are (app/errors.py, `translated`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask_babel import force_locale

from app import pages
from app.messages import translated
from app.pages import PageInputInvalid

BAD_TYPES = {"species_id": "abc", "detected": "maybe", "latitude": "x", "notes": ["a"], "points": 1}


def test_a_chinese_reader_reads_every_field_error_in_chinese(api_as: Any) -> None:
    api = api_as("surveyor")
    response = api.post("/api/v1/observations", json=BAD_TYPES, headers={"Accept-Language": "zh"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["species_id"] == ["不是有效的整数。"]
    assert errors["detected"] == ["不是有效的是/否值（true 或 false）。"]
    assert errors["latitude"] == ["不是有效的数字。"]
    assert errors["notes"] == ["不是有效的文字。"]
    assert errors["observed_at"] == ["必填项，不能缺少。"]
    assert errors["points"] == ["没有这个字段。"]
    assert "Not a valid" not in str(errors) and "Missing data" not in str(errors)


@pytest.mark.parametrize(
    ("body", "status", "message", "errors"),
    [
        ("[1, 2]", 422, "以下字段无效：请求体", {"_schema": ["输入的类型不对。"]}),
        ('"text"', 422, "以下字段无效：请求体", {"_schema": ["输入的类型不对。"]}),
        ("{not json", 400, "请求体不是有效的 JSON。", {"json": ["不是有效的 JSON。"]}),
    ],
)
def test_a_body_that_is_not_a_json_object_is_named_in_chinese(
    api_as: Any, body: str, status: int, message: str, errors: dict[str, list[str]]
) -> None:
    """Not marshmallow's key (`_schema`) nor webargs's English ("Invalid JSON body.")."""
    response = api_as("surveyor").post(
        "/api/v1/observations",
        data=body,
        headers={"Content-Type": "application/json", "Accept-Language": "zh"},
    )
    assert response.status_code == status
    assert response.get_json()["message"] == message
    assert response.get_json()["errors"] == errors


def test_an_english_reader_keeps_marshmallows_words(api_as: Any) -> None:
    api = api_as("surveyor")
    response = api.post("/api/v1/observations", json=BAD_TYPES, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["species_id"] == ["Not a valid integer."]
    assert errors["observed_at"] == ["Missing data for required field."]


def test_a_route_refused_names_its_fields_in_chinese(api_as: Any) -> None:
    api = api_as("surveyor")
    response = api.post("/api/v1/routes", json={"points": "abc"}, headers={"Accept-Language": "zh"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"]["points"] == ["不是有效的列表。"]
    assert body["errors"]["started_at"] == ["必填项，不能缺少。"]
    # The sentence names the fields as the forms do, not by their keys.
    for label in ("轨迹点", "开始时间", "结束时间", "调查任务"):
        assert label in body["message"]


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Must be greater than or equal to 0.", "必须大于或等于 0。"),
        ("Must be greater than 0.", "必须大于 0。"),
        ("Must be less than or equal to 100.", "必须小于或等于 100。"),
        (
            "Must be greater than or equal to 0 and less than or equal to 100.",
            "必须大于或等于 0，且小于或等于 100。",
        ),
        ("Must be greater than 0 and less than 5.", "必须大于 0，且小于 5。"),
        ("Must be greater than or equal to 1 and less than 5.", "必须大于或等于 1，且小于 5。"),
        ("Longer than maximum length 200.", "超过最大长度 200。"),
        ("Must be one of: square, circle.", "必须是以下之一：square, circle。"),
        ('"May" cannot be formatted as a date.', "“May”无法作为日期。"),
        # A message of the app's own is left as it is.
        ("该乡镇不在本区。", "该乡镇不在本区。"),
        ("Not a valid integer, really.", "Not a valid integer, really."),
    ],
)
def test_each_message_keeps_its_values(app: Flask, english: str, chinese: str) -> None:
    with app.test_request_context("/api/v1/observations", headers={"Accept-Language": "zh"}):
        assert translated(english) == chinese


class _PageArgs(ma.Schema):
    count = ma.fields.Integer(validate=ma.validate.Range(min=1, max=9))


@pytest.mark.parametrize(
    ("query", "chinese"), [("count=abc", "不是有效的整数。"), ("count=12", "且小于或等于 9")]
)
def test_a_page_input_says_it_in_chinese(app: Flask, query: str, chinese: str) -> None:
    with (
        app.test_request_context(f"/?{query}"),
        force_locale("zh"),
        pytest.raises(PageInputInvalid) as refused,
    ):
        pages.load(_PageArgs)
    assert chinese in refused.value.errors["count"][0] and chinese in refused.value.message
