"""Control operations, their re-inspections, efficacy, reminders and the dashboard, probed as a reviewer
did (each case here once failed, or checks what the reviewer found right): local days at a month's end,
efficacy against the reference formulas, who is told of due, overdue and late re-inspections when
supervisors come and go, what may be a treatment's baseline, and the dashboard's links."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.control.models import FollowUp
from app.extensions import db
from app.notifications import reminders
from app.notifications.models import Notification
from tests.conftest import PADDY

LAT, LON = PADDY


def test_follow_ups_of_a_treatment_at_2330_on_a_months_last_day_fall_on_local_days(
    api_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    obs = make_observation(api, observed_at="2025-01-31T20:00:00+08:00")
    op, _ = treat(api, baseline=obs, performed_at="2025-01-31T23:30:00")  # no offset: Beijing time
    got = {f["offset_days"]: f["due_on"] for f in op["follow_ups"] if f["kind"] == "scheduled"}
    assert got == {1: "2025-02-01", 3: "2025-02-03", 7: "2025-02-07", 15: "2025-02-15", 30: "2025-03-02"}
    spring = [f["due_on"] for f in op["follow_ups"] if f["kind"] == "next_spring"]
    assert spring == ["2026-03-15"]
    op2, _ = treat(api, "hand_collection", baseline=obs, performed_at="2025-01-31T15:30:00Z")
    got2 = {f["offset_days"]: f["due_on"] for f in op2["follow_ups"] if f["kind"] == "scheduled"}
    # Its +7 falls on the day of the first's +7, still pending: it joins that one (docs/census.md,
    # Re-inspections due), and adds only its +14.
    assert got2 == {14: "2025-02-14"}


def _complete(api: Any, fid: int, **obs: Any) -> Any:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observed_at": datetime.now(UTC).isoformat(),
        "latitude": LAT,
        "longitude": LON,
        "accuracy_m": 5,
        "township_code": "500155001",
        **obs,
    }
    return api.post(f"/api/v1/follow-ups/{fid}/complete", json={"observation": body})


def test_efficacy_follows_the_reference_formulas(api_as: Any, make_observation: Any, treat: Any) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    performed = now - timedelta(days=10)
    ck_b = make_observation(
        api,
        latitude=LAT + 0.01,
        observed_at=(performed - timedelta(days=1)).isoformat(),
        density_per_m2=22.0,
        egg_masses_per_m2=4.0,
    )
    base = make_observation(
        api,
        observed_at=(performed - timedelta(hours=3)).isoformat(),
        density_per_m2=27.0,
        egg_masses_per_m2=9.0,
    )
    op, _ = treat(api, baseline=base, performed_at=performed.isoformat(), check_site_id=ck_b["site_id"])
    make_observation(
        api,
        latitude=LAT + 0.01,
        observed_at=(now - timedelta(hours=1)).isoformat(),
        density_per_m2=19.0,
        egg_masses_per_m2=5.0,
    )
    r = _complete(api, op["follow_ups"][0]["id"], density_per_m2=4.0, egg_masses_per_m2=2.0)
    assert r.status_code == 200, r.get_json()
    eff = r.get_json()["efficacy"]
    assert eff["density_reduction_pct"] == round((27 - 4) / 27 * 100, 2)
    assert eff["egg_mass_reduction_pct"] == round((9 - 2) / 9 * 100, 2)
    assert eff["corrected_efficacy_pct"] == round((1 - (22 * 4) / (19 * 27)) * 100, 2)


def _notes(user_id: int) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user_id)))


def test_a_supervisor_appointed_after_the_treatment_gets_its_escalations(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    # No supervisor in agriculture when the operation is recorded; one is appointed afterwards.
    surveyor = api_as("surveyor", "agriculture")
    op, _ = treat(surveyor, method="chemical", days_ago=10)
    assert {f["supervisor_id"] for f in op["follow_ups"]} == {None}
    boss = make_user("supervisor", "agriculture")
    db.session.commit()
    report = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert report.escalated >= 1, "overdue follow-ups 3+ days late reach no supervisor"
    assert _notes(boss.id), "the organization's supervisor is never told"


def test_escalations_go_to_the_supervisor_now_not_a_deactivated_one(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    old = make_user("supervisor", "agriculture")
    surveyor = api_as("surveyor", "agriculture")
    op, _ = treat(surveyor, method="chemical", days_ago=10)
    assert op["follow_ups"][0]["supervisor_id"] == old.id
    old.active = False
    new = make_user("supervisor", "agriculture")
    db.session.commit()
    report = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert report.escalated == 3
    assert _notes(new.id) and not _notes(old.id)
    refreshed = api_as(new).get(f"/api/v1/follow-ups/{op['follow_ups'][0]['id']}").get_json()
    assert refreshed["supervisor_id"] == new.id


def _freeze(monkeypatch: Any, instant: datetime) -> None:
    import app.clock as clock

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return instant.astimezone(tz) if tz else instant.replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", Frozen)


def test_due_and_overdue_reminders_follow_the_local_day(
    api_as: Any, make_user: Any, treat: Any, monkeypatch: Any
) -> None:
    from zoneinfo import ZoneInfo

    sh = ZoneInfo("Asia/Shanghai")
    surveyor = api_as("surveyor")
    op, _ = treat(surveyor, method="hand_collection", days_ago=3)
    f7 = next(f for f in op["follow_ups"] if f["offset_days"] == 7)
    due = date.fromisoformat(f7["due_on"])
    # the evening before, 23:55 local: not due yet
    _freeze(monkeypatch, datetime(due.year, due.month, due.day, 0, 0, tzinfo=sh) - timedelta(minutes=5))
    r0 = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert r0.due == 0, r0
    _freeze(monkeypatch, datetime(due.year, due.month, due.day, 0, 5, tzinfo=sh))
    r1 = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert r1.due == 1, r1
    _freeze(monkeypatch, datetime(due.year, due.month, due.day, 23, 55, tzinfo=sh))
    r2 = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert r2.due == 0 and r2.overdue == 0, r2
    _freeze(monkeypatch, datetime(due.year, due.month, due.day, 23, 55, tzinfo=sh) + timedelta(minutes=10))
    r3 = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert r3.overdue == 1, r3
    r4 = reminders.queue_follow_up_reminders()
    assert (r4.due, r4.overdue, r4.escalated) == (0, 0, 0)
    notes = _notes(surveyor.user.id)
    assert len(notes) == 2


def _overdue_fig(html: str) -> tuple[int, str]:
    import re

    m = re.search(r'<a class="value" data-figure="overdue" href="([^"]+)">(\d+)</a>', html)
    assert m, "no overdue figure"
    return int(m.group(2)), m.group(1).replace("&amp;", "&")


def test_the_dashboards_overdue_link_lists_what_it_counts(api_as: Any, web_as: Any, treat: Any) -> None:
    import re

    treat(api_as("surveyor", "forestry"), method="chemical", days_ago=10)
    treat(api_as("surveyor", "agriculture"), method="chemical", days_ago=10)
    admin = web_as("admin", "forestry")
    count, link = _overdue_fig(admin.get("/dashboard?organization=agriculture").get_data(as_text=True))
    listed = admin.get(link).get_data(as_text=True)
    ids = set(re.findall(r'href="/follow-ups/(\d+)"', listed))
    assert len(ids) == count, f"dashboard says {count}, its link lists {len(ids)}"


def _units() -> None:
    from app.accounts.models import Organization, OrganizationKind

    parent = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    db.session.add(
        Organization(
            code="lp-station", name="梁山街道林业站", kind=OrganizationKind.TOWNSHIP_STATION, parent=parent
        )
    )
    db.session.commit()


def test_bureau_supervisor_manages_unit_follow_ups_on_the_web(
    api_as: Any, web_as: Any, make_user: Any, treat: Any
) -> None:
    _units()
    boss = make_user("supervisor", "forestry")
    station = api_as("surveyor", "lp-station")
    mate = make_user("surveyor", "lp-station")
    op, _ = treat(station, method="chemical", days_ago=10)
    f = op["follow_ups"][0]
    assert f["supervisor_id"] == boss.id
    web = web_as(boss)
    page = web.get(f"/follow-ups/{f['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{mate.id}"' in html
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "reassign", "assignee_id": mate.id})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert db.session.get(FollowUp, f["id"]).assignee_id == mate.id
    assert _notes(mate.id)
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "cancel", "cancelled_reason": "  "})
    assert r.status_code == 422
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "reschedule", "due_on": "2025-13-01"})
    assert r.status_code == 422
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "accept_far"})
    assert r.status_code == 409
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "cancel", "cancelled_reason": "改种"})
    assert r.status_code == 302
    r = web.post(f"/follow-ups/{f['id']}", data={"action": "reassign", "assignee_id": mate.id})
    assert r.status_code == 409
    listing = web.get("/follow-ups?scope=all&status=any").get_data(as_text=True)
    assert f'href="/follow-ups/{f["id"]}"' in listing
    report = reminders.queue_follow_up_reminders()
    assert report.overdue == 2 and report.escalated == 2


def test_a_record_made_after_the_treatment_is_not_its_baseline(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    performed = now - timedelta(days=5)
    before = make_observation(
        api, observed_at=(performed - timedelta(hours=3)).isoformat(), density_per_m2=25.0
    )
    after = make_observation(api, observed_at=(performed + timedelta(days=1)).isoformat(), density_per_m2=2.0)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": after["id"],
        "method": "hand_collection",
        "performed_at": performed.isoformat(),
        "details": {"kg_removed": 3},
    }
    r = api.post("/api/v1/control-operations", json=body)
    assert r.status_code == 422
    assert "observation_id" in r.get_json()["errors"]
    # Without it, the treatment's baseline is the record before it.
    r = api.post(
        "/api/v1/control-operations", json={**body, "observation_id": None, "site_id": before["site_id"]}
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["baseline_observation_id"] == before["id"]


def test_a_rejected_record_is_never_the_baseline(api_as: Any, make_user: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    verifier = api_as(make_user("verifier"))
    now = datetime.now(UTC)
    performed = now - timedelta(days=5)
    good = make_observation(api, observed_at=(performed - timedelta(days=2)).isoformat(), density_per_m2=20.0)
    bad = make_observation(
        api, observed_at=(performed - timedelta(hours=1)).isoformat(), density_per_m2=900.0
    )
    rv = verifier.post(
        f"/api/v1/observations/{bad['id']}/review", json={"decision": "rejected", "comment": "错"}
    )
    assert rv.status_code == 200, rv.get_json()
    assert good["site_id"] == bad["site_id"]
    body = {
        "client_uuid": str(uuid.uuid4()),
        "site_id": good["site_id"],
        "method": "hand_collection",
        "performed_at": performed.isoformat(),
        "details": {"kg_removed": 3},
    }
    r = api.post("/api/v1/control-operations", json=body)
    op = r.get_json()
    done = _complete(api, op["follow_ups"][0]["id"], density_per_m2=10.0).get_json()
    assert done["efficacy"]["density_reduction_pct"] == 50.0  # (20 - 10) / 20, the verified baseline


def test_the_supervisor_is_told_of_due_and_overdue_re_inspections(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    boss = make_user("supervisor")
    surveyor = api_as("surveyor")
    treat(surveyor, method="hand_collection", days_ago=8)  # +7 one day overdue, +14 later
    treat(surveyor, method="hand_collection", days_ago=7)  # +7 due today
    report = reminders.queue_follow_up_reminders()
    db.session.commit()
    assert (report.due, report.overdue, report.escalated, report.supervised) == (1, 1, 0, 2)
    [letter] = _notes(boss.id)  # one letter, both re-inspections, named with their assignee
    assert len(letter.data["items"]) == 2 and all(i["supervised"] for i in letter.data["items"])
    assert letter.body.count(surveyor.user.display_name) == 2
    assert {i["kind"] for i in letter.data["items"]} == {"follow_up_due", "follow_up_overdue"}
    # A second sweep tells nobody again.
    again = reminders.queue_follow_up_reminders()
    assert (again.due, again.overdue, again.supervised) == (0, 0, 0)


def test_the_follow_up_page_names_the_treatment_in_the_readers_language(
    api_as: Any, treat: Any, web_as: Any
) -> None:
    op, _ = treat(api_as("surveyor", "agriculture"), method="chemical", days_ago=10)
    path = f"/follow-ups/{op['follow_ups'][0]['id']}"
    zh = web_as("supervisor", "agriculture").get(path).get_data(as_text=True)
    en = web_as("supervisor", "agriculture", locale="en").get(path).get_data(as_text=True)
    assert "化学防治" in zh and "(+1 天)" in zh
    assert "Chemical" in en and "化学防治" not in en and "(+1 days)" in en
