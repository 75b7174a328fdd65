"""E-mail: a notification as UTF-8 plain text with an HTML alternative, sent once over SMTP.

How SMTP failures map to `DeliveryError.permanent`: 4yz replies, refused, dropped or timed-out connections
and TLS failures are transient; 5yz replies (unknown recipient, refused sender, failed login) and a server
lacking a feature we were told to use (STARTTLS, AUTH, SMTPUTF8) are permanent, as is an address that is
not one. A retry may pass the first attempt's Message-ID (`message_id=`) so that mail clients can tell the
copies are one message. The SMTP password is left out of `repr`.
"""

from __future__ import annotations

import contextlib
import email.policy
import html
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from app.notifications.channels import DETAIL_MAX_CHARS, DeliveryError, Message, one_line

# A plain addr-spec: something@domain, no spaces, brackets or separators (no display names here).
_ADDRESS_RE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
# Bodies base64- or quoted-printable-encoded (7-bit clean): smtplib never asks for 8BITMIME, and any
# relay takes them. Headers are RFC 2047 encoded words either way.
_EMAIL_POLICY = email.policy.default.clone(cte_type="7bit")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str  # "外来入侵物种监测 <noreply@example.gov.cn>" or a bare address; From and envelope sender
    username: str | None = None  # log in when set (not empty)
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False  # STARTTLS after connecting (usually port 587)
    use_ssl: bool = False  # TLS from the first byte, SMTPS (usually port 465)
    timeout_s: float = 10  # per connect and per read, not for the whole conversation
    ca_file: str | None = None  # a private CA for an internal mail server; the system's CAs otherwise

    def __post_init__(self) -> None:
        if self.use_tls and self.use_ssl:
            raise ValueError("use_tls (STARTTLS) and use_ssl (SMTPS) exclude each other")
        if not 0 < self.port < 65536:
            raise ValueError(f"Bad SMTP port: {self.port}")
        if not _ADDRESS_RE.fullmatch(self.sender_address):
            raise ValueError(f"The sender is not an e-mail address: {self.sender!r}")
        if bool(self.username) != bool(self.password):  # empty counts as unset: config often has ""
            raise ValueError("An SMTP login needs both a username and a password")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]


def build_email(
    settings: SmtpSettings,
    to: str,
    message: Message,
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
) -> EmailMessage:
    """The e-mail `send_email` sends: UTF-8 plain text with an HTML alternative whose links are anchors.

    Non-ASCII headers are written as RFC 2047 encoded words. The Message-ID's domain is
    the sender's, so that no DNS lookup of our own name is needed (make_msgid's default). With a
    `delivery_id` (the outbox's, the same on every retry), the mail carries it as X-IAS-Delivery-Id
    and its Message-ID is made from it, so a retry is recognisably the same message.
    """
    domain = settings.sender_address.rpartition("@")[2]
    if message_id is None and delivery_id is not None:
        message_id = f"<{delivery_id}@{domain}>"
    mail = EmailMessage(policy=_EMAIL_POLICY)
    mail["Subject"] = one_line(message.subject)  # headers cannot hold line breaks
    mail["From"] = settings.sender
    mail["To"] = to
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id or make_msgid(domain=domain)
    if delivery_id is not None:
        mail["X-IAS-Delivery-Id"] = delivery_id
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies stay away
    mail.set_content(_plain_text(message))
    mail.add_alternative(_html(message), subtype="html")
    return mail


def send_email(
    settings: SmtpSettings,
    to: str,
    message: Message,
    *,
    message_id: str | None = None,
    delivery_id: str | None = None,
    on_connect: Callable[[socket.socket], None] | None = None,
) -> str:
    """Send `message` to the address `to` and return its Message-ID.

    Pass the Message-ID of an earlier attempt as `message_id` when retrying. `on_connect` is told of the
    connection's socket (a delivery's deadline). Raises DeliveryError.
    """
    if not _ADDRESS_RE.fullmatch(to):
        raise DeliveryError(f"Not an e-mail address: {to!r}", permanent=True)
    mail = build_email(settings, to, message, message_id=message_id, delivery_id=delivery_id)
    where = f"SMTP server {settings.host}:{settings.port}"
    tls = None
    if settings.use_tls or settings.use_ssl:  # an unreadable CA file is a configuration error: raised as is
        tls = ssl.create_default_context(cafile=settings.ca_file)
    smtp: smtplib.SMTP | None = None
    try:
        # Connects. The host must be given here, not to connect(): TLS checks the certificate against it.
        if settings.use_ssl:
            smtp = _SMTP_SSL(
                on_connect, settings.host, settings.port, timeout=settings.timeout_s, context=tls
            )
        else:
            smtp = _SMTP(on_connect, settings.host, settings.port, timeout=settings.timeout_s)
        _converse(smtp, settings, mail, tls)
    except OSError as error:  # smtplib's errors are OSErrors too
        raise _smtp_failure(error, where) from error
    finally:
        if smtp is not None:
            smtp.close()
    return str(mail["Message-ID"])


class _Watched:
    """An SMTP connection that tells `on_connect` of its socket as it connects, before the server's
    greeting (mixed into smtplib's two classes; a deadline.Deadline watches it)."""

    def __init__(self, on_connect: Callable[[socket.socket], None] | None, *args: Any, **kwargs: Any) -> None:
        self._on_connect = on_connect
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        if self._on_connect is not None:
            self._on_connect(sock)
        return sock


class _SMTP(_Watched, smtplib.SMTP):
    pass


class _SMTP_SSL(_Watched, smtplib.SMTP_SSL):
    pass


def _converse(
    smtp: smtplib.SMTP, settings: SmtpSettings, mail: EmailMessage, tls: ssl.SSLContext | None
) -> None:
    if settings.use_tls:
        smtp.starttls(context=tls)
    if settings.username and settings.password:
        smtp.login(settings.username, settings.password)
    smtp.send_message(mail)
    # Sent. A failing QUIT must not make it a failure (as smtplib's context manager would).
    with contextlib.suppress(OSError):
        smtp.quit()


def _smtp_failure(error: OSError, where: str) -> DeliveryError:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
        permanent = bool(replies) and all(500 <= code < 600 for code, _ in replies)
        text = "; ".join(f"{code} {_reply_text(reply)}" for code, reply in replies)
        return DeliveryError(f"{where} refused the recipient: {text}", permanent=permanent)
    if isinstance(error, smtplib.SMTPResponseException):  # sender, data, greeting, HELO or login refused
        permanent = 500 <= error.smtp_code < 600
        # A 4yz to the sender, the greeting or the login is the server's state, not this message's.
        return DeliveryError(
            f"{where} replied {error.smtp_code} {_reply_text(error.smtp_error)}",
            permanent=permanent,
            receiver_down=not isinstance(error, smtplib.SMTPDataError),
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{where} closed the connection: {error}", permanent=False, receiver_down=True)
    if isinstance(error, smtplib.SMTPException):  # STARTTLS, AUTH or SMTPUTF8 not offered
        return DeliveryError(f"{where}: {error}", permanent=True)
    # Refused, unreachable, unknown host, timed out, TLS handshake or certificate failed.
    return DeliveryError(f"{where} unreachable: {error}", permanent=False, receiver_down=True)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:DETAIL_MAX_CHARS]


def _plain_text(message: Message) -> str:
    links = "\n".join(f"{label}：{url}" for label, url in message.links)
    return f"{message.body.rstrip()}\n\n{links}\n" if links else f"{message.body.rstrip()}\n"


def _html(message: Message) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", message.body.strip()) if p.strip()]
    body = "\n".join(f"<p>{html.escape(p.strip()).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if message.links:
        items = "".join(
            f'<li><a href="{html.escape(url)}">{html.escape(label)}</a></li>' for label, url in message.links
        )
        body += f"\n<ul>{items}</ul>"
    head = '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"></head>'
    return f"{head}<body>\n{body}\n</body></html>\n"
