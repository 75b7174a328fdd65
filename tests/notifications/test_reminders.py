"""Reminders end to end: follow-ups → outbox → a real SMTP server and a real webhook receiver."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import local_today
from app.extensions import db
from app.notifications import delivery, digest, jobs, outbox, reminders
from app.notifications.models import Delivery, DeliveryStatus, Webhook, WebhookFormat
from app.scheduler import lease
from tests.notifications.servers import HttpReceiver, SmtpServer


@pytest.fixture
def mail(app: Flask, smtp_server: SmtpServer) -> Any:
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "IAS_BASE_URL")}
    app.config.update(
        MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, IAS_BASE_URL="https://ias.example.cn"
    )
    yield smtp_server
    app.config.update(saved)


@pytest.fixture
def scenario(api_as: Any, make_user: Any, treat: Any, http_receiver: HttpReceiver) -> dict[str, Any]:
    """A chemical treatment of 福寿螺 10 days ago, assigned to a field colleague; a hand collection 7 days
    ago (its +7 check is due today) left to the surveyor who recorded it; the bureau's WeCom robot
    listening."""
    supervisor = make_user("supervisor", email="zhuguan@example.cn")
    colleague = make_user("surveyor", email="jishuyuan@example.cn")
    surveyor = api_as("surveyor")
    chemical, _ = treat(surveyor, method="chemical", days_ago=10, assignee_id=colleague.id)
    hand, _ = treat(surveyor, method="hand_collection", days_ago=7)
    hook = Webhook(
        organization_id=supervisor.organization_id,
        name="林业局群",
        url=f"{http_receiver.url}/cgi-bin/webhook/send?key=k",
        format=WebhookFormat.WECOM,
    )
    db.session.add(hook)
    db.session.commit()
    return {
        "supervisor": supervisor,
        "colleague": colleague,
        "surveyor": surveyor.user,  # type: ignore[attr-defined]
        "chemical": chemical,
        "hand": hand,
    }


def _recipients(smtp: SmtpServer) -> Counter[str]:
    return Counter(str(m.message["To"]) for m in smtp.messages)


def test_one_sweep_sends_exactly_the_reminders_due_and_a_second_nothing(
    mail: SmtpServer, http_receiver: HttpReceiver, scenario: dict[str, Any], api_as: Any
) -> None:
    report = jobs.sweep()
    assert (report.queued.due, report.queued.overdue, report.queued.escalated) == (1, 3, 3)
    # +1, +3, +7 of the chemical treatment are overdue (to the colleague), and escalated to the
    # supervisor (3+ days late); the hand collection's +7 is due today (to the surveyor who recorded it).
    # One letter per person, however many reminders it carries.
    surveyor_mail = scenario["surveyor"].email
    assert _recipients(mail) == {"jishuyuan@example.cn": 1, "zhuguan@example.cn": 1, surveyor_mail: 1}
    letters = {str(m.message["To"]): m.message for m in mail.messages}
    text = {to: m.get_body(preferencelist=("plain",)).get_content() for to, m in letters.items()}
    chemical_site = scenario["chemical"]["site_code"]
    assert str(letters["jishuyuan@example.cn"]["Subject"]).startswith("【复查提醒】3 条")
    assert text["jishuyuan@example.cn"].count(f"福寿螺发生点 {chemical_site}") == 3
    assert text["jishuyuan@example.cn"].count("已逾期") == 3
    assert text["zhuguan@example.cn"].count("提请督办") == 3
    due_today = letters[surveyor_mail]
    assert "【复查提醒】" in str(due_today["Subject"]) and "今日到期" in str(due_today["Subject"])
    assert f"https://ias.example.cn/sites/{scenario['hand']['site_id']}" in text[surveyor_mail]
    # The group robot gets one message with the due and overdue ones (escalations are not for the group).
    assert len(http_receiver.requests) == 1
    robot = http_receiver.requests[0].json
    assert robot["msgtype"] == "markdown" and robot["markdown"]["content"].count("福寿螺发生点") == 4
    assert report.sent.sent == 4

    again = jobs.sweep()
    assert (again.queued.due, again.queued.overdue, again.queued.escalated) == (0, 0, 0)
    assert again.sent.claimed == 0
    assert len(mail.messages) == 3 and len(http_receiver.requests) == 1

    inbox = api_as(scenario["colleague"]).get("/api/v1/notifications").get_json()
    assert inbox["total"] == 1
    [item] = inbox["items"]
    assert item["kind"] == "follow_up_reminders"
    assert sorted(i["follow_up_id"] for i in item["data"]["items"]) == sorted(
        f["id"] for f in scenario["chemical"]["follow_ups"] if f["overdue"]
    )


def test_reminders_a_later_sweep_finds_make_a_new_letter(mail: SmtpServer, scenario: dict[str, Any]) -> None:
    """The follow-ups already reminded are not repeated; the next day's are a letter of their own."""
    jobs.sweep()
    tomorrow = local_today() + timedelta(days=1)
    report = jobs.sweep(today=tomorrow)
    # The hand collection's +7 is overdue now (the others were already reminded as overdue): a letter to
    # its assignee, and the supervisor's copy.
    assert (report.queued.due, report.queued.overdue, report.queued.supervised) == (0, 1, 1)
    assert len(mail.messages) == 5
    assert _recipients(mail)["zhuguan@example.cn"] == 2


def test_rescheduled_follow_up_is_reminded_again(
    mail: SmtpServer, scenario: dict[str, Any], api_as: Any
) -> None:
    jobs.sweep()
    first = scenario["chemical"]["follow_ups"][0]
    supervisor = api_as(scenario["supervisor"])
    today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
    assert (
        supervisor.patch(f"/api/v1/follow-ups/{first['id']}", json={"due_on": today.isoformat()}).status_code
        == 200
    )
    report = jobs.sweep()
    assert report.queued.due == 1


def test_a_sweep_killed_after_claiming_loses_nothing_and_resends_at_most_once(
    mail: SmtpServer, scenario: dict[str, Any]
) -> None:
    reminders.queue_follow_up_reminders()
    db.session.commit()
    crashed = "crashed-sweep"
    claimed = outbox.claim(crashed)
    assert len(claimed) == 4  # three letters and the group robot's message
    # It sent the first one, then died before marking it sent.
    delivery.deliver(claimed[0])
    assert len(mail.messages) == 1
    # Until the lease lapses nobody else takes them.
    assert jobs.sweep().sent.claimed == 0
    db.session.execute(sa.update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    report = jobs.sweep()
    assert report.sent.sent == 4
    per_message = Counter((str(m.message["To"]), str(m.message["Subject"])) for m in mail.messages)
    assert len(per_message) == 3  # every e-mail arrived …
    assert max(per_message.values()) == 2 and sum(per_message.values()) == 4  # … one of them twice
    statuses = db.session.scalars(sa.select(Delivery.status)).all()
    assert set(statuses) == {DeliveryStatus.SENT}


def test_a_failing_mail_server_means_retries_then_a_recorded_failure(
    app: Flask, mail: SmtpServer, scenario: dict[str, Any]
) -> None:
    mail.fail_next(100, reply="451 4.3.0 Try again later")
    first = jobs.sweep()
    assert first.sent.retrying == 3 and first.sent.sent == 1  # the webhook went
    waiting = db.session.scalars(sa.select(Delivery).where(Delivery.status == DeliveryStatus.PENDING)).all()
    assert len(waiting) == 3
    assert all(d.next_attempt_at > datetime.now(UTC) and "451" in (d.last_error or "") for d in waiting)
    assert jobs.sweep().sent.claimed == 0  # not before the backoff has passed
    # Still failing once the retry window (IAS_DELIVERY_RETRY_HOURS from the first attempt) is over.
    window = timedelta(hours=app.config["IAS_DELIVERY_RETRY_HOURS"])
    db.session.execute(
        sa.update(Delivery).values(
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
            first_attempt_at=datetime.now(UTC) - window,
        )
    )
    db.session.commit()
    second = jobs.sweep()
    assert second.sent.failed == 3
    failed = db.session.scalars(sa.select(Delivery).where(Delivery.status == DeliveryStatus.FAILED)).all()
    assert len(failed) == 3 and all(d.attempts == 2 and "451" in (d.last_error or "") for d in failed)


def test_a_refused_address_fails_at_once(mail: SmtpServer, scenario: dict[str, Any]) -> None:
    mail.fail_next(1, reply="550 5.1.1 No such user", stage="RCPT")
    report = jobs.sweep()
    assert report.sent.failed == 1
    assert report.sent.sent == 3


def test_digest_readers_get_one_mail_a_day(mail: SmtpServer, scenario: dict[str, Any]) -> None:
    colleague = scenario["colleague"]
    colleague.notify_digest = True
    db.session.commit()
    jobs.sweep()
    assert "jishuyuan@example.cn" not in _recipients(mail)
    assert digest.queue_digests() == 1
    db.session.commit()
    jobs.sweep()
    digests = [m.message for m in mail.messages if str(m.message["To"]) == "jishuyuan@example.cn"]
    assert len(digests) == 1
    assert "【每日汇总】" in str(digests[0]["Subject"])
    assert digest.queue_digests() == 0  # nothing new since


def test_returned_record_reaches_the_surveyor(
    mail: SmtpServer, api_as: Any, make_user: Any, make_observation: Any
) -> None:
    surveyor = api_as(make_user("surveyor", email="diaocha@example.cn"))
    record = make_observation(surveyor)
    api_as("verifier").post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "returned", "comment": "请补拍卵块"}
    )
    inbox = surveyor.get("/api/v1/notifications?unread=true").get_json()
    assert [n["kind"] for n in inbox["items"]] == ["observation_returned"]
    assert "请补拍卵块" in inbox["items"][0]["body"]
    jobs.sweep()
    assert [str(m.message["To"]) for m in mail.messages] == ["diaocha@example.cn"]
    marked = surveyor.post("/api/v1/notifications/read", json={}).get_json()
    assert marked == {"marked": 1}
    assert surveyor.get("/api/v1/notifications?unread=true").get_json()["total"] == 0


def test_only_one_scheduler_holds_the_lease(app: Flask) -> None:
    assert lease.hold_lease("test-lease", "first", 60)
    assert not lease.hold_lease("test-lease", "second", 60)
    assert lease.hold_lease("test-lease", "first", 60)  # renewal
    db.session.execute(
        sa.text("UPDATE scheduler_leases SET expires_at = :t"),
        {"t": datetime.now(UTC) - timedelta(seconds=1)},
    )
    assert lease.hold_lease("test-lease", "second", 60)  # the first died
    lease.release_lease("test-lease", "second")


def test_notification_settings(api_as: Any) -> None:
    api = api_as("surveyor")
    assert api.get("/api/v1/me/notification-settings").get_json() == {"email": True, "digest": False}
    assert api.patch("/api/v1/me/notification-settings", json={"digest": True}).get_json() == {
        "email": True,
        "digest": True,
    }
    assert api.patch("/api/v1/me/notification-settings", json={"digest": "often"}).status_code == 422


def test_webhooks_are_managed_by_the_bureau(api_as: Any, http_receiver: HttpReceiver) -> None:
    admin = api_as("bureau_admin")
    created = admin.post(
        "/api/v1/organizations/forestry/webhooks",
        json={
            "name": "钉钉群",
            "url": f"{http_receiver.url}/robot/send",
            "format": "dingtalk",
            "secret": "SEC1",
        },
    )
    assert created.status_code == 201
    assert "url" not in created.get_json()  # the URL carries the robot's token
    assert (
        admin.post(
            "/api/v1/organizations/forestry/webhooks",
            json={"name": "x", "url": "ftp://x", "format": "generic"},
        ).status_code
        == 422
    )
    assert (
        api_as("bureau_admin", "agriculture").get("/api/v1/organizations/forestry/webhooks").status_code
        == 403
    )
    assert api_as("surveyor").get("/api/v1/organizations/forestry/webhooks").status_code == 403
    assert admin.delete(f"/api/v1/webhooks/{created.get_json()['id']}").status_code == 204


def test_a_digest_never_repeats_what_was_sent_on_its_own(mail: SmtpServer, scenario: dict[str, Any]) -> None:
    colleague = scenario["colleague"]
    jobs.sweep()  # the colleague gets the reminder by e-mail, on its own
    alone = [m for m in mail.messages if str(m.message["To"]) == "jishuyuan@example.cn"]
    assert alone  # the reminders of the treatment assigned to them
    colleague.notify_digest = True  # then switches to the daily digest
    db.session.commit()
    assert digest.queue_digests() == 0
    db.session.commit()
    jobs.sweep()
    assert [m for m in mail.messages if str(m.message["To"]) == "jishuyuan@example.cn"] == alone
