"""Fixtures for delivery tests: a real SMTP server and a real HTTP receiver on loopback, per test.

See `servers.py` for what they record and how to make them fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.notifications.servers import HttpReceiver, SmtpServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def http_receiver(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    """The receiver listens on 127.0.0.1, which the operator's allowlist lets webhooks reach."""
    monkeypatch.setitem(app.config, "IAS_WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    with HttpReceiver() as receiver:
        yield receiver
