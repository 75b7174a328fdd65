"""Two admins changing organizations at the same moment cannot leave a unit two levels down: one turning a
bureau into a unit of the other bureau while the other adds a unit under it. Each change locks the rows
it checks (app/accounts/organizations.py `_lock`), so the second is judged on what the first made.
SQLite and PostgreSQL (on SQLite the writers are one at a time already)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization
from app.extensions import db
from tests.together import at_once

pytestmark = pytest.mark.real_commits

ROUNDS = 12


def _nested_too_deep() -> list[str]:
    """Organizations whose parent reports to another: what the rules exclude."""
    db.session.rollback()
    parent = sa.orm.aliased(Organization)
    rows = db.session.execute(
        sa.select(Organization.code)
        .join(parent, parent.id == Organization.parent_id)
        .where(parent.parent_id.is_not(None))
    )
    found = [code for (code,) in rows]
    db.session.rollback()  # no read transaction left open beside the next requests (SQLite)
    return found


def test_a_bureau_made_a_unit_while_a_unit_is_added_under_it_leaves_no_unit_two_levels_down(
    api_as: Any,
) -> None:
    admin, other_admin = api_as("admin"), api_as("admin")
    db.session.commit()  # the admins, for the requests' own connections
    db.session.remove()  # and no transaction of the test's own holds a lock
    for round_ in range(ROUNDS):
        bureau = f"race-bureau-{round_}"
        made = admin.post(
            "/api/v1/organizations",
            json={"code": bureau, "name": f"测试局{round_}", "kind": "agriculture_commission"},
        )
        assert made.status_code == 201, made.get_json()
        becomes_unit, unit_added = at_once(
            lambda b=bureau: admin.patch(
                f"/api/v1/organizations/{b}", json={"kind": "township_station", "parent": "forestry"}
            ),
            lambda b=bureau, r=round_: other_admin.post(
                "/api/v1/organizations",
                json={
                    "code": f"race-unit-{r}",
                    "name": f"测试站{r}",
                    "kind": "township_station",
                    "parent": b,
                },
            ),
        )
        # Whichever came first stands; the other is refused on what it made (422 naming parent or kind).
        statuses = sorted([becomes_unit.status_code, unit_added.status_code])
        assert statuses in ([200, 422], [201, 422]), (becomes_unit.get_json(), unit_added.get_json())
        assert _nested_too_deep() == []
