"""Shared fixtures of the surveys tests (docs/surveys.md): campaigns and their people.

Owned by the campaigns work; the other surveys tests (routes, plots, coverage) use these and keep their
own fixtures in their test modules or tests/surveys/<name>_fixtures.py.

- `campaign_body(**changes)`: a valid POST /api/v1/campaigns body (forestry's, two townships and a
  village of 礼让镇, assigned to `field_team`), any field replaced (None removes it).
- `field_team`: two forestry surveyors (`field_team.a`, `field_team.b`).
- `make_campaign(...)`: a campaign straight in the database (tests.factories.make_campaign), made by a
  forestry supervisor unless `created_by` is given.
- `planner`: an API client signed in as a forestry supervisor (may plan forestry's campaigns).
"""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.clock import local_today
from tests import factories

# Places of the Liangping district data loaded for tests (districts/liangping/).
LIRANG = "500155102"  # 礼让镇
LIRANG_VILLAGE = "500155102200"  # 老营村, in 礼让镇
LIRANG_VILLAGE_2 = "500155102201"  # 川西村, in 礼让镇
YUNLONG = "500155103"  # 云龙镇
LIANGSHAN = "500155001"  # 梁山街道
LIANGSHAN_VILLAGE = "500155001001"  # 南华社区, in 梁山街道


def window() -> tuple[date, date]:
    """The default campaign window: from ten days ago to twenty days ahead (Asia/Shanghai)."""
    today = local_today()
    return today - timedelta(days=10), today + timedelta(days=20)


@pytest.fixture
def field_team(make_user: Any) -> SimpleNamespace:
    return SimpleNamespace(a=make_user("surveyor", "forestry"), b=make_user("surveyor", "forestry"))


@pytest.fixture
def planner(api_as: Any) -> Any:
    return api_as("supervisor", "forestry")


@pytest.fixture
def campaign_body(species_id: Any, field_team: SimpleNamespace) -> Any:
    def build(**changes: Any) -> dict[str, Any]:
        starts_on, ends_on = window()
        due = (local_today() + timedelta(days=7)).isoformat()
        body: dict[str, Any] = {
            "name": "2026年福寿螺普查",
            "kind": "census",
            "bureau": "forestry",
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "species_ids": [species_id("pomacea-canaliculata"), species_id("hyphantria-cunea")],
            "notes": "重点：稻田、沟渠",
            "units": [
                {"township_code": YUNLONG, "assignee_id": field_team.a.id, "due_on": due},
                {
                    "township_code": LIRANG,
                    "village_code": LIRANG_VILLAGE,
                    "assignee_id": field_team.b.id,
                    "due_on": due,
                },
                {
                    "township_code": LIRANG,
                    "village_code": LIRANG_VILLAGE_2,
                    "assignee_id": field_team.b.id,
                    "due_on": due,
                },
            ],
        }
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    return build


@pytest.fixture
def make_campaign(make_user: Any) -> Any:
    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("created_by", make_user("supervisor", kwargs.get("bureau", "forestry")))
        return factories.make_campaign(**kwargs)

    return make
