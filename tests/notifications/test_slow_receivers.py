"""A receiver answering a byte at a time, or down, costs a sweep one message's time, not its whole batch.

Each delivery has a time limit from connecting to the answer (IAS_DELIVERY_DEADLINE_SECONDS, under the
claim's lease); once a receiver is found down, its other messages in the sweep are not tried but wait for
the next attempt (app/notifications/delivery.py, docs/contract.md "Notification")."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import Organization
from app.config import ConfigError, load_config
from app.extensions import db
from app.notifications import channels, jobs
from app.notifications.deadline import Deadline
from app.notifications.delivery import SendSettings, deliver
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Webhook, WebhookFormat
from app.notifications.outbox import Claimed
from tests.notifications.servers import HttpReceiver, SmtpServer


def _hook(url: str) -> Webhook:
    org_id = db.session.scalar(sa.select(Organization.id).where(Organization.code == "forestry"))
    hook = Webhook(organization_id=org_id, name="群", url=url, format=WebhookFormat.GENERIC)
    db.session.add(hook)
    db.session.commit()
    return hook


def _queue_webhook(hook: Webhook, key: str) -> None:
    db.session.add(
        Delivery(
            channel=DeliveryChannel.WEBHOOK,
            recipient=f"webhook:{hook.id}",
            event_key=key,
            webhook_id=hook.id,
            message={"subject": key, "body": "今日到期", "links": [], "data": {}},
        )
    )
    db.session.commit()


def _queue_email(user_id: int, key: str) -> None:
    db.session.add(
        Delivery(
            channel=DeliveryChannel.EMAIL,
            recipient=f"user:{user_id}",
            event_key=key,
            user_id=user_id,
            message={"subject": key, "body": "今日到期", "links": [], "data": {}},
        )
    )
    db.session.commit()


def _rows() -> dict[str, Delivery]:
    return {row.event_key: row for row in db.session.scalars(sa.select(Delivery))}


def _webhook_item(url: str) -> Claimed:
    return Claimed(
        id=1,
        channel=DeliveryChannel.WEBHOOK,
        attempts=1,
        message={"subject": "复查提醒", "body": "今日到期", "links": [], "data": {}},
        webhook_url=url,
        webhook_format="generic",
        webhook_active=True,
        lane="webhooks:1",
        delivery_id="d-1",
    )


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_deadline(
    http_receiver: HttpReceiver,
) -> None:
    # Every byte comes 0.2 s after the last, well inside the 5 s read timeout; the whole would take 200 s.
    http_receiver.trickle_next(1, every_s=0.2)
    settings = SendSettings(
        smtp=None, webhook_allowed_hosts=frozenset({"127.0.0.1"}), webhook_timeout_s=5.0, deadline_s=1.0
    )
    started = time.monotonic()
    with pytest.raises(channels.DeliveryError) as failure:
        deliver(_webhook_item(f"{http_receiver.url}/hook?access_token=secret"), settings)
    took = time.monotonic() - started
    assert 1.0 <= took < 4.0
    error = failure.value
    assert not error.permanent and error.receiver_down
    assert f"webhook 127.0.0.1:{http_receiver.port} did not finish within 1 s" in error.reason
    assert "secret" not in error.reason  # the URL's token is never in an error
    assert len(http_receiver.requests) == 1


def test_a_quick_receiver_is_not_cut_off(http_receiver: HttpReceiver) -> None:
    settings = SendSettings(
        smtp=None, webhook_allowed_hosts=frozenset({"127.0.0.1"}), webhook_timeout_s=5.0, deadline_s=1.0
    )
    deliver(_webhook_item(f"{http_receiver.url}/hook"), settings)
    time.sleep(1.2)  # past the deadline, after the delivery: its timer was cancelled, nothing shut
    assert http_receiver.requests[0].status == 200


@pytest.fixture
def trickling_smtp() -> Iterator[int]:
    """A mail server that sends its greeting a byte every 0.2 s and never finishes it."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                while not stop.wait(0.2):
                    try:
                        connection.sendall(b"2")
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_a_mail_server_answering_a_byte_at_a_time_is_cut_off_at_the_deadline(
    app: Flask, trickling_smtp: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", trickling_smtp)
    monkeypatch.setitem(app.config, "IAS_DELIVERY_DEADLINE_SECONDS", 1.0)
    item = Claimed(
        id=1,
        channel=DeliveryChannel.EMAIL,
        attempts=1,
        message={"subject": "复查提醒", "body": "今日到期", "links": [], "data": {}},
        email="zhuguan@example.cn",
    )
    started = time.monotonic()
    with pytest.raises(channels.DeliveryError) as failure:
        deliver(item)
    assert time.monotonic() - started < 4.0  # the SMTP read timeout alone (10 s) would never end it
    assert not failure.value.permanent
    assert f"SMTP server 127.0.0.1:{trickling_smtp} did not finish within 1 s" in failure.value.reason


def test_a_deadline_shuts_only_what_it_watched_and_only_once_expired() -> None:
    left, right = socket.socketpair()
    with left, right, Deadline(0.3) as deadline:
        deadline.watch(left)
        right.sendall(b"x")
        assert left.recv(1) == b"x"  # before the deadline: the connection works
        assert left.recv(1) == b""  # then the wait is ended (not by the peer: it sent nothing more)
        assert deadline.expired
    one, other = socket.socketpair()
    with one, other:
        with Deadline(0.3) as unexpired:
            unexpired.watch(one)
        time.sleep(0.5)  # past its time, after it ended: nothing is shut
        one.sendall(b"y")
        assert other.recv(1) == b"y" and not unexpired.expired
    with pytest.raises(ValueError):
        Deadline(0)


def test_a_receiver_found_down_is_not_tried_again_in_the_same_sweep(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three messages to a receiver that does not answer, one to a working one of the same bureau: the
    sweep waits for one timeout, not three, and the working receiver gets its message."""
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_TIMEOUT_SECONDS", 1.0)
    with HttpReceiver() as silent, HttpReceiver() as working:
        silent.stall_next(10)
        down, up = _hook(f"{silent.url}/down"), _hook(f"{working.url}/up")
        for i in range(3):
            _queue_webhook(down, f"down:{i}")
        _queue_webhook(up, "up:0")
        started = time.monotonic()
        report = jobs.sweep().sent
        took = time.monotonic() - started
        assert len(silent.requests) == 1 and len(working.requests) == 1
    assert took < 2.5  # one read timeout (1 s), not three
    assert (report.sent, report.retrying, report.deferred, report.failed) == (1, 1, 2, 0)
    rows = _rows()
    assert rows["up:0"].status == DeliveryStatus.SENT
    tried = rows["down:0"]
    assert tried.status == DeliveryStatus.PENDING and "unreachable" in (tried.last_error or "")
    for key in ("down:1", "down:2"):
        row = rows[key]
        assert row.status == DeliveryStatus.PENDING
        assert (row.last_error or "").startswith("not tried: an earlier message found the receiver down")
        assert row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)
        assert row.lease_owner is None


def test_the_messages_not_tried_go_out_with_the_receiver_once_it_is_back(
    app: Flask, smtp_server: SmtpServer, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    user = make_user("supervisor", email="zhuguan@example.cn")
    for i in range(3):
        _queue_email(user.id, f"mail:{i}")
    smtp_server.drop_next(1)  # the server drops the connection at the first message
    report = jobs.sweep().sent
    assert (report.sent, report.retrying, report.deferred) == (0, 1, 2)
    assert smtp_server.messages == []
    # The next attempt is due: every message goes, each once.
    db.session.execute(sa.update(Delivery).values(next_attempt_at=datetime.now(UTC)))
    db.session.commit()
    assert jobs.sweep().sent.sent == 3
    assert sorted(str(m.message["Subject"]) for m in smtp_server.messages) == ["mail:0", "mail:1", "mail:2"]


def test_one_recipient_refused_for_now_does_not_hold_back_the_others(
    app: Flask, smtp_server: SmtpServer, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4yz for one address is that address's, not the server's: the other e-mails are sent."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    user = make_user("supervisor", email="zhuguan@example.cn")
    for i in range(3):
        _queue_email(user.id, f"mail:{i}")
    smtp_server.fail_next(1, reply="450 4.2.1 Mailbox busy", stage="RCPT")
    report = jobs.sweep().sent
    assert (report.sent, report.retrying, report.deferred) == (2, 1, 0)


@pytest.mark.parametrize(("deadline", "lease"), [("300", "300"), ("0", "300"), ("400", "300")])
def test_a_deadline_not_under_the_lease_is_refused_at_start(deadline: str, lease: str) -> None:
    with pytest.raises(ConfigError, match="IAS_DELIVERY_DEADLINE_SECONDS"):
        load_config(
            {
                "SECRET_KEY": "k" * 40,
                "IAS_DELIVERY_DEADLINE_SECONDS": deadline,
                "IAS_DELIVERY_LEASE_SECONDS": lease,
            }
        )
