"""The campaign pages (issue 19 point 1): the plan form without JavaScript (pick townships and villages,
assign several rows at once, save), its refusals shown on the row at fault, the campaign page, and
"my survey units" on the home page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.clock import local_today
from app.extensions import db
from app.surveys.models import Campaign
from tests.surveys.conftest import LIRANG, LIRANG_VILLAGE, LIRANG_VILLAGE_2, YUNLONG


def _base(species_id: Any, **changes: Any) -> MultiDict[str, str]:
    today = local_today()
    fields = {
        "name": "稻田福寿螺专项调查",
        "kind": "special",
        "bureau": "forestry",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
        "species_id": str(species_id("pomacea-canaliculata")),
        **changes,
    }
    return MultiDict(fields)


def _post(web: Any, path: str, data: MultiDict[str, str]) -> Any:
    data = MultiDict(data)
    data["csrf_token"] = web.csrf
    return web.client.post(path, data=data)


def _rows(html: str) -> list[str]:
    return re.findall(r'name="units-\d+-code" value="(\d+)"', html)


def test_plan_a_campaign_with_the_form(web_as: Any, species_id: Any, field_team: Any) -> None:
    web = web_as("supervisor", "forestry")
    page = web.get("/campaigns/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('name="pick_unit"') == 33 + 343  # every township and village of Liangping
    assert "梁平区林业局" in html

    # Tick a whole township and two villages of another, for surveyor a, due in a week.
    due = (local_today() + timedelta(days=7)).isoformat()
    data = _base(
        species_id,
        action="add_units",
        add_species="美国白蛾",
        pick_assignee_id=str(field_team.a.id),
        pick_due_on=due,
    )
    for code in (YUNLONG, LIRANG_VILLAGE, LIRANG_VILLAGE_2):
        data.add("pick_unit", code)
    added = _post(web, "/campaigns/new", data)
    assert added.status_code == 200, added.get_data(as_text=True)[:500]
    html = added.get_data(as_text=True)
    assert _rows(html) == [YUNLONG, LIRANG_VILLAGE, LIRANG_VILLAGE_2]
    assert "美国白蛾" in html  # typed by name, now a ticked species
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0  # nothing saved yet

    # Give the two villages to surveyor b at once, then save.
    rows = MultiDict(_base(species_id))
    rows.add("species_id", str(species_id("hyphantria-cunea")))
    for i, code in enumerate((YUNLONG, LIRANG_VILLAGE, LIRANG_VILLAGE_2)):
        rows[f"units-{i}-code"] = code
        rows[f"units-{i}-assignee_id"] = str(field_team.a.id)
        rows[f"units-{i}-due_on"] = due
    bulk = MultiDict(rows)
    bulk.update(
        {
            "action": "assign_selected",
            "units-1-selected": "1",
            "units-2-selected": "1",
            "bulk_assignee_id": str(field_team.b.id),
        }
    )
    assigned = _post(web, "/campaigns/new", bulk).get_data(as_text=True)
    for i, who in ((0, field_team.a), (1, field_team.b), (2, field_team.b)):
        select = re.search(rf'name="units-{i}-assignee_id".*?</select>', assigned, re.S)
        assert select and f'value="{who.id}" selected' in select.group(0)
    rows["units-1-assignee_id"] = rows["units-2-assignee_id"] = str(field_team.b.id)
    rows["action"] = "save"
    saved = _post(web, "/campaigns/new", rows)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:800]
    campaign = db.session.scalar(sa.select(Campaign))
    assert campaign is not None and campaign.kind.value == "special"
    assert {s.key for s in campaign.species} == {"pomacea-canaliculata", "hyphantria-cunea"}
    assert {(u.unit_code, u.assignee_id) for u in campaign.units} == {
        (YUNLONG, field_team.a.id),
        (LIRANG_VILLAGE, field_team.b.id),
        (LIRANG_VILLAGE_2, field_team.b.id),
    }
    page = web.get(saved.headers["Location"]).get_data(as_text=True)
    assert "稻田福寿螺专项调查" in page and 'data-unit="500155102200"' in page

    # Edit: remove one row, save; the others keep their ids.
    kept = {u.unit_code: u.id for u in campaign.units}
    form = web.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert _rows(form) == [LIRANG_VILLAGE, LIRANG_VILLAGE_2, YUNLONG]
    edit = MultiDict(rows)
    edit["action"] = "remove_selected"
    edit["units-0-selected"] = "1"
    removed = _post(web, f"/campaigns/{campaign.id}/edit", edit).get_data(as_text=True)
    assert _rows(removed) == [LIRANG_VILLAGE, LIRANG_VILLAGE_2]
    final = _base(species_id, action="save")
    final.update({"units-0-code": LIRANG_VILLAGE, "units-1-code": LIRANG_VILLAGE_2})
    assert _post(web, f"/campaigns/{campaign.id}/edit", final).status_code == 302
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert {u.unit_code: u.id for u in campaign.units} == {
        c: kept[c] for c in (LIRANG_VILLAGE, LIRANG_VILLAGE_2)
    }


def test_refusals_show_on_their_row(web_as: Any, species_id: Any, make_user: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    outsider = make_user("surveyor", "agriculture")
    data = _base(species_id, action="save", add_species="不存在的物种")
    data.update(
        {
            "units-0-code": LIRANG,
            "units-1-code": LIRANG,
            "units-0-assignee_id": str(outsider.id),
            "units-1-due_on": (local_today() + timedelta(days=90)).isoformat(),
        }
    )
    refused = _post(web, "/campaigns/new", data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    for field in ("units.0.assignee_id", "add_species"):
        assert f'data-error-for="{field}"' in html, field
    assert 'data-error-for="units.1.' in html  # listed twice, and due after the end
    assert _rows(html) == [LIRANG, LIRANG]  # the rows are kept as typed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_the_list_and_the_home_page(web_as: Any, make_campaign: Any, field_team: Any) -> None:
    due = local_today() + timedelta(days=3)
    campaign = make_campaign(
        name="秋季监测", units=((LIRANG_VILLAGE, field_team.a, due), (YUNLONG, field_team.b, due))
    )
    db.session.commit()
    listed = web_as("surveyor", "agriculture").get("/campaigns").get_data(as_text=True)
    assert "秋季监测" in listed and "新建调查任务" not in listed
    assert "进行中" in listed and "生成中" not in listed  # a campaign under way, not an export being made
    page = web_as("surveyor", "agriculture").get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "进行中" in page and "应复查日期" not in page  # a unit's due day is not a re-inspection's
    home = web_as(field_team.a).get("/").get_data(as_text=True)
    section = home[home.index("data-my-survey-units") :]
    assert f'href="/campaigns/{campaign.id}"' in section and "老营村" in section
    assert "云龙镇" not in section[: section.index("</ul>")]  # b's unit, not a's
    assert "data-my-survey-units" not in web_as("surveyor", "forestry").get("/").get_data(as_text=True)


def test_malformed_row_values_are_named_on_their_row(web_as: Any, species_id: Any, field_team: Any) -> None:
    """The rows are read through a schema (app/pages.py): a malformed assignee or due date is a 422 naming
    the row's field, the form drawn again with every row (the bad value left out), nothing saved."""
    web = web_as("supervisor", "forestry")
    for action in ("save", "assign_selected"):
        data = _base(species_id, action=action)
        data.update(
            {
                # A row without a unit code is no row: the rows after it are numbered as drawn.
                "units-0-code": YUNLONG,
                "units-0-assignee_id": str(field_team.a.id),
                "units-1-code": "",
                "units-2-code": LIRANG_VILLAGE,
                "units-2-assignee_id": "abc",
                "units-3-code": LIRANG_VILLAGE_2,
                "units-3-due_on": "2026-13-40",
                "units-4-code": LIRANG,
                "units-4-assignee_id": "99999999999",
            }
        )
        refused = _post(web, "/campaigns/new", data)
        assert refused.status_code == 422, action
        html = refused.get_data(as_text=True)
        assert _rows(html) == [YUNLONG, LIRANG_VILLAGE, LIRANG_VILLAGE_2, LIRANG]
        for field in ("units.1.assignee_id", "units.2.due_on", "units.3.assignee_id"):
            assert f'data-error-for="{field}"' in html, (action, field)
        assert 'data-error-for="units.0.' not in html
        # Each message sits on the row whose inputs carry its number.
        row = re.search(r'name="units-1-assignee_id".*?</td>', html, re.S)
        assert row and 'data-error-for="units.1.assignee_id"' in row.group(0)
        assert "请从列表中选择人员" in html
        # The well-formed values stay as typed.
        first = re.search(r'name="units-0-assignee_id".*?</select>', html, re.S)
        assert first and f'value="{field_team.a.id}" selected' in first.group(0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_the_route_page_starts_on_a_campaign_with_the_surveyors_own_units(
    make_campaign: Any, field_team: Any
) -> None:
    """Campaigns the surveyor has units in come first (the route page opens on the first), then those
    under way, then those to come; an older campaign without her units no longer comes first."""
    from app.surveys.routes import campaigns_to_walk

    today = local_today()
    due = today + timedelta(days=3)
    other = make_campaign(
        name="老任务", starts_on=today - timedelta(days=20), units=((YUNLONG, field_team.b, due),)
    )
    coming = make_campaign(
        name="下月任务", starts_on=today + timedelta(days=5), ends_on=today + timedelta(days=40)
    )
    mine = make_campaign(name="我的任务", units=((LIRANG_VILLAGE, field_team.a, due),))
    order = [c["id"] for c in campaigns_to_walk(field_team.a, today)]
    assert order[:3] == [mine.id, other.id, coming.id]
    assert [c["id"] for c in campaigns_to_walk(field_team.b, today)][:1] == [other.id]
