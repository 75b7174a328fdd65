"""Follow-up and control operation pages: who sees what, and managing a follow-up from the desk."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from app.clock import local_today
from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db


def _treated(api_as: Any, treat: Any, make_user: Any, organization: str = "forestry") -> tuple[Any, Any]:
    surveyor = make_user("surveyor", organization)
    operation, _baseline = treat(api_as(surveyor), method="chemical", days_ago=10, assignee_id=surveyor.id)
    return surveyor, operation


def test_my_follow_ups_list_mine_only(web_as: Any, api_as: Any, treat: Any, make_user: Any) -> None:
    surveyor, operation = _treated(api_as, treat, make_user)
    _treated(api_as, treat, make_user)  # someone else's
    web = web_as(surveyor)
    html = web.get("/follow-ups").get_data(as_text=True)
    ours = {f["id"] for f in operation["follow_ups"]}
    listed = {int(x) for x in __import__("re").findall(r'href="/follow-ups/(\d+)"', html)}
    assert listed == ours
    overdue = web.get("/follow-ups?overdue=1").get_data(as_text=True)
    assert overdue.count('class="badge overdue"') == sum(f["overdue"] for f in operation["follow_ups"])


def test_supervisors_see_their_organization_with_scope_all(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    _surveyor, forestry_op = _treated(api_as, treat, make_user, "forestry")
    _other, agriculture_op = _treated(api_as, treat, make_user, "agriculture")
    html = web_as("supervisor", "forestry").get("/follow-ups?scope=all&status=any").get_data(as_text=True)
    assert f'href="/follow-ups/{forestry_op["follow_ups"][0]["id"]}"' in html
    assert f'href="/follow-ups/{agriculture_op["follow_ups"][0]["id"]}"' not in html
    # A surveyor asking for everything still sees only their own.
    html = web_as("surveyor", "forestry").get("/follow-ups?scope=all").get_data(as_text=True)
    assert f'href="/follow-ups/{forestry_op["follow_ups"][0]["id"]}"' not in html


def test_a_supervisors_list_opens_on_the_organizations_and_mine_narrows_it(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    """A supervisor's work is everyone's re-inspections: the list opens on them, not on an empty 我的."""
    _surveyor, operation = _treated(api_as, treat, make_user, "forestry")
    link = f'href="/follow-ups/{operation["follow_ups"][0]["id"]}"'
    supervisor = web_as("supervisor", "forestry")
    opened = supervisor.get("/follow-ups").get_data(as_text=True)
    assert link in opened
    assert '<option value="all" selected>' in opened
    assert link not in supervisor.get("/follow-ups?scope=mine").get_data(as_text=True)


def test_bad_list_filters_are_400_naming_the_field(web_as: Any) -> None:
    web = web_as("supervisor", locale="zh")
    for query, label in (
        ("status=late", "status"),
        ("scope=all&assignee_id=abc", "复查人"),
        ("scope=all&assignee_id=99999999999999999999", "复查人"),  # no row has it: refused, never a 500
        ("township_code=nowhere", "乡镇"),
        ("page=0", "页码"),
        ("page=x", "页码"),
    ):
        response = web.get(f"/follow-ups?{query}")
        assert response.status_code == 400, query
        assert label in response.get_data(as_text=True), query
    # A surveyor's own list does not read the assignee: it is not refused there.
    assert web_as("surveyor").get("/follow-ups?assignee_id=abc").status_code == 200


def test_follow_ups_are_paged_with_their_filters(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    surveyor = make_user("surveyor", "forestry")
    # Five treatments of one site a month apart: five re-inspections each (a treatment of the same day
    # would join the pending ones) and the site's next-spring check, 26 in all.
    for i in range(5):
        treat(api_as(surveyor), method="chemical", days_ago=10 + 31 * i, assignee_id=surveyor.id)
    web = web_as(surveyor)
    first = web.get("/follow-ups?status=any&junk=1").get_data(as_text=True)
    assert re.findall(r'rel="next" href="([^"]*)"', first) == ["/follow-ups?status=any&amp;page=2"]
    options = re.findall(r'<option value="(\w+)"( selected)?>', first)
    assert options == [("pending", ""), ("done", ""), ("cancelled", ""), ("any", " selected")]
    second = web.get("/follow-ups?status=any&page=2").get_data(as_text=True)
    assert 'rel="prev" href="/follow-ups?status=any&amp;page=1"' in second


def test_follow_up_page_offers_completion_to_its_organization(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    surveyor, operation = _treated(api_as, treat, make_user)
    follow_up_id = operation["follow_ups"][0]["id"]
    own = web_as(surveyor).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert f'data-url="/api/v1/follow-ups/{follow_up_id}/complete"' in own
    assert 'data-kind="completion"' in own and "manage_follow_up" not in own
    other = web_as("surveyor", "agriculture").get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "data-record-form" not in other
    assert web_as("surveyor").get("/follow-ups/999999").status_code == 404


def test_supervisor_reschedules_reassigns_and_cancels(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    _surveyor, operation = _treated(api_as, treat, make_user)
    colleague = make_user("surveyor", "forestry")
    supervisor = web_as("supervisor", "forestry")
    follow_up_id = operation["follow_ups"][-1]["id"]
    url = f"/follow-ups/{follow_up_id}"
    assert 'name="action" value="reassign"' in supervisor.get(url).get_data(as_text=True)

    new_day = local_today() + timedelta(days=5)
    assert supervisor.post(url, {"action": "reschedule", "due_on": new_day.isoformat()}).status_code == 302
    assert supervisor.post(url, {"action": "reassign", "assignee_id": str(colleague.id)}).status_code == 302
    item = db.session.get(FollowUp, follow_up_id)
    assert item is not None and item.due_on == new_day and item.assignee_id == colleague.id

    # Bad input: the page again with the field named (422), nothing changed.
    past = supervisor.post(url, {"action": "reschedule", "due_on": "2020-01-01"})
    assert past.status_code == 422
    garbled = supervisor.post(url, {"action": "reschedule", "due_on": "soon"})
    assert garbled.status_code == 422
    no_reason = supervisor.post(url, {"action": "cancel", "cancelled_reason": " "})
    assert no_reason.status_code == 422
    db.session.expire_all()
    item = db.session.get(FollowUp, follow_up_id)
    assert item is not None and item.status == FollowUpStatus.PENDING and item.due_on == new_day

    assert supervisor.post(url, {"action": "cancel", "cancelled_reason": "水田已改种"}).status_code == 302
    db.session.expire_all()
    item = db.session.get(FollowUp, follow_up_id)
    assert item is not None and item.status == FollowUpStatus.CANCELLED
    assert supervisor.post(url, {"action": "cancel", "cancelled_reason": "again"}).status_code == 409


def test_only_supervisors_of_the_organization_manage(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    surveyor, operation = _treated(api_as, treat, make_user)
    url = f"/follow-ups/{operation['follow_ups'][0]['id']}"
    day = (local_today() + timedelta(days=3)).isoformat()
    assert web_as(surveyor).post(url, {"action": "reschedule", "due_on": day}).status_code == 403
    assert (
        web_as("supervisor", "agriculture").post(url, {"action": "reschedule", "due_on": day}).status_code
        == 403
    )
    assert web_as("supervisor").post(url, {"action": "explode"}).status_code == 422


def test_control_operation_form_for_a_record_or_a_site(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    web = web_as(api.user)
    from_record = web.get(f"/control-operations/new?observation_id={record['id']}").get_data(as_text=True)
    assert f'name="observation_id" value="{record["id"]}"' in from_record
    picker = web.get("/control-operations/new").get_data(as_text=True)
    assert f'<option value="{record["site_id"]}"' in picker  # the organization's open sites to choose from
    assert web.get("/control-operations/new?site_id=x").status_code == 422
    assert web.get("/control-operations/new?site_id=999999").status_code == 404


def test_home_lists_my_due_follow_ups_and_recent_records(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    surveyor, operation = _treated(api_as, treat, make_user)
    html = web_as(surveyor).get("/").get_data(as_text=True)
    due_soon = [
        f for f in operation["follow_ups"] if f["due_on"] <= (local_today() + timedelta(days=7)).isoformat()
    ]
    for f in due_soon:
        assert f'href="/follow-ups/{f["id"]}"' in html
    assert f'href="/observations/{operation["baseline_observation_id"]}"' in html
    assert "data-outbox-list" in html and "data-sync-now" in html


def test_site_page_shows_the_timeline(web_as: Any, api_as: Any, treat: Any, make_user: Any) -> None:
    _surveyor, operation = _treated(api_as, treat, make_user)
    html = web_as("verifier", "agriculture").get(f"/sites/{operation['site_id']}").get_data(as_text=True)
    assert html.count('data-kind="follow_up"') == len(operation["follow_ups"])
    assert html.count('data-kind="control_operation"') == 1 and 'data-kind="observation"' in html
    assert "control-operations/new?site_id" not in html  # another organization's site: no treatment link
    assert web_as("surveyor").get("/sites/999999").status_code == 404


def test_text_no_database_can_store_is_refused_on_pages_too(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    _surveyor, operation = _treated(api_as, treat, make_user)
    url = f"/follow-ups/{operation['follow_ups'][0]['id']}"
    response = web_as("supervisor").post(url, {"action": "cancel", "cancelled_reason": "a\x00b"})
    assert response.status_code == 422
    item = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert item is not None and item.status == FollowUpStatus.PENDING


def test_control_form_names_who_re_inspects_defaulting_to_me(web_as: Any, make_user: Any) -> None:
    surveyor = make_user("surveyor", "forestry", display_name="张调查")
    colleague = make_user("surveyor", "forestry", display_name="李同事")
    make_user("surveyor", "agriculture", display_name="外单位")
    make_user("surveyor", "forestry", display_name="已停用", active=False)
    html = web_as(surveyor).get("/control-operations/new").get_data(as_text=True)
    select = html[
        html.index('name="assignee_id"') : html.index("</select>", html.index('name="assignee_id"'))
    ]
    assert f'<option value="{surveyor.id}" selected>张调查</option>' in select
    assert f'<option value="{colleague.id}">李同事</option>' in select
    assert "外单位" not in select and "已停用" not in select


def test_reassigning_notifies_the_new_assignee_in_their_language(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    from app.notifications.models import Delivery, Notification

    _surveyor, operation = _treated(api_as, treat, make_user)
    colleague = make_user("surveyor", "forestry", email="li@example.cn", locale="en", display_name="Li")
    quiet = make_user("surveyor", "forestry", email="wang@example.cn", notify_email=False)
    supervisor = web_as("supervisor", "forestry", display_name="周主管")
    follow_up = operation["follow_ups"][-1]
    url = f"/follow-ups/{follow_up['id']}"
    assert supervisor.post(url, {"action": "reassign", "assignee_id": str(colleague.id)}).status_code == 302

    inbox = db.session.scalars(db.select(Notification).where(Notification.user_id == colleague.id)).all()
    assert [n.kind.value for n in inbox] == ["follow_up_assigned"]
    mail = db.session.scalars(db.select(Delivery).where(Delivery.user_id == colleague.id)).all()
    assert len(mail) == 1 and mail[0].message["subject"].startswith("[Re-inspection assigned]")
    assert "周主管" in mail[0].message["body"] and follow_up["site_code"] in mail[0].message["subject"]
    page = web_as(colleague).get("/notifications").get_data(as_text=True)
    assert "[Re-inspection assigned]" in page and f'href="/follow-ups/{follow_up["id"]}"' in page

    # In-app only for someone who turned e-mail off; nobody is told twice of one assignment.
    assert supervisor.post(url, {"action": "reassign", "assignee_id": str(quiet.id)}).status_code == 302
    assert supervisor.post(url, {"action": "reassign", "assignee_id": str(quiet.id)}).status_code == 302
    assert (
        db.session.scalar(
            db.select(db.func.count()).select_from(Notification).where(Notification.user_id == quiet.id)
        )
        == 1
    )
    assert not db.session.scalars(db.select(Delivery).where(Delivery.user_id == quiet.id)).all()
    # A refused reassignment tells nobody.
    stranger = make_user("surveyor", "agriculture")
    assert supervisor.post(url, {"action": "reassign", "assignee_id": str(stranger.id)}).status_code == 422
    assert not db.session.scalars(db.select(Notification).where(Notification.user_id == stranger.id)).all()


def test_home_saves_all_my_follow_ups_whatever_their_due_date(
    web_as: Any, api_as: Any, treat: Any, make_user: Any
) -> None:
    surveyor, operation = _treated(api_as, treat, make_user)
    html = web_as(surveyor).get("/").get_data(as_text=True)
    saved: set[int] = set()
    for block in html.split("data-my-follow-ups")[1:]:
        saved |= {
            int(x) for x in __import__("re").findall(r'href="/follow-ups/(\d+)"', block.split("</ul>")[0])
        }
    pending = {f["id"] for f in operation["follow_ups"] if f["status"] == "pending"}
    assert saved == pending
    # The next-spring check is months away, and still saved (under "later").
    spring = next(f for f in operation["follow_ups"] if f["kind"] == "next_spring")
    assert spring["id"] in saved and 'class="later"' in html
