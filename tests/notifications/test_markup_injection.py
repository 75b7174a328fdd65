"""Text users typed cannot become markup in robot messages or e-mail, nor forge lines in the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.notifications import delivery, outbox
from app.notifications.channels import Message
from app.notifications.mail import SmtpSettings, build_email
from app.notifications.models import DeliveryChannel
from app.notifications.webhooks import WebhookFormat, webhook_payload

PLACE = '[请点此重新登录](http://evil.example/login) **紧急** <font color="warning">已停用</font>'
BODY = (
    f"发生点 {PLACE} 的复查今日到期。\n"
    "# 假标题\n"
    "> 引用 ![图](http://evil.example/x.png) `代码` __斜__ ~~删除~~ | 表 |\n"
    "地址 https://evil.example/a_(b)"
)
OWN_LINK = ("查看复查任务", "https://ias.example.gov.cn/follow-ups/42")
MESSAGE = Message(subject=f"【复查提醒】{PLACE}", body=BODY, links=(OWN_LINK,))


def _markdown(fmt: WebhookFormat) -> str:
    payload = webhook_payload(fmt, MESSAGE)["markdown"]
    return str(payload.get("content") or payload["text"])


@pytest.mark.parametrize("fmt", [WebhookFormat.WECOM, WebhookFormat.DINGTALK])
def test_robot_markdown_shows_typed_text_without_its_markup(fmt: WebhookFormat) -> None:
    text = _markdown(fmt)
    # Our own link is the only link; nothing typed is clickable, emphasised, a heading or a tag.
    assert text.count("](") == 1 and "(https://ias.example.gov.cn/follow-ups/42)" in text
    assert "http://evil" not in text and "https://evil" not in text
    for markup in ("**紧急", "<font", "# 假标题", "> 引用", "![", "`", "__斜", "~~", "| 表"):
        assert markup not in text, markup
    # The words are still there for people to read.
    for words in ("请点此重新登录", "紧急", "已停用", "假标题", "evil.example"):
        assert words in text
    if fmt is WebhookFormat.DINGTALK:
        assert text.startswith("#### 【复查提醒】") and text.count("#") == 4
        assert "<font" not in webhook_payload(fmt, MESSAGE)["markdown"]["title"]


def test_generic_webhooks_carry_the_text_as_typed() -> None:
    payload = webhook_payload(WebhookFormat.GENERIC, MESSAGE)
    assert payload["body"] == BODY  # JSON: the receiver decides how to show it


def test_email_html_escapes_what_was_typed() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=25, sender="ias@example.gov.cn")
    mail = build_email(settings, "a@example.cn", MESSAGE)
    html = next(part for part in mail.walk() if part.get_content_type() == "text/html").get_content()
    assert "<font" not in html and "&lt;font" in html
    assert 'href="http://evil' not in html
    assert html.count("<a href=") == 1


def test_log_lines_cannot_be_forged_by_line_breaks(
    app: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    forged = "稻田\n2026-12-06 03:00:00,000 ERROR app.security: admin password reset by root\r\nx\u2028y"
    item = outbox.Claimed(
        id=1,
        channel=DeliveryChannel.EMAIL,
        attempts=1,
        message={"subject": f"复查 {forged}", "body": forged, "links": [], "data": {}},
        email="a@example.cn",
    )
    with caplog.at_level(logging.INFO, logger="app.notifications.delivery"):
        delivery.deliver(item)
    [record] = [r for r in caplog.records if r.name == "app.notifications.delivery"]
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message and "\u2028" not in message
    assert "稻田\\n2026-12-06 03:00:00,000 ERROR" in message  # shown, escaped, on the one line
    assert not any(line.startswith("2026-12-06") for line in caplog.text.splitlines())
