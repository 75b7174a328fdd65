"""A sender whose claim lapsed while its lane was still working (a slow mail server) does not send what
another sender has since taken over: each claim is renewed just before its message is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.notifications import delivery, jobs, outbox
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from tests.notifications.servers import SmtpServer


@pytest.fixture
def three_reminders(
    app: Flask, smtp_server: SmtpServer, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    user = make_user("supervisor", email="zhuguan@example.cn")
    for i in range(3):
        db.session.add(
            Delivery(
                channel=DeliveryChannel.EMAIL,
                recipient=f"user:{user.id}",
                event_key=f"follow_up_reminders:slow:{i}",
                user_id=user.id,
                message={"subject": f"复查提醒 {i}", "body": "今日到期", "links": [], "data": {}},
            )
        )
    db.session.commit()


def _lapse() -> None:
    """Every claim's lease runs out (the sender's lane was still busy with earlier messages)."""
    db.session.execute(sa.update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()


def _subjects(smtp: SmtpServer) -> list[str]:
    return sorted(str(m.message["Subject"]) for m in smtp.messages)


@pytest.mark.usefixtures("three_reminders")
def test_a_lapsed_claim_is_not_sent_by_its_first_owner_too(smtp_server: SmtpServer) -> None:
    claimed_by_a = outbox.claim("scheduler-A")
    _lapse()
    # Sender B (a second scheduler, or cron) takes the lapsed rows over and sends them.
    assert jobs.sweep(owner="scheduler-B").sent.sent == 3
    # A's lane goes on with what it claimed: every row is B's now, so A sends none.
    report = delivery.send_claimed(claimed_by_a, "scheduler-A")
    assert (report.sent, report.taken_over) == (0, 3)
    assert _subjects(smtp_server) == ["复查提醒 0", "复查提醒 1", "复查提醒 2"]
    assert set(db.session.scalars(sa.select(Delivery.status))) == {DeliveryStatus.SENT}


@pytest.mark.usefixtures("three_reminders")
def test_a_lapsed_claim_not_yet_taken_over_is_still_sent_and_renewed(smtp_server: SmtpServer) -> None:
    claimed = outbox.claim("scheduler-A")
    _lapse()
    assert outbox.renew("scheduler-A", claimed[0].id)  # nobody else took it: still A's, lease renewed
    lease = db.session.scalar(sa.select(Delivery.lease_until).where(Delivery.id == claimed[0].id))
    assert lease is not None and lease > datetime.now(UTC)
    assert not outbox.renew("scheduler-B", claimed[0].id)  # not B's to renew
    assert delivery.send_claimed(claimed, "scheduler-A").sent == 3
    assert len(smtp_server.messages) == 3


@pytest.mark.usefixtures("three_reminders")
def test_overlapping_cron_runs_send_each_reminder_once(app: Flask, smtp_server: SmtpServer) -> None:
    """`flask reminders send-due` run by cron while the last run is still sending (its claims lapsed)."""
    first_run = outbox.claim("cron-1")
    _lapse()
    result = app.test_cli_runner().invoke(args=["reminders", "send-due"])
    assert result.exit_code == 0, result.output
    assert "3 sent" in result.output
    assert delivery.send_claimed(first_run, "cron-1").sent == 0
    assert _subjects(smtp_server) == ["复查提醒 0", "复查提醒 1", "复查提醒 2"]
