"""A mail server or a webhook receiver down for an hour: the reminders queued as it went down still arrive.

Transient failures are retried for IAS_DELIVERY_RETRY_HOURS from the first attempt, with waits that stop
growing at IAS_DELIVERY_MAX_BACKOFF_SECONDS; permanent ones still fail at once (test_reminders.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.notifications import jobs
from app.notifications.delivery import RetrySettings, next_attempt
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Webhook, WebhookFormat
from app.notifications.outbox import Claimed
from tests.notifications.servers import HttpReceiver, SmtpServer

KEY = "follow_up_reminders:outage:1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _queue(channel: DeliveryChannel, **target: Any) -> None:
    recipient = f"user:{target['user_id']}" if "user_id" in target else f"webhook:{target['webhook_id']}"
    db.session.add(
        Delivery(
            channel=channel,
            recipient=recipient,
            event_key=KEY,
            message={"subject": "复查提醒", "body": "今日到期", "links": [], "data": {}},
            **target,
        )
    )
    db.session.commit()


def _outage(hours: float, check: Callable[[Delivery], None] | None = None) -> Delivery:
    """Sweep through an outage of `hours`, jumping virtual time from one attempt to the next (the sweep
    runs every minute); returns the row as the outage ends."""
    down_for = timedelta(hours=hours)
    elapsed = timedelta(0)
    while True:
        jobs.sweep()
        row = db.session.scalar(sa.select(Delivery).where(Delivery.event_key == KEY))
        assert row is not None
        if check:
            check(row)
        if row.status != DeliveryStatus.PENDING:
            return row
        wait = max(row.next_attempt_at - datetime.now(UTC), timedelta(seconds=60))
        if elapsed + wait >= down_for:
            return row
        elapsed += wait
        # Move the row's clock instead of the world's: the attempt is due now, and its first attempt
        # was `elapsed` ago.
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id == row.id)
            .values(
                next_attempt_at=datetime.now(UTC),
                first_attempt_at=row.first_attempt_at - wait,
            )
        )
        db.session.commit()


def _not_failed(row: Delivery) -> None:
    assert row.status != DeliveryStatus.FAILED, f"given up after {row.attempts} attempts: {row.last_error}"


def test_a_mail_server_down_for_an_hour_loses_no_reminder(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", _closed_port())  # connection refused: the server is down
    user = make_user("supervisor", email="zhuguan@example.cn")
    _queue(DeliveryChannel.EMAIL, user_id=user.id)
    row = _outage(1, _not_failed)
    assert row.status == DeliveryStatus.PENDING and "unreachable" in (row.last_error or "")
    with SmtpServer() as smtp:  # the mail server is back: the reminder goes out
        monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)
        db.session.execute(sa.update(Delivery).values(next_attempt_at=datetime.now(UTC)))
        db.session.commit()
        jobs.sweep()
        assert len(smtp.messages) == 1
    assert db.session.scalar(sa.select(Delivery.status).where(Delivery.id == row.id)) == DeliveryStatus.SENT


def test_a_webhook_receiver_answering_503_for_an_hour_loses_no_reminder(
    make_user: Any, http_receiver: HttpReceiver
) -> None:
    user = make_user("supervisor")
    hook = Webhook(
        organization_id=user.organization_id,
        name="林业局群",
        url=f"{http_receiver.url}/hook",
        format=WebhookFormat.GENERIC,
    )
    db.session.add(hook)
    db.session.commit()
    _queue(DeliveryChannel.WEBHOOK, webhook_id=hook.id)
    http_receiver.fail_next(10_000, status=503)
    row = _outage(1, _not_failed)
    assert row.status == DeliveryStatus.PENDING and "503" in (row.last_error or "")
    http_receiver.recover()
    db.session.execute(sa.update(Delivery).values(next_attempt_at=datetime.now(UTC)))
    db.session.commit()
    jobs.sweep()
    assert db.session.scalar(sa.select(Delivery.status).where(Delivery.id == row.id)) == DeliveryStatus.SENT


def test_an_outage_longer_than_the_window_fails_the_delivery_with_its_reason(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", _closed_port())
    monkeypatch.setitem(app.config, "IAS_DELIVERY_RETRY_HOURS", 3.0)
    user = make_user("supervisor", email="zhuguan@example.cn")
    _queue(DeliveryChannel.EMAIL, user_id=user.id)
    row = _outage(4)
    assert row.status == DeliveryStatus.FAILED and "unreachable" in (row.last_error or "")


def test_waits_double_up_to_the_cap_and_the_last_attempt_closes_the_window() -> None:
    retry = RetrySettings(
        window=timedelta(hours=24), first_wait=timedelta(seconds=60), max_wait=timedelta(hours=1)
    )
    start = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)

    def item(attempts: int) -> Claimed:
        return Claimed(
            id=1, channel=DeliveryChannel.EMAIL, attempts=attempts, message={}, first_attempt_at=start
        )

    assert next_attempt(item(1), retry, start) == start + timedelta(minutes=1)
    assert next_attempt(item(4), retry, start) == start + timedelta(minutes=8)
    assert next_attempt(item(7), retry, start) == start + timedelta(hours=1)  # 64 minutes, capped
    assert next_attempt(item(500), retry, start) == start + timedelta(hours=1)
    late = start + timedelta(hours=23, minutes=30)
    assert next_attempt(item(30), retry, late) == start + timedelta(hours=24)
    assert next_attempt(item(31), retry, start + timedelta(hours=24)) is None
    # A receiver's Retry-After is honoured, even past the cap.
    assert next_attempt(item(1), retry, start, retry_after_s=7200) == start + timedelta(hours=2)
