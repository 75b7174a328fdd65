"""One composition for every message to a person (app/notifications/letters.py): the event notices and
both reminder passes (follow-ups, survey units) write the inbox row and the e-mail the same way, with the
same keys as before they shared it."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.notifications import reminders
from app.notifications.letters import Letters, group_key
from app.notifications.models import Delivery, DeliveryChannel, Notification, NotificationKind
from app.surveys import reminders as survey_reminders
from tests.surveys.coverage_fixtures import add_unit, make_campaign


def _digest(*keys: str) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:32]


def test_a_group_key_is_the_digest_of_its_items_keys_in_any_order() -> None:
    assert group_key("p", "2026-05-01", ["b", "a"]) == f"p:2026-05-01:{_digest('a', 'b')}"
    assert group_key("p", "group", ["a", "b"]) == group_key("p", "group", ["b", "a"])


def _letter(person: Any, key: str = "export_ready:1") -> Letters:
    letters = Letters()
    letters.to_person(
        person,
        user_id=person.id,
        kind=NotificationKind.EXPORT_READY,
        key=key,
        message_key="export_ready",
        params={"id": 1, "bureau": "forestry", "rows": 3, "until": "2026-05-04 09:30"},
        data={"kind": "export_ready", "export_id": 1, "rows": 3},
    )
    return letters


def test_a_letter_is_written_in_the_persons_language_to_the_inbox_and_by_their_choice_by_mail(
    make_user: Any,
) -> None:
    english = make_user("bureau_admin", email="a@example.cn", locale="en")
    letters = _letter(english)
    [row] = letters.notifications
    [mail] = letters.deliveries
    assert (
        row["message_key"] == "export_ready"
        and row["params"]["rows"] == 3
        and row["event_key"] == "export_ready:1"
    )
    assert row["data"] == {"kind": "export_ready", "export_id": 1, "rows": 3}
    assert mail["channel"] is DeliveryChannel.EMAIL and mail["recipient"] == f"user:{english.id}"
    assert mail["message"]["subject"] == row["subject"] and mail["message"]["body"] == row["body"]
    assert row["subject"].isascii()  # English, as the person reads
    chinese = make_user("bureau_admin", email="b@example.cn", locale="zh")
    assert not _letter(chinese).notifications[0]["subject"].isascii()
    digest_reader = make_user("bureau_admin", email="c@example.cn", notify_digest=True)
    assert _letter(digest_reader).deliveries == []  # the daily digest carries it instead
    assert _letter(make_user("bureau_admin", email=None)).deliveries == []


def test_letters_are_queued_once_per_key(make_user: Any) -> None:
    person = make_user("bureau_admin", email="d@example.cn")
    assert _letter(person, "export_ready:77").insert() == 1
    _letter(person, "export_ready:77").insert()  # the same event again
    stored = db.session.scalars(
        sa.select(Notification).where(Notification.event_key == "export_ready:77")
    ).all()
    assert len(stored) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(Delivery.event_key == "export_ready:77")) == 1


def test_follow_up_reminders_keep_their_keys(api_as: Any, make_user: Any, treat: Any) -> None:
    colleague = make_user("surveyor", email="e@example.cn")
    treat(api_as("surveyor"), method="chemical", days_ago=10, assignee_id=colleague.id)
    reminders.queue_follow_up_reminders()
    [notice] = db.session.scalars(sa.select(Notification).where(Notification.user_id == colleague.id)).all()
    keys = [item["key"] for item in notice.params["items"]]
    assert len(keys) == 3  # +1, +3 and +7 overdue: one letter
    assert notice.event_key == f"follow_up_reminders:group:{_digest(*keys)}"
    assert notice.message_key == "follow_up_reminders"
    [mail] = db.session.scalars(sa.select(Delivery).where(Delivery.user_id == colleague.id)).all()
    assert mail.event_key == notice.event_key and mail.message["subject"] == notice.subject


def test_survey_unit_reminders_keep_their_keys(make_user: Any) -> None:
    supervisor = make_user("supervisor")
    surveyor = make_user("surveyor", email="f@example.cn")
    today = local_today()
    unit = add_unit(
        make_campaign(supervisor), "500155001001", assignee=surveyor, due_on=today + timedelta(days=1)
    )
    db.session.flush()
    assert survey_reminders.queue_unit_reminders(today).messages == 1
    [notice] = db.session.scalars(sa.select(Notification).where(Notification.user_id == surveyor.id)).all()
    day = today.isoformat()
    assert notice.event_key == f"survey_unit_reminders:{day}:{_digest(f'due_soon:{unit.id}:{day}')}"
    assert notice.message_key == "survey_unit_reminders" and notice.params["name"] == surveyor.display_name
    assert notice.data == {
        "kind": "survey_unit_reminders",
        "items": [
            {
                "kind": "survey_unit_due",
                "unit_id": unit.id,
                "campaign_id": unit.campaign_id,
                "due_on": (today + timedelta(days=1)).isoformat(),
                "days_overdue": 0,
            }
        ],
    }
    [mail] = db.session.scalars(sa.select(Delivery).where(Delivery.user_id == surveyor.id)).all()
    assert mail.event_key == notice.event_key and mail.message["body"] == notice.body
