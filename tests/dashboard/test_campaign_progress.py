"""Campaign progress on the dashboard (issue 19 point 7): units covered of total, by township and by
assignee, for the running campaigns of the supervisor's bureau."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from app.clock import local_today
from app.extensions import db
from tests import factories
from tests.surveys.conftest import LIRANG_VILLAGE, LIRANG_VILLAGE_2, YUNLONG
from tests.surveys.coverage_fixtures import add_record


def _cells(html: str, table: str) -> dict[str, tuple[int, int]]:
    """{group: (covered, units)} from one of the campaign's tables."""
    body = html[html.index(f"data-campaign-{table}") :]
    body = body[: body.index("</table>")]
    rows = re.findall(
        r'data-group="([^"]*)">\s*<td>[^<]*</td>\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>',
        body,
    )
    return {group: (int(covered), int(units)) for group, covered, units in rows}


def test_progress_by_township_and_assignee(
    web_as: Any, api_as: Any, make_user: Any, make_observation: Any
) -> None:
    field_team = SimpleNamespace(a=make_user("surveyor"), b=make_user("surveyor"))
    planner = make_user("supervisor")

    def make_campaign(**kwargs: Any) -> Any:
        return factories.make_campaign(created_by=planner, **kwargs)

    due = local_today() + timedelta(days=5)
    plan = (
        (YUNLONG, field_team.a, due),
        (LIRANG_VILLAGE, field_team.b, due),
        (LIRANG_VILLAGE_2, field_team.b, due),
    )
    campaign = make_campaign(name="春季普查", units=plan)
    ended = make_campaign(
        name="去年的普查",
        starts_on=local_today() - timedelta(days=400),
        ends_on=local_today() - timedelta(days=300),
    )
    # Surveyor b records in 老营村 for the campaign: that village is covered (by the record's village).
    add_record(
        make_observation,
        api_as(field_team.b),
        lon=107.80,
        lat=30.68,
        campaign=campaign,
        village_code=LIRANG_VILLAGE,
    )
    db.session.commit()

    covered = {LIRANG_VILLAGE}
    expected_township: dict[str, list[int]] = {}
    expected_assignee: dict[str, list[int]] = {}
    for code, who, _due in plan:
        for key, table in ((code[:9], expected_township), (str(who.id), expected_assignee)):
            counts = table.setdefault(key, [0, 0])
            counts[0] += code in covered
            counts[1] += 1

    html = web_as("supervisor", "forestry").get("/dashboard").get_data(as_text=True)
    section = html[html.index("data-campaign-progress>") :]
    assert f'data-campaign-progress-of="{campaign.id}"' in section
    assert f'data-campaign-progress-of="{ended.id}"' not in section  # not running
    figure = re.search(r'data-figure="covered">(\d+) / (\d+)<', section)
    assert figure and (int(figure[1]), int(figure[2])) == (len(covered), len(plan))
    assert _cells(section, "township") == {k: tuple(v) for k, v in expected_township.items()}
    assert _cells(section, "assignee") == {k: tuple(v) for k, v in expected_assignee.items()}

    # Agriculture's supervisors see their own bureau's campaigns only.
    other = web_as("supervisor", "agriculture").get("/dashboard").get_data(as_text=True)
    assert f'data-campaign-progress-of="{campaign.id}"' not in other
