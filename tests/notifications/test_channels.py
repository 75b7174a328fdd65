"""The delivery layer against real servers on loopback: what arrives, and how failures are classified."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.notifications.channels import DeliveryError, Message
from app.notifications.deadline import Deadline
from app.notifications.mail import SmtpSettings, send_email
from app.notifications.webhooks import (
    WECOM_MARKDOWN_MAX_BYTES,
    WebhookFormat,
    dingtalk_signed_url,
    webhook_payload,
)
from app.notifications.webhooks import post_webhook as _post_webhook
from tests.notifications.servers import HttpReceiver, SmtpServer


def post_webhook(url: str, fmt: WebhookFormat, message: Message, **kwargs: Any) -> None:
    """The test receiver listens on loopback, which webhooks may reach only when the operator allows it."""
    _post_webhook(url, fmt, message, allowed_hosts=["127.0.0.1"], **kwargs)


SUBJECT = "【复查提醒】福寿螺 500155001-0003 今日到期"
BODY = "发生点 500155001-0003（福寿螺）的第 2 次复查今日到期。\n防治方法：化学防治，作业日期 2026-05-01。"
LINKS = (
    ("查看复查任务", "https://ias.example.gov.cn/follow-ups/42"),
    ("发生点详情", "https://ias.example.gov.cn/sites/7"),
)
DATA = {"kind": "follow_up_due", "follow_up_id": 42, "site_id": 7, "due_on": "2026-05-08"}
MESSAGE = Message(subject=SUBJECT, body=BODY, links=LINKS, data=DATA)
SENDER = "外来入侵物种监测 <noreply@ias.example.gov.cn>"
TO = "supervisor@example.gov.cn"


def smtp_settings(server: SmtpServer, **changes: object) -> SmtpSettings:
    options: dict[str, object] = {"host": server.host, "port": server.port, "sender": SENDER, "timeout_s": 5}
    options.update(changes)
    return SmtpSettings(**options)  # type: ignore[arg-type]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Messages


def test_message_links_must_be_absolute_http_urls() -> None:
    for url in ("/follow-ups/42", "javascript:alert(1)", "ftp://example.org/x", "https://exa mple.org/"):
        with pytest.raises(ValueError):
            Message(subject=SUBJECT, body=BODY, links=(("x", url),))


def test_message_data_must_be_json() -> None:
    with pytest.raises(TypeError):
        Message(subject=SUBJECT, body=BODY, data={"due_on": object()})
    with pytest.raises(ValueError):
        Message(subject=" ", body=BODY)


# ---------------------------------------------------------------------------------------------
# E-mail


def test_email_arrives_with_chinese_subject_links_and_headers(smtp_server: SmtpServer) -> None:
    message_id = send_email(smtp_settings(smtp_server), TO, MESSAGE)

    [mail] = smtp_server.messages
    assert mail.mail_from == "noreply@ias.example.gov.cn"
    assert mail.rcpt_tos == (TO,)
    headers = mail.data.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()  # RFC 2047 encoded words, no raw UTF-8
    assert b"Subject: =?utf-8?" in headers

    parsed = mail.message
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "外来入侵物种监测"
    assert parsed["From"].addresses[0].addr_spec == "noreply@ias.example.gov.cn"
    assert parsed["To"] == TO
    assert parsed["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@ias.example.gov.cn>")
    assert parsed["Date"].datetime is not None
    assert parsed["Auto-Submitted"] == "auto-generated"

    text = parsed.get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert BODY in content
    for label, url in LINKS:
        assert f"{label}：{url}" in content
    html = parsed.get_body(("html",))
    assert html is not None
    for label, url in LINKS:
        assert f'<a href="{url}">{label}</a>' in html.get_content()


def test_email_keeps_a_given_message_id_and_one_line_subject(smtp_server: SmtpServer) -> None:
    message = Message(subject="第一行\r\n第二行", body=BODY)
    returned = send_email(smtp_settings(smtp_server), TO, message, message_id="<retry-1@ias.example.gov.cn>")
    assert returned == "<retry-1@ias.example.gov.cn>"
    assert smtp_server.messages[0].message["Message-ID"] == returned
    assert smtp_server.messages[0].message["Subject"] == "第一行 第二行"


def test_email_451_is_transient_and_a_retry_delivers(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, reply="451 4.3.0 Try again later")
    with pytest.raises(DeliveryError) as failure:
        send_email(smtp_settings(smtp_server), TO, MESSAGE)
    assert not failure.value.permanent
    assert "451" in str(failure.value)
    assert smtp_server.messages == []

    send_email(smtp_settings(smtp_server), TO, MESSAGE)
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("RCPT", "550 5.1.1 No such user", True),
        ("RCPT", "452 4.2.2 Mailbox full", False),
        ("MAIL", "553 5.7.1 Sender not allowed", True),
        ("MAIL", "421 4.7.0 Too many connections", False),
        ("DATA", "554 5.6.0 Message rejected", True),
        ("DATA", "421 4.3.2 Shutting down", False),
    ],
)
def test_email_refusals_are_classified_by_reply_code(
    smtp_server: SmtpServer, stage: str, reply: str, permanent: bool
) -> None:
    smtp_server.fail_next(1, reply=reply, stage=stage)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as failure:
        send_email(smtp_settings(smtp_server), TO, MESSAGE)
    assert failure.value.permanent is permanent
    assert reply.split()[0] in str(failure.value)
    assert smtp_server.messages == []


def test_email_dropped_connection_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.drop_next()
    with pytest.raises(DeliveryError) as failure:
        send_email(smtp_settings(smtp_server), TO, MESSAGE)
    assert not failure.value.permanent
    assert smtp_server.messages == []


def test_email_connection_refused_is_transient() -> None:
    settings_ = SmtpSettings(host="127.0.0.1", port=closed_port(), sender=SENDER, timeout_s=2)
    with pytest.raises(DeliveryError) as failure:
        send_email(settings_, TO, MESSAGE)
    assert not failure.value.permanent


def time_limits(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The time limits this thread's sockets are given (the servers answer from threads of their own)."""
    limits: list[float | None] = []
    settimeout = socket.socket.settimeout
    caller = threading.current_thread()

    def recording(sock: socket.socket, value: float | None) -> None:
        if threading.current_thread() is caller:
            limits.append(value)
        settimeout(sock, value)

    monkeypatch.setattr(socket.socket, "settimeout", recording)
    return limits


def test_email_silent_server_times_out_transiently(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = time_limits(monkeypatch)
    with socket.socket() as listener:  # accepts connections (the backlog) and never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings_ = SmtpSettings(
            host="127.0.0.1", port=listener.getsockname()[1], sender=SENDER, timeout_s=0.5
        )
        with pytest.raises(DeliveryError) as failure:
            send_email(settings_, TO, MESSAGE)
    assert not failure.value.permanent
    assert str(failure.value).endswith("timed out")  # its time limit ended it, not a refusal or a drop
    assert set(limits) == {0.5}  # the one the settings give, on the connection


@pytest.mark.parametrize("to", ["", "supervisor", "a@b.cn\r\nBcc: x@y.cn", "甲 <a@b.cn>"])
def test_email_to_a_malformed_address_is_permanent_without_connecting(to: str) -> None:
    settings_ = SmtpSettings(host="127.0.0.1", port=closed_port(), sender=SENDER)
    with pytest.raises(DeliveryError) as failure:
        send_email(settings_, to, MESSAGE)
    assert failure.value.permanent


def test_smtp_settings_refuse_contradictions() -> None:
    with pytest.raises(ValueError):
        SmtpSettings(host="h", port=25, sender=SENDER, use_tls=True, use_ssl=True)
    with pytest.raises(ValueError):
        SmtpSettings(host="h", port=25, sender="noreply")
    with pytest.raises(ValueError):
        SmtpSettings(host="h", port=25, sender=SENDER, username="u")
    assert "s3cret" not in repr(
        SmtpSettings(host="h", port=25, sender=SENDER, username="u", password="s3cret")
    )


def test_email_login() -> None:
    with SmtpServer(users={"robot": "right"}) as server:
        send_email(smtp_settings(server, username="robot", password="right"), TO, MESSAGE)
        assert server.logins == ["robot"]
        assert len(server.messages) == 1

        with pytest.raises(DeliveryError) as failure:
            send_email(smtp_settings(server, username="robot", password="wrong"), TO, MESSAGE)
        assert failure.value.permanent  # 535: retrying the same password cannot help
        assert len(server.messages) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (certificate, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    arguments = "req -x509 -nodes -days 1 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj /CN=test"
    subprocess.run(  # noqa: S603 - a fixed command line
        [openssl, *arguments.split(), "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )
    yield cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_email_over_starttls_with_login(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(users={"robot": "right"}, starttls=server_context(certificate)) as server:
        settings_ = smtp_settings(
            server, use_tls=True, ca_file=str(certificate[0]), username="robot", password="right"
        )
        send_email(settings_, TO, MESSAGE)
        assert server.logins == ["robot"]
        assert server.messages[0].message["Subject"] == SUBJECT

        # The system's CAs do not know this certificate.
        with pytest.raises(DeliveryError) as failure:
            send_email(smtp_settings(server, use_tls=True), TO, MESSAGE)
        assert not failure.value.permanent


def test_email_over_smtps(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(implicit_tls=server_context(certificate)) as server:
        send_email(smtp_settings(server, use_ssl=True, ca_file=str(certificate[0])), TO, MESSAGE)
        assert server.messages[0].message["Subject"] == SUBJECT


@pytest.mark.parametrize("tls", ["use_ssl", "use_tls"])
def test_email_over_tls_within_a_deadline(certificate: tuple[Path, Path], tls: str) -> None:
    """A delivery's deadline watches the connection's socket, an SMTPS one (already TLS) included."""
    context = server_context(certificate)
    server_tls = {"implicit_tls": context} if tls == "use_ssl" else {"starttls": context}
    with SmtpServer(**server_tls) as server, Deadline(30) as deadline:
        settings_ = smtp_settings(server, ca_file=str(certificate[0]), **{tls: True})
        send_email(settings_, TO, MESSAGE, on_connect=deadline.watch)
        assert server.messages[0].message["Subject"] == SUBJECT
    assert not deadline.expired


def test_starttls_demanded_but_not_offered_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as failure:
        send_email(smtp_settings(smtp_server, use_tls=True), TO, MESSAGE)
    assert failure.value.permanent


# ---------------------------------------------------------------------------------------------
# Webhooks

WECOM_CONTENT = (
    f"**{SUBJECT}**\n{BODY}\n\n"
    "[查看复查任务](https://ias.example.gov.cn/follow-ups/42)\n[发生点详情](https://ias.example.gov.cn/sites/7)"
)
DINGTALK_TEXT = "\n\n".join(
    [
        f"#### {SUBJECT}",
        "发生点 500155001-0003（福寿螺）的第 2 次复查今日到期。",
        "防治方法：化学防治，作业日期 2026-05-01。",
        "[查看复查任务](https://ias.example.gov.cn/follow-ups/42)",
        "[发生点详情](https://ias.example.gov.cn/sites/7)",
    ]
)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            WebhookFormat.GENERIC,
            {
                "subject": SUBJECT,
                "body": BODY,
                "links": [{"label": label, "url": url} for label, url in LINKS],
                "event": DATA,
            },
        ),
        (WebhookFormat.WECOM, {"msgtype": "markdown", "markdown": {"content": WECOM_CONTENT}}),
        (
            WebhookFormat.DINGTALK,
            {"msgtype": "markdown", "markdown": {"title": SUBJECT, "text": DINGTALK_TEXT}},
        ),
    ],
)
def test_webhook_posts_the_documented_json(
    http_receiver: HttpReceiver, fmt: WebhookFormat, expected: dict[str, object]
) -> None:
    post_webhook(f"{http_receiver.url}/hook?key=abc", fmt, MESSAGE)

    [request] = http_receiver.requests
    assert request.method == "POST"
    assert request.path == "/hook?key=abc"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json == expected
    assert "福寿螺".encode() in request.body  # UTF-8, not \\u escapes


def test_dingtalk_signature_verifies_with_the_secret(http_receiver: HttpReceiver) -> None:
    secret = "SEC0123456789abcdef+/="
    post_webhook(
        f"{http_receiver.url}/robot/send?access_token=t0k", WebhookFormat.DINGTALK, MESSAGE, secret=secret
    )

    [request] = http_receiver.requests
    query = request.query
    assert query["access_token"] == ["t0k"]
    [timestamp], [sign] = query["timestamp"], query["sign"]
    assert abs(int(timestamp) / 1000 - time.time()) < 60
    expected = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(sign) == expected


def test_dingtalk_signing_replaces_an_old_signature() -> None:
    signed = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1&sign=x", "S", now=2
    )
    assert signed.startswith("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=2000&sign=")
    assert signed.count("sign=") == 1


def test_only_dingtalk_takes_a_secret(http_receiver: HttpReceiver) -> None:
    with pytest.raises(ValueError):
        post_webhook(http_receiver.url, WebhookFormat.WECOM, MESSAGE, secret="SEC1")
    post_webhook(http_receiver.url, WebhookFormat.WECOM, MESSAGE, secret="")  # none
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_webhook_server_errors_are_transient(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.fail_next(1, status=status, headers={"Retry-After": "30"})
    with pytest.raises(DeliveryError) as failure:
        post_webhook(f"{http_receiver.url}/hook?access_token=SECRET-TOKEN", WebhookFormat.GENERIC, MESSAGE)
    assert not failure.value.permanent
    assert failure.value.retry_after_s == 30
    assert str(status) in str(failure.value)
    assert "SECRET-TOKEN" not in str(failure.value)

    post_webhook(f"{http_receiver.url}/hook", WebhookFormat.GENERIC, MESSAGE)  # the next one is answered
    assert [r.status for r in http_receiver.requests] == [status, 200]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413])
def test_webhook_client_errors_are_permanent(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.fail_next(1, status=status)
    with pytest.raises(DeliveryError) as failure:
        post_webhook(http_receiver.url, WebhookFormat.GENERIC, MESSAGE)
    assert failure.value.permanent


@pytest.mark.parametrize("location", ["file:///etc/passwd", "https://elsewhere.example.org/hook", "/other"])
def test_webhook_redirects_are_not_followed(http_receiver: HttpReceiver, location: str) -> None:
    http_receiver.fail_next(1, status=302, headers={"Location": location})
    with pytest.raises(DeliveryError) as failure:
        post_webhook(f"{http_receiver.url}/hook", WebhookFormat.GENERIC, MESSAGE)
    assert failure.value.permanent
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize(
    ("fmt", "errcode", "permanent"),
    [
        (WebhookFormat.WECOM, 45009, False),  # rate limit
        (WebhookFormat.WECOM, -1, False),  # system busy
        (WebhookFormat.WECOM, 93000, True),  # invalid webhook URL
        (WebhookFormat.DINGTALK, 130101, False),  # send too fast
        (WebhookFormat.DINGTALK, 310000, True),  # bad signature or missing keyword
        (WebhookFormat.DINGTALK, 300001, True),  # bad token
    ],
)
def test_robot_errcode_in_a_200_is_a_failure(
    http_receiver: HttpReceiver, fmt: WebhookFormat, errcode: int, permanent: bool
) -> None:
    http_receiver.answer_next(json={"errcode": errcode, "errmsg": "some reason"})
    with pytest.raises(DeliveryError) as failure:
        post_webhook(http_receiver.url, fmt, MESSAGE)
    assert failure.value.permanent is permanent
    assert str(errcode) in str(failure.value)


@pytest.mark.parametrize("answer", [["<html>proxy</html>"], {"ok": True}, {"errcode": [0]}, "0"])
def test_a_robot_answer_without_errcode_is_transient(http_receiver: HttpReceiver, answer: object) -> None:
    http_receiver.answer_next(json=answer)
    with pytest.raises(DeliveryError) as failure:
        post_webhook(http_receiver.url, WebhookFormat.WECOM, MESSAGE)
    assert not failure.value.permanent


def test_generic_webhook_ignores_the_answer_body(http_receiver: HttpReceiver) -> None:
    http_receiver.answer_next(json={"errcode": 1})
    post_webhook(http_receiver.url, WebhookFormat.GENERIC, MESSAGE)


def test_webhook_timeout_is_transient(http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = time_limits(monkeypatch)
    http_receiver.stall_next()
    with pytest.raises(DeliveryError) as failure:
        post_webhook(http_receiver.url, WebhookFormat.WECOM, MESSAGE, timeout_s=0.5)
    assert not failure.value.permanent
    assert str(failure.value).endswith("timed out")  # its time limit ended it, not a refusal or a drop
    assert set(limits) == {0.5}  # the one asked for, on the connection


def test_webhook_connection_refused_is_transient() -> None:
    with pytest.raises(DeliveryError) as failure:
        post_webhook(f"http://127.0.0.1:{closed_port()}/hook", WebhookFormat.GENERIC, MESSAGE, timeout_s=2)
    assert not failure.value.permanent


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "/hook",
        "example.org/hook",
        "https://",
        "http://h:99999/",
    ],
)
def test_webhook_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError):
        post_webhook(url, WebhookFormat.GENERIC, MESSAGE)


def test_wecom_content_is_cut_to_4096_bytes_keeping_the_links(http_receiver: HttpReceiver) -> None:
    long_body = "\n".join(
        f"第 {n} 行：发生点 500155001-{n:04d} 的福寿螺卵块密度超过阈值。" for n in range(400)
    )
    post_webhook(
        http_receiver.url, WebhookFormat.WECOM, Message(subject=SUBJECT, body=long_body, links=LINKS)
    )

    content = http_receiver.requests[0].json["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    assert content.startswith(f"**{SUBJECT}**\n第 0 行")
    assert "…（内容过长，已截断）" in content
    assert content.endswith("[发生点详情](https://ias.example.gov.cn/sites/7)")
    kept = content.split("…（内容过长，已截断）")[0].split("\n")[-1]
    assert kept.endswith("超过阈值。")  # cut at a line end, not mid-line


@settings(max_examples=200, deadline=None)
@given(body=st.text(min_size=0, max_size=6000), subject=st.text(min_size=1, max_size=200).filter(str.strip))
def test_wecom_content_always_fits(body: str, subject: str) -> None:
    payload = webhook_payload(WebhookFormat.WECOM, Message(subject=subject, body=body, links=LINKS))
    content = payload["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    assert content.endswith("[发生点详情](https://ias.example.gov.cn/sites/7)")
