"""Two planners saving one campaign at the same moment from the same GET (If-Match): one change lands and
the other is refused (412), on SQLite and PostgreSQL; the refused one leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.surveys.models import Campaign, SurveyUnit
from tests.surveys.conftest import LIANGSHAN, YUNLONG
from tests.together import at_once

pytestmark = pytest.mark.real_commits


def test_of_two_patches_at_once_from_one_read_one_lands(
    api_as: Any, campaign_body: Any, field_team: Any
) -> None:
    first, second = api_as("supervisor", "forestry"), api_as("bureau_admin", "forestry")
    body = campaign_body()
    db.session.commit()  # the people and species the body names, for the requests' own connections
    created = first.post("/api/v1/campaigns", json=body).get_json()
    cid = created["id"]
    read = first.get(f"/api/v1/campaigns/{cid}")
    tag = read.headers["ETag"]
    units = [
        {
            "township_code": u["township_code"],
            **({"village_code": u["village_code"]} if u.get("village_code") else {}),
            "assignee_id": u["assignee_id"],
            "due_on": u["due_on"],
        }
        for u in read.get_json()["units"]
    ]
    bodies = [
        (first, {"units": [*units, {"township_code": LIANGSHAN}]}),  # adds a unit
        (second, {"units": [u for u in units if u["township_code"] != YUNLONG]}),  # drops one
    ]
    responses = at_once(
        *(
            lambda api=api, body=body: api.patch(
                f"/api/v1/campaigns/{cid}", json=body, headers={"If-Match": tag}
            )
            for api, body in bodies
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412], [r.get_json() for r in responses]
    winner = 0 if responses[0].status_code == 200 else 1
    codes = set(
        db.session.scalars(
            SurveyUnit.__table__.select()
            .with_only_columns(SurveyUnit.unit_code)
            .where(SurveyUnit.campaign_id == cid)
        )
    )
    original = {u["unit_code"] for u in created["units"]}
    assert codes == (original | {LIANGSHAN} if winner == 0 else original - {YUNLONG})
    assert db.session.get(Campaign, cid) is not None
    db.session.rollback()
