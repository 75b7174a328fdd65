"""Webhooks reach public addresses only; a slow receiver holds up its own organization only; every
message carries a delivery id that a retry repeats; a digest never repeats what was sent on its own."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import Organization
from app.extensions import db
from app.notifications import channels, jobs, outbox, webhooks
from app.notifications.delivery import deliver
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Webhook, WebhookFormat
from tests.notifications.servers import HttpReceiver, SmtpServer

REFUSED_TARGETS = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://localhost:5000/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's metadata (shared address space)
    "http://100.64.0.1/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4 around 169.254.169.254
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://printer.local/hook",
]


@pytest.fixture
def no_allowlist(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", [])


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """hooks.example.com resolves to loopback (a DNS name an attacker controls can do that at any time)."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.com":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.parametrize("url", REFUSED_TARGETS)
def test_webhooks_to_addresses_off_the_internet_are_refused_when_saved(
    api_as: Any, no_allowlist: None, url: str
) -> None:
    response = api_as("bureau_admin").post(
        "/api/v1/organizations/forestry/webhooks", json={"name": "群", "url": url}
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["url"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0


def test_a_name_resolving_to_loopback_is_refused_when_saved(
    api_as: Any, no_allowlist: None, rebinding_dns: None
) -> None:
    response = api_as("bureau_admin").post(
        "/api/v1/organizations/forestry/webhooks", json={"name": "群", "url": "https://hooks.example.com/x"}
    )
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["url"]


def _queue(hook: Webhook, event_key: str, subject: str = "复查提醒") -> Delivery:
    delivery = Delivery(
        channel=DeliveryChannel.WEBHOOK,
        recipient=f"webhook:{hook.id}",
        event_key=event_key,
        webhook_id=hook.id,
        message={"subject": subject, "body": "今日到期", "links": [], "data": {"kind": "test"}},
    )
    db.session.add(delivery)
    db.session.commit()
    return delivery


def _hook(url: str, organization: str = "forestry", fmt: WebhookFormat = WebhookFormat.GENERIC) -> Webhook:
    org_id = db.session.scalar(sa.select(Organization.id).where(Organization.code == organization))
    hook = Webhook(organization_id=org_id, name="群", url=url, format=fmt)
    db.session.add(hook)
    db.session.commit()
    return hook


def test_sending_checks_the_address_again_after_resolving_it(
    app: Flask, rebinding_dns: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved while the name pointed elsewhere (or before this check existed); at send time it is loopback."""
    with HttpReceiver() as receiver:
        monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", [])
        delivery = _queue(_hook(f"http://hooks.example.com:{receiver.port}/hook"), "ssrf:1")
        report = jobs.sweep()
        assert report.sent.failed == 1 and receiver.requests == []
        db.session.refresh(delivery)
        assert delivery.status == DeliveryStatus.FAILED
        assert "not a public address" in (delivery.last_error or "")
        # The operator allows the name: then it is sent.
        monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", ["hooks.example.com"])
        _queue(_hook(f"http://hooks.example.com:{receiver.port}/hook"), "ssrf:2")
        assert jobs.sweep().sent.sent == 1
        assert len(receiver.requests) == 1


def test_a_redirect_to_loopback_is_not_followed(http_receiver: HttpReceiver) -> None:
    http_receiver.fail_next(1, status=307, headers={"Location": "http://127.0.0.1:1/admin"})
    with pytest.raises(channels.DeliveryError) as failure:
        webhooks.post_webhook(
            f"{http_receiver.url}/hook",
            webhooks.WebhookFormat.GENERIC,
            channels.Message(subject="s", body="b"),
            allowed_hosts=["127.0.0.1"],
        )
    assert failure.value.permanent and len(http_receiver.requests) == 1


def test_a_slow_receiver_holds_up_its_own_organization_only(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_TIMEOUT_SECONDS", 60.0)
    with HttpReceiver() as slow, HttpReceiver() as quick:
        slow.stall_next(5)
        slow_hook = _hook(f"{slow.url}/hook", "forestry")
        quick_hook = _hook(f"{quick.url}/hook", "agriculture")
        for i in range(3):  # the slow one's rows come first in the outbox
            _queue(slow_hook, f"slow:{i}")
        _queue(quick_hook, "quick:0")
        seen: dict[str, Any] = {}

        def watch() -> None:
            # The quick receiver gets its message while the slow one is still holding the first request.
            deadline = datetime.now(UTC) + timedelta(seconds=30)
            while not quick.requests and datetime.now(UTC) < deadline:
                threading.Event().wait(0.01)
            seen["quick_arrived"] = bool(quick.requests)
            seen["slow_requests_then"] = len(slow.requests)
            slow.stop()  # lets the stalled request go (it then fails, to be retried)

        watcher = threading.Thread(target=watch)
        watcher.start()
        report = jobs.sweep()
        watcher.join()
    # The quick one arrived while the slow receiver held its request (it lets go only after that, or
    # after 30 s, well inside the 60 s webhook timeout), having received at most that one. That one
    # failing, the slow receiver's two others were not tried in this sweep: they wait for the next.
    assert seen["quick_arrived"] is True
    assert seen["slow_requests_then"] <= 1
    assert report.sent.sent == 1
    # (On a busy machine the quick one may even arrive first, and the slow receiver stop before its first
    # request: refused, it is found down all the same.)
    assert (report.sent.retrying, report.sent.deferred, report.sent.failed) == (1, 2, 0)
    assert len(slow.requests) <= 1


def test_a_retried_webhook_carries_the_same_delivery_id(http_receiver: HttpReceiver) -> None:
    delivery = _queue(_hook(f"{http_receiver.url}/hook"), "retry:1")
    http_receiver.fail_next(1, status=503)
    assert jobs.sweep().sent.retrying == 1
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery.id)
        .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    assert jobs.sweep().sent.sent == 1
    first, second = http_receiver.requests
    ids = {first.headers["X-IAS-Delivery-Id"], second.headers["X-IAS-Delivery-Id"]}
    assert len(ids) == 1
    assert {json.loads(first.body)["delivery_id"], json.loads(second.body)["delivery_id"]} == ids
    # Another delivery has another id.
    _queue(_hook(f"{http_receiver.url}/other"), "retry:2")
    jobs.sweep()
    assert http_receiver.requests[-1].headers["X-IAS-Delivery-Id"] not in ids


def test_a_retried_email_carries_the_same_delivery_id(
    app: Flask, smtp_server: SmtpServer, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    user = make_user(email="zhang@example.cn")
    db.session.add(
        Delivery(
            channel=DeliveryChannel.EMAIL,
            recipient=f"user:{user.id}",
            event_key="mail:1",
            user_id=user.id,
            message={"subject": "复查提醒", "body": "今日到期", "links": [], "data": {}},
        )
    )
    db.session.commit()
    claimed = outbox.claim("first")
    deliver(claimed[0])  # sent, then the scheduler died before recording it
    db.session.execute(sa.update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    assert jobs.sweep().sent.sent == 1
    first, second = (m.message for m in smtp_server.messages)
    assert first["X-IAS-Delivery-Id"] == second["X-IAS-Delivery-Id"]
    assert first["Message-ID"] == second["Message-ID"]
    assert str(first["X-IAS-Delivery-Id"]) in str(first["Message-ID"])
