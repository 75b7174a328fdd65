"""Two planners editing one campaign at once (docs/surveys.md, Campaigns, "Two planners at once"): a PATCH
made from an old GET is refused — 412 naming If-Match, or 409 naming updated_at — and nothing of it is
written; any unit change moves the campaign's updated_at and ETag on; a PATCH with neither works as
before; the plan form carries the version it was opened on."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from app.extensions import db
from app.surveys.models import Campaign
from tests.surveys.conftest import LIANGSHAN, YUNLONG


def _read(api: Any, campaign_id: int) -> tuple[dict[str, Any], str]:
    response = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert response.status_code == 200
    etag = response.headers.get("ETag")
    assert etag
    return response.get_json(), etag


def _stored(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign is not None
    db.session.refresh(campaign)
    return campaign


def _codes(body: dict[str, Any]) -> set[str]:
    return {u["unit_code"] for u in body["units"]}


def _unit_args(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "township_code": u["township_code"],
            **({"village_code": u["village_code"]} if u.get("village_code") else {}),
            "assignee_id": u["assignee_id"],
            "due_on": u["due_on"],
        }
        for u in units
    ]


def test_a_patch_from_an_old_get_is_refused_with_if_match(
    api_as: Any, campaign_body: Any, field_team: Any
) -> None:
    first, second = api_as("supervisor", "forestry"), api_as("bureau_admin", "forestry")
    created = first.post("/api/v1/campaigns", json=campaign_body()).get_json()
    cid = created["id"]
    seen_first, tag_first = _read(first, cid)
    seen_second, tag_second = _read(second, cid)
    assert tag_first == tag_second

    # The first planner adds a unit.
    added = [*_unit_args(seen_first["units"]), {"township_code": LIANGSHAN, "assignee_id": field_team.a.id}]
    answer = first.patch(f"/api/v1/campaigns/{cid}", json={"units": added}, headers={"If-Match": tag_first})
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["ETag"] != tag_first

    # The second, from its old GET, drops the Yunlong unit and renames the campaign: refused, whole.
    kept = [u for u in seen_second["units"] if u["unit_code"] != YUNLONG]
    refused = second.patch(
        f"/api/v1/campaigns/{cid}",
        json={"name": "改名", "units": _unit_args(kept)},
        headers={"If-Match": tag_second},
    )
    assert refused.status_code == 412, refused.get_json()
    body = refused.get_json()
    assert set(body["errors"]) == {"If-Match"}
    assert body["code"] == 412
    assert "其他人修改了此调查任务" in body["message"]  # in the user's language, Chinese first
    now, tag_now = _read(second, cid)
    assert _codes(now) == _codes(seen_first) | {LIANGSHAN}  # the unit added meanwhile is still there
    assert now["name"] == created["name"]
    assert tag_now == answer.headers["ETag"]

    # Read again, the same change goes through.
    again = second.patch(
        f"/api/v1/campaigns/{cid}",
        json={"name": "改名", "units": _unit_args([u for u in now["units"] if u["unit_code"] != YUNLONG])},
        headers={"If-Match": tag_now},
    )
    assert again.status_code == 200, again.get_json()
    assert _codes(again.get_json()) == _codes(now) - {YUNLONG}


def test_updated_at_sent_back_is_the_same_check(api_as: Any, campaign_body: Any) -> None:
    """A client that PATCHes back what GET gave it (updated_at included) is refused with 409 when the
    campaign changed since; nothing of its change is written."""
    first, second = api_as("supervisor", "forestry"), api_as("bureau_admin", "forestry")
    cid = first.post("/api/v1/campaigns", json=campaign_body()).get_json()["id"]
    seen_first, _tag = _read(first, cid)
    seen_second, _tag = _read(second, cid)
    assert first.patch(f"/api/v1/campaigns/{cid}", json={**seen_first, "notes": "甲改"}).status_code == 200
    refused = second.patch(f"/api/v1/campaigns/{cid}", json={**seen_second, "notes": "乙改"})
    assert refused.status_code == 409, refused.get_json()
    assert set(refused.get_json()["errors"]) == {"updated_at"}
    assert _stored(cid).notes == "甲改"
    # Without updated_at nor If-Match (a phone, a script): the change is made on the campaign as it is.
    plain = second.patch(f"/api/v1/campaigns/{cid}", json={"notes": "乙改"})
    assert plain.status_code == 200, plain.get_json()
    assert _stored(cid).notes == "乙改"
    # If-Match: * is "whatever it is now".
    star = second.patch(f"/api/v1/campaigns/{cid}", json={"notes": "丙"}, headers={"If-Match": "*"})
    assert star.status_code == 200


def test_a_unit_change_moves_updated_at_and_the_etag_on(
    api_as: Any, campaign_body: Any, field_team: Any
) -> None:
    planner = api_as("supervisor", "forestry")
    cid = planner.post("/api/v1/campaigns", json=campaign_body()).get_json()["id"]
    before, tag_before = _read(planner, cid)

    # One unit reassigned through its own endpoint: no column of the campaign's row changes.
    unit = before["units"][0]
    other = field_team.b.id if unit["assignee_id"] != field_team.b.id else field_team.a.id
    moved = planner.patch(f"/api/v1/campaigns/{cid}/units/{unit['id']}", json={"assignee_id": other})
    assert moved.status_code == 200, moved.get_json()
    after, tag_after = _read(planner, cid)
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(before["updated_at"])
    assert tag_after != tag_before
    stale = planner.patch(f"/api/v1/campaigns/{cid}", json={"notes": "x"}, headers={"If-Match": tag_before})
    assert stale.status_code == 412

    # The unit list alone changed through the campaign's PATCH.
    fewer = _unit_args(after["units"][1:])
    assert planner.patch(f"/api/v1/campaigns/{cid}", json={"units": fewer}).status_code == 200
    last, tag_last = _read(planner, cid)
    assert datetime.fromisoformat(last["updated_at"]) > datetime.fromisoformat(after["updated_at"])
    assert tag_last != tag_after

    # A PATCH that changes nothing leaves it as it was (others' reads stay good).
    same = planner.patch(
        f"/api/v1/campaigns/{cid}", json={"notes": last["notes"]}, headers={"If-Match": tag_last}
    )
    assert same.status_code == 200
    assert _read(planner, cid)[0]["updated_at"] == last["updated_at"]


def test_a_unit_patch_from_an_old_get_is_refused_with_if_match(
    api_as: Any, campaign_body: Any, field_team: Any, anonymous_api: Any
) -> None:
    """The unit's own PATCH takes the campaign's ETag as If-Match, as the campaign's PATCH does: from an
    old read, 412 naming If-Match and nothing written; from the read it answers, through; optional."""
    first, second = api_as("supervisor", "forestry"), api_as("bureau_admin", "forestry")
    cid = first.post("/api/v1/campaigns", json=campaign_body()).get_json()["id"]
    seen, tag = _read(first, cid)
    unit, other_unit = seen["units"][0], seen["units"][1]
    a, b = field_team.a.id, field_team.b.id

    moved = second.patch(
        f"/api/v1/campaigns/{cid}/units/{other_unit['id']}",
        json={"assignee_id": b if other_unit["assignee_id"] != b else a},
        headers={"If-Match": tag},
    )
    assert moved.status_code == 200, moved.get_json()
    newer, tag_newer = _read(second, cid)
    assert tag_newer != tag

    target = b if unit["assignee_id"] != b else a
    refused = first.patch(
        f"/api/v1/campaigns/{cid}/units/{unit['id']}", json={"assignee_id": target}, headers={"If-Match": tag}
    )
    assert refused.status_code == 412, refused.get_json()
    assert set(refused.get_json()["errors"]) == {"If-Match"}
    assert "其他人修改了此调查任务" in refused.get_json()["message"]
    assert _read(first, cid) == (newer, tag_newer)  # nothing written: the unit, updated_at, the ETag
    assert moved.headers.get("ETag") == tag_newer  # a unit PATCH answers the campaign's new ETag

    again = first.patch(
        f"/api/v1/campaigns/{cid}/units/{unit['id']}",
        json={"assignee_id": target},
        headers={"If-Match": tag_newer},
    )
    assert again.status_code == 200 and again.get_json()["assignee_id"] == target, again.get_json()
    # Optional, as the campaign's: without it (or with *) the unit is changed as it is.
    plain = first.patch(f"/api/v1/campaigns/{cid}/units/{unit['id']}", json={"due_on": None})
    assert plain.status_code == 200, plain.get_json()
    star = first.patch(
        f"/api/v1/campaigns/{cid}/units/{unit['id']}", json={"assignee_id": None}, headers={"If-Match": "*"}
    )
    assert star.status_code == 200, star.get_json()

    # Declared in the OpenAPI document as the campaign's PATCH declares it.
    paths = anonymous_api.get("/api/v1/openapi.json").get_json()["paths"]
    campaign_patch = paths["/api/v1/campaigns/{campaign_id}"]["patch"]
    unit_patch = paths["/api/v1/campaigns/{campaign_id}/units/{unit_id}"]["patch"]
    for operation in (campaign_patch, unit_patch):
        [if_match] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert (if_match["in"], if_match["required"]) == ("header", False)
        assert "412" in operation["responses"] and "ETag" in operation["responses"]["200"]["headers"]


def test_the_plan_form_sends_the_version_it_was_opened_on(
    api_as: Any, web_as: Any, campaign_body: Any, make_user: Any
) -> None:
    planner = make_user("supervisor", "forestry")
    api = api_as(planner)
    cid = api.post("/api/v1/campaigns", json=campaign_body()).get_json()["id"]
    web = web_as(planner)
    page = web.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', page)
    assert version is not None
    form = {
        "action": "save",
        "version": version.group(1),
        "name": "从表单改名",
        "kind": "census",
        "bureau": "forestry",
        "starts_on": _stored(cid).starts_on.isoformat(),
        "ends_on": _stored(cid).ends_on.isoformat(),
        "species_id": [str(s.id) for s in _stored(cid).species],
    }
    for i, unit in enumerate(_stored(cid).units):
        form[f"units-{i}-code"] = unit.unit_code
    # Someone else changes the campaign meanwhile (a unit's due date cleared).
    unit_id = _stored(cid).units[0].id
    assert api.patch(f"/api/v1/campaigns/{cid}/units/{unit_id}", json={"due_on": None}).status_code == 200
    refused = web.post(f"/campaigns/{cid}/edit", data=form)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert 'data-error-for="version"' in html and "其他人修改了此调查任务" in html
    assert _stored(cid).name == "2026年福寿螺普查"
    # Opened again, the form saves.
    fresh = re.search(
        r'name="version" value="([^"]+)"', web.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    )
    assert fresh is not None and fresh.group(1) != version.group(1)
    saved = web.post(f"/campaigns/{cid}/edit", data={**form, "version": fresh.group(1)})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert _stored(cid).name == "从表单改名"
