"""Survey unit reminders (docs/surveys.md, Reminders): the assignee of a unit not started as its due day
nears, the campaign's supervisor when it is overdue; once per unit and day, whether the pass runs twice or
again after a crash; through the inbox, e-mail each event, or the daily digest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app import uow
from app.clock import local_today
from app.extensions import db
from app.notifications import digest
from app.notifications.models import Delivery, Notification, NotificationKind
from app.surveys import reminders
from app.surveys.jobs import remind_survey_units
from app.surveys.models import UnitReminder
from tests.surveys.coverage_fixtures import add_record, add_unit, make_campaign


def _inbox(user: Any) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.user_id == user.id, Notification.kind == NotificationKind.SURVEY_UNIT_REMINDERS
            )
            .order_by(Notification.id)
        )
    )


def _unit_ids(notification: Notification) -> list[int]:
    return [item["unit_id"] for item in notification.data["items"]]


@pytest.fixture
def plan(make_user: Any, api_as: Any, make_observation: Any) -> dict[str, Any]:
    supervisor = make_user("supervisor", display_name="主管")
    a = make_user("surveyor", display_name="甲")
    b = make_user("surveyor", display_name="乙")
    campaign = make_campaign(supervisor)
    today = local_today()
    day = timedelta(days=1)
    units = {
        "due_soon": add_unit(campaign, "500155001001", assignee=a, due_on=today + 2 * day),
        "covered_soon": add_unit(campaign, "500155002008", assignee=a, due_on=today + day),
        "in_progress_today": add_unit(campaign, "500155002009", assignee=a, due_on=today),
        "far_ahead": add_unit(campaign, "500155003001", assignee=b, due_on=today + 10 * day),
        "overdue": add_unit(campaign, "500155004", assignee=b, due_on=today - 3 * day),
        "long_overdue": add_unit(campaign, "500155005", assignee=b, due_on=today - 20 * day),
        "covered_late": add_unit(campaign, "500155102", assignee=a, due_on=today - day),
        "unassigned_soon": add_unit(campaign, "500155103", assignee=None, due_on=today),
    }
    api = api_as(a)
    add_record(make_observation, api, lon=107.81, lat=30.66, campaign=campaign, village_code="500155002008")
    add_record(make_observation, api, lon=107.81, lat=30.66, campaign=campaign, township_code="500155102")
    db.session.commit()
    return {"supervisor": supervisor, "a": a, "b": b, "campaign": campaign, "units": units, "today": today}


def test_due_soon_to_the_assignee_overdue_to_the_supervisor(plan: dict[str, Any]) -> None:
    units, today = plan["units"], plan["today"]
    report = reminders.queue_unit_reminders(today)
    assert (report.due, report.overdue, report.messages) == (1, 1, 2)

    (to_a,) = _inbox(plan["a"])
    assert _unit_ids(to_a) == [units["due_soon"].id]
    assert "500155001001" not in to_a.subject and "南华社区" in to_a.subject  # the village by its name
    (to_supervisor,) = _inbox(plan["supervisor"])
    assert _unit_ids(to_supervisor) == [units["overdue"].id]
    assert to_supervisor.data["items"][0]["days_overdue"] == 3
    assert _inbox(plan["b"]) == []  # b's units: one far ahead, the overdue ones go to the supervisor
    # E-mailed each event (neither chose the digest).
    recipients = set(db.session.scalars(sa.select(Delivery.user_id)))
    assert recipients == {plan["a"].id, plan["supervisor"].id}

    # The same day again: nothing new.
    again = reminders.queue_unit_reminders(today)
    assert (again.due, again.overdue, again.messages) == (0, 0, 0)
    assert len(_inbox(plan["a"])) == 1 and len(_inbox(plan["supervisor"])) == 1

    # The next day: reminded again (the unit is still not started, now due in one day); the two units due
    # today and not covered are overdue by then, the unassigned one too: the supervisor hears of three.
    reminders.queue_unit_reminders(today + timedelta(days=1))
    assert len(_inbox(plan["a"])) == 2 and len(_inbox(plan["supervisor"])) == 2
    assert sorted(_unit_ids(_inbox(plan["supervisor"])[1])) == sorted(
        [units["overdue"].id, units["in_progress_today"].id, units["unassigned_soon"].id]
    )
    marks = db.session.execute(sa.select(UnitReminder.unit_id, UnitReminder.kind, UnitReminder.day)).all()
    assert sorted(marks) == sorted(
        [
            (units["due_soon"].id, "due_soon", today),
            (units["overdue"].id, "overdue", today),
            (units["due_soon"].id, "due_soon", today + timedelta(days=1)),
            (units["overdue"].id, "overdue", today + timedelta(days=1)),
            (units["in_progress_today"].id, "overdue", today + timedelta(days=1)),
            (units["unassigned_soon"].id, "overdue", today + timedelta(days=1)),
        ]
    )


def test_a_crash_keeps_nothing_and_the_rerun_reminds_once(plan: dict[str, Any]) -> None:
    today = plan["today"]
    with pytest.raises(RuntimeError), uow.unit():
        reminders.queue_unit_reminders(today)
        raise RuntimeError("the scheduler died before its commit")
    assert _inbox(plan["a"]) == [] and db.session.scalar(sa.select(sa.func.count(UnitReminder.unit_id))) == 0

    assert remind_survey_units(today) == "survey units reminded: 1 due soon, 1 overdue; 2 messages"
    assert remind_survey_units(today) == ""
    assert len(_inbox(plan["a"])) == 1 and len(_inbox(plan["supervisor"])) == 1
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 2


def test_digest_readers_get_it_in_the_digest(plan: dict[str, Any]) -> None:
    plan["a"].notify_digest = True
    db.session.commit()
    reminders.queue_unit_reminders(plan["today"])
    assert db.session.scalar(sa.select(Delivery.id).where(Delivery.user_id == plan["a"].id)) is None
    assert digest.queue_digests(plan["today"]) == 1
    letter = db.session.scalars(sa.select(Delivery).where(Delivery.user_id == plan["a"].id)).one()
    assert "南华社区" in letter.message["body"]


def test_without_an_eligible_creator_the_bureau_admins_hear_of_overdue_units(
    plan: dict[str, Any], make_user: Any
) -> None:
    plan["supervisor"].active = False
    admin = make_user("bureau_admin", display_name="局管理员")
    other_bureau = make_user("bureau_admin", organization="agriculture")
    db.session.commit()
    reminders.queue_unit_reminders(plan["today"])
    (letter,) = _inbox(admin)
    assert _unit_ids(letter) == [plan["units"]["overdue"].id]
    assert _inbox(other_bureau) == [] and _inbox(plan["supervisor"]) == []
