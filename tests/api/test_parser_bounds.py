"""Bodies that would exhaust the JSON parser are a 400 naming the body; answers stay small."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest


def _post_raw(api: Any, path: str, body: str) -> Any:
    return api.post(path, data=body, content_type="application/json")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_body(api_as: Any, depth: int) -> None:
    api = api_as("surveyor")
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = _post_raw(api, "/api/v1/observations", body)
        assert response.status_code == 400, response.get_data(as_text=True)[:200]
        answer = response.get_json()
        assert list(answer["errors"]) == ["json"] and "32" in answer["message"]


def test_nesting_the_api_uses_is_accepted_as_before(api_as: Any) -> None:
    api = api_as("surveyor")
    body = json.dumps({"notes": [[[[{"a": [1]}]]]]})  # 7 levels: refused for its content, not its depth
    response = _post_raw(api, "/api/v1/observations", body)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "number", ["9" * 5000, "1" * 4000, "-" + "7" * 40, "1." + "5" * 100, "1e" + "9" * 50]
)
def test_overlong_numbers_are_a_400_naming_the_body(api_as: Any, number: str) -> None:
    api = api_as("surveyor")
    response = _post_raw(api, "/api/v1/observations", '{"density_per_m2": ' + number + "}")
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert list(response.get_json()["errors"]) == ["json"]


def test_unknown_detail_names_are_reported_once_and_capped(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    details = {f"unknown_field_{i:05d}_" + "x" * 200: 1 for i in range(10_000)}
    body = json.dumps(
        {
            "client_uuid": "0b9f1c2e-8d3a-4f5b-9c6d-7e8f9a0b1c2d",
            "observation_id": record["id"],
            "method": "hand_collection",
            "performed_at": datetime.now(UTC).isoformat(),  # after the record, its baseline
            "area_m2": 100,
            "details": details,
        }
    )
    response = _post_raw(surveyor, "/api/v1/control-operations", body)
    assert response.status_code == 422
    answer = response.get_data()
    assert len(answer) < 20_000 < len(body)  # was a multiple of the request
    errors = response.get_json()["errors"]
    assert len(errors) <= 51
    assert all(len(name) <= 80 for name in errors)
    assert sum(1 for name in errors if name.startswith("details.unknown_field")) == 10
    assert "9990" in errors["details"][0]  # the rest counted in one message


def test_many_unknown_top_level_fields_do_not_grow_the_answer(api_as: Any) -> None:
    api = api_as("surveyor")
    body = json.dumps({f"field_{i}_" + "y" * 300: 1 for i in range(5000)})
    response = _post_raw(api, "/api/v1/observations", body)
    assert response.status_code == 422
    assert len(response.get_data()) < 20_000 < len(body)
