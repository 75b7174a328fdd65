"""Every input a client controls is named in the user's language when it is refused (docs/contract.md §6):
each field of every request schema (the API's `…Args` and `…Query`, the pages' `…Form`) has a label in
app/errors.py, and a nested field is named by its path without list indexes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask_babel import force_locale

import app as app_package
from app.messages import field_label


def _request_schemas() -> list[type[ma.Schema]]:
    found: dict[str, type[ma.Schema]] = {}
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        loaded = importlib.import_module(module.name)
        for name, obj in vars(loaded).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, ma.Schema)
                and obj.__module__ == loaded.__name__
                and re.search(r"(Args|Form|Query)$", name)
            ):
                found[f"{obj.__module__}.{name}"] = obj
    return [found[key] for key in sorted(found)]


def test_every_request_field_has_a_label(app: Flask) -> None:
    schemas = _request_schemas()
    assert len(schemas) > 50  # the walk found them
    unnamed = {
        f"{schema.__name__}.{key}"
        for schema in schemas
        for name, field in schema().load_fields.items()
        for key in {name, field.data_key or name}
        if field_label(key) == key
    }
    assert unnamed == set()


@pytest.mark.parametrize(
    ("key", "chinese"),
    [
        ("units.0.due_on", "到期日"),  # a campaign unit's, not a re-inspection's (应复查日期)
        ("units.3.assignee_id", "单元负责人"),
        ("due_on", "应复查日期"),
        ("species_ids.0", "目标物种"),
        ("points.4._schema", "轨迹点"),  # a point that is not an object: the list is named
        ("_schema", "请求体"),
        ("observation.density_per_m2", "密度（每平方米）"),
    ],
)
def test_a_nested_field_is_named_by_its_path(app: Flask, key: str, chinese: str) -> None:
    with app.test_request_context(), force_locale("zh"):
        assert field_label(key) == chinese


def test_a_campaign_refused_names_its_fields_in_chinese(api_as: Any) -> None:
    supervisor = api_as("supervisor")
    answer = supervisor.post(
        "/api/v1/campaigns",
        json={"name": "春季普查", "kind": "foo", "starts_on": "2026-05-01", "ends_on": "2026-05-31"},
        headers={"Accept-Language": "zh"},
    )
    assert answer.status_code == 422
    assert answer.get_json()["message"] == "以下字段无效：类型、目标物种"
