"""The exports page reads its two forms through marshmallow schemas (app/pages.py, issue 16 point 5): a
blank, unknown or wrongly typed value is answered 422 with the message beside its field (Chinese by
default), and nothing is queued or imported."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa

from app.exports.models import Export
from app.extensions import db
from app.observations.models import Observation
from tests.accounts.test_page_inputs import beside


def _form(**overrides: Any) -> dict[str, Any]:
    form = {"kind": "census", "bureau": "agriculture", "date_from": "2026-01-01", "date_to": "2026-03-31"}
    return {k: v for k, v in (form | overrides).items() if v is not None}


def _queued() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Export)) or 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": None}, "kind", "该字段是必填字段。"),
        ({"kind": ""}, "kind", "该字段是必填字段。"),
        ({"kind": "everything"}, "kind", "不是有效的选择。"),
        ({"bureau": ""}, "bureau", "该字段是必填字段。"),
        ({"date_from": "2026-13-01"}, "date_from", "不是有效的日期值。"),
        ({"date_to": "1.5"}, "date_to", "不是有效的日期值。"),
        ({"date_from": "2200-01-01"}, "date_from", "应在 1900-01-01 至 2199-12-31 之间"),
        ({"species": "abc"}, "species", "不是有效的选择。"),
        ({"campaign": "999999"}, "campaign", "不是有效的选择。"),
        ({"township": "x" * 500}, "township", "不是有效的选择。"),
        ({"statuses": ["verified", "draft"]}, "statuses", "“draft” 对该字段而言是无效选项。"),
    ],
)
def test_a_bad_export_request_is_422_naming_the_field(
    web_as: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    web = web_as("admin", "agriculture")
    response = web.post("/exports", data=_form(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if field in ("kind", "statuses"):  # radios and checkboxes: the message under the group
        assert f'data-error-for="{field}"' in html and message.split("”")[0] in html
    else:
        assert message in beside(html, field)
    assert _queued() == 0


def test_a_refused_export_request_is_drawn_again_as_sent(web_as: Any) -> None:
    web = web_as("admin", "agriculture")
    sent = _form(kind="control", bureau="forestry", date_from="May", statuses=["submitted"])
    html = web.post("/exports", data=sent).get_data(as_text=True)
    assert '<input checked id="kind-1" name="kind" required type="radio" value="control">' in html
    assert '<option value="forestry" selected>' in html
    assert 'value="May"' in html
    assert '<input checked id="statuses-1" name="statuses" type="checkbox" value="submitted">' in html
    assert '<input id="statuses-0" name="statuses" type="checkbox" value="verified">' in html


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"import-bureau": "agriculture"}, "import-file", "该字段是必填字段。"),
        (
            {"import-bureau": "agriculture", "import-file": (io.BytesIO(b""), "")},
            "import-file",
            "该字段是必填字段。",
        ),
        ({"import-file": (io.BytesIO(b"x"), "census.xlsx")}, "import-bureau", "该字段是必填字段。"),
        (
            {"import-bureau": "nowhere", "import-file": (io.BytesIO(b"x"), "census.xlsx")},
            "import-bureau",
            "不是有效的选择。",
        ),
    ],
)
def test_a_bad_import_is_422_naming_the_field(
    web_as: Any, body: dict[str, Any], field: str, message: str
) -> None:
    web = web_as("bureau_admin", "agriculture")
    response = web.post("/exports/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in beside(response.get_data(as_text=True), field)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 0
