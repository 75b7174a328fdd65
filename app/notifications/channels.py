"""Delivery of one notification, by e-mail or webhook: senders that know nothing of the database.

The outbox decides what goes to whom and when to try again; this module turns a `Message` into an
e-mail or a webhook request, sends it once, and says how it failed. `DeliveryError.permanent` is the
whole contract with the outbox: False means a later attempt may succeed, True means the same message
to the same address never will. The protocols draw the line:

- SMTP: 4yz replies, refused, dropped or timed-out connections and TLS failures are transient; 5yz
  replies (unknown recipient, refused sender, failed login) and a server lacking a feature we were
  told to use (STARTTLS, AUTH, SMTPUTF8) are permanent, as is an address that is not one.
- HTTP: 5xx, 408 and 429 are transient (with the server's Retry-After when it gave seconds); other
  4xx are permanent. Redirects are never followed: a POST that is redirected loses its body (urllib
  turns it into a GET) and could be sent to another scheme, so a 3xx is a permanent "fix the URL".
- WeCom and DingTalk robots answer HTTP 200 with `{"errcode": …}`; errcode 0 is success. Their
  "system busy" (-1) and rate limits (WeCom 45009; DingTalk 130101, 410100: 20 messages a minute per
  robot) are transient; any other errcode (bad token, bad signature, DingTalk's keyword check,
  bad payload) is permanent.

A connection that drops after the message went out is ambiguous: it may have arrived. It counts as
transient, so a retry can deliver twice; e-mail retries may pass the first attempt's Message-ID
(`message_id=`) so that mail clients can tell the copies are one message.

Nothing secret reaches an error message: webhook URLs carry their access token in the query, so
errors name the host only, and the SMTP password is left out of `repr`.

`Message.body` is plain text without the links; each channel renders `links` its own way (lines of
text, HTML anchors, markdown links), after the body, so truncation never cuts a link off.
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import functools
import hashlib
import hmac
import html
import http.client
import ipaddress
import json
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from typing import IO, Any

__all__ = [
    "WECOM_MARKDOWN_MAX_BYTES",
    "BlockedAddress",
    "DeliveryError",
    "Message",
    "SmtpSettings",
    "WebhookFormat",
    "build_email",
    "check_webhook_target",
    "dingtalk_signed_url",
    "post_webhook",
    "send_email",
    "webhook_payload",
]

# A plain addr-spec: something@domain, no spaces, brackets or separators (no display names here).
_ADDRESS_RE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom: markdown.content is at most 4096 bytes of UTF-8
_TRUNCATED = "…（内容过长，已截断）"
_ROBOT_TRANSIENT_ERRCODES = frozenset({-1, 45009, 130101, 410100})
# Bodies base64- or quoted-printable-encoded (7-bit clean): smtplib never asks for 8BITMIME, and any
# relay takes them. Headers are RFC 2047 encoded words either way.
_EMAIL_POLICY = email.policy.default.clone(cte_type="7bit")
_MAX_RESPONSE_BYTES = 64 * 1024  # robots answer a few dozen bytes; never read an endless body
_DETAIL_MAX_CHARS = 200


@dataclass(frozen=True)
class Message:
    """One notification, in Chinese, ready for any channel.

    `links` are (label, absolute http(s) URL) pairs, rendered after the body by every channel;
    `data` is the machine-readable event for generic webhooks (kind, ids, due_on as an ISO string
    …) and must be JSON-serialisable, which is checked here rather than at delivery time.
    """

    subject: str
    body: str
    links: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.subject.strip():
            raise ValueError("A notification needs a subject")
        for _label, url in self.links:
            _check_http_url(url, what="A link")
        json.dumps(self.data, allow_nan=False)  # TypeError or ValueError now, not in the scheduler


class DeliveryError(Exception):
    """Sending failed. `permanent`: retrying the same message cannot help. Otherwise retry later, no
    sooner than `retry_after_s` when the server said so. The text names no secret."""

    def __init__(self, reason: str, *, permanent: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after_s = retry_after_s


# ---------------------------------------------------------------------------------------------
# E-mail


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
    mail["Subject"] = _one_line(message.subject)  # headers cannot hold line breaks
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
) -> str:
    """Send `message` to the address `to` and return its Message-ID.

    Pass the Message-ID of an earlier attempt as `message_id` when retrying. Raises DeliveryError.
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
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_s, context=tls)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        _converse(smtp, settings, mail, tls)
    except OSError as error:  # smtplib's errors are OSErrors too
        raise _smtp_failure(error, where) from error
    finally:
        if smtp is not None:
            smtp.close()
    return str(mail["Message-ID"])


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
        return DeliveryError(
            f"{where} replied {error.smtp_code} {_reply_text(error.smtp_error)}", permanent=permanent
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{where} closed the connection: {error}", permanent=False)
    if isinstance(error, smtplib.SMTPException):  # STARTTLS, AUTH or SMTPUTF8 not offered
        return DeliveryError(f"{where}: {error}", permanent=True)
    # Refused, unreachable, unknown host, timed out, TLS handshake or certificate failed.
    return DeliveryError(f"{where} unreachable: {error}", permanent=False)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:_DETAIL_MAX_CHARS]


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


# ---------------------------------------------------------------------------------------------
# Webhooks


class WebhookFormat(StrEnum):
    GENERIC = "generic"  # our own JSON, for any receiver
    WECOM = "wecom"  # 企业微信 group robot, markdown message
    DINGTALK = "dingtalk"  # 钉钉 custom robot, markdown message


def webhook_payload(fmt: WebhookFormat, message: Message) -> dict[str, Any]:
    """The JSON body for a webhook of this format.

    generic:  {"subject", "body", "links": [{"label", "url"}], "event": message.data}
    wecom:    {"msgtype": "markdown", "markdown": {"content"}}, content ≤ 4096 bytes (body cut to fit)
    dingtalk: {"msgtype": "markdown", "markdown": {"title": subject, "text"}}
    """
    fmt = WebhookFormat(fmt)
    if fmt is WebhookFormat.GENERIC:
        return {
            "subject": message.subject,
            "body": message.body,
            "links": [{"label": label, "url": url} for label, url in message.links],
            "event": message.data,
        }
    if fmt is WebhookFormat.WECOM:
        # WeCom's markdown breaks lines at every "\n".
        links = "\n".join(_markdown_link(label, url) for label, url in message.links)
        content = _fit(
            f"**{_markdown_text(_one_line(message.subject))}**\n",
            _markdown_text(message.body.strip()),
            f"\n\n{links}" if links else "",
            WECOM_MARKDOWN_MAX_BYTES,
        )
        return {"msgtype": "markdown", "markdown": {"content": content}}
    # DingTalk's markdown needs a blank line to break a line; the title is the preview in the chat list.
    lines = [_markdown_text(line.strip()) for line in message.body.strip().splitlines() if line.strip()]
    subject = _markdown_text(_one_line(message.subject))
    parts = [f"#### {subject}", *lines, *(_markdown_link(*link) for link in message.links)]
    return {
        "msgtype": "markdown",
        "markdown": {"title": subject, "text": "\n\n".join(parts)},
    }


def dingtalk_signed_url(url: str, secret: str, *, now: float | None = None) -> str:
    """`url` with DingTalk's 加签 parameters: `timestamp` (ms) and `sign`, the base64 HMAC-SHA256 of
    "{timestamp}\\n{secret}" keyed with the secret. DingTalk refuses a timestamp more than an hour off."""
    timestamp = str(round((time.time() if now is None else now) * 1000))
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    parts = urllib.parse.urlsplit(url)
    query = [
        (name, value)
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if name not in ("timestamp", "sign")  # a pasted, already signed URL
    ]
    query += [("timestamp", timestamp), ("sign", base64.b64encode(digest).decode("ascii"))]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def post_webhook(
    url: str,
    fmt: WebhookFormat,
    message: Message,
    *,
    timeout_s: float = 5,
    secret: str | None = None,
    allowed_hosts: Collection[str] = (),
    delivery_id: str | None = None,
) -> None:
    """POST `message` to `url` in format `fmt`; `secret` signs it for a DingTalk robot (加签; an empty
    secret counts as none).

    Only public addresses are connected to (see `check_webhook_target`), checked on the addresses the
    name resolves to when connecting, so a name that resolves to loopback now is refused too; hosts in
    `allowed_hosts` (the operator's IAS_WEBHOOK_ALLOWED_HOSTS) are exempt. No proxy from the
    environment is used and no redirect is followed. `delivery_id` goes out as the X-IAS-Delivery-Id
    header (and, for generic webhooks, the payload's `delivery_id`): the same on every retry, so a
    receiver can drop a repeat.

    ValueError for a URL that is not http(s), or a secret for a format that does not sign; else
    DeliveryError when it was not delivered (permanent for an address that is not public).
    """
    fmt = WebhookFormat(fmt)
    _check_http_url(url, what="A webhook URL")
    if secret:
        if fmt is not WebhookFormat.DINGTALK:
            raise ValueError(f"Only DingTalk robots sign requests, not {fmt} webhooks")
        url = dingtalk_signed_url(url, secret)
    where = f"webhook {urllib.parse.urlsplit(url).netloc}"  # never the path or query: they hold tokens
    payload = webhook_payload(fmt, message)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "ias-tracker"}
    if delivery_id:
        headers["X-IAS-Delivery-Id"] = delivery_id
        if fmt is WebhookFormat.GENERIC:
            payload["delivery_id"] = delivery_id
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="POST", headers=headers
    )
    allowed = frozenset(host.lower() for host in allowed_hosts)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # a proxy would be the one connecting: no address check
        _PublicHTTPHandler(allowed),
        _PublicHTTPSHandler(allowed),
        _NoRedirects(),
    )
    try:
        with opener.open(request, timeout=timeout_s) as response:
            answer = response.read(_MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        with error:  # it holds the response open
            raise _http_failure(error, where) from error
    except (OSError, http.client.HTTPException) as error:  # refused, DNS, TLS, timeout, dropped
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, BlockedAddress):
            raise DeliveryError(f"{where} refused: {reason}", permanent=True) from error
        raise DeliveryError(
            f"{where} unreachable: {str(reason) or type(error).__name__}", permanent=False
        ) from error
    if fmt is not WebhookFormat.GENERIC:
        _check_robot_answer(answer, where)


# ---------------------------------------------------------------------------------------------
# Where webhooks may go: public addresses only (no SSRF into the server's own network)

# Cloud metadata services by name (their addresses, 169.254.169.254 and Alibaba's 100.100.100.200,
# are link-local and shared address space, refused as addresses anyway).
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "metadata.azure.com"}
)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class BlockedAddress(OSError):
    """A webhook host that is not on the public Internet (and that the operator did not allow)."""


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is no help
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is false for loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
    # (169.254/16, fe80::/10), shared address space (100.64/10) and the documentation ranges.
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _check_name(host: str) -> None:
    name = host.lower().rstrip(".")
    if name == "localhost" or name in _METADATA_NAMES or name.endswith(_LOCAL_SUFFIXES):
        raise BlockedAddress(f"{host} is a local or metadata name, not a public host")


def _public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for `host`, refusing (BlockedAddress) when any address it resolves to is not public."""
    _check_name(host)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = str(info[4][0])
        if _non_public(address):
            raise BlockedAddress(f"{host} resolves to {address}, which is not a public address")
    return infos


def check_webhook_target(url: str, allowed_hosts: Collection[str] = ()) -> None:
    """For saving a webhook: ValueError for a URL that is not http(s), BlockedAddress for a host that is
    a local or metadata name or an address (or a name resolving to one) off the public Internet.

    A name that does not resolve now is let through: whether it does is checked again at each send.
    """
    _check_http_url(url, what="A webhook URL")
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.lower() in {h.lower() for h in allowed_hosts}:
        return
    try:
        _public_addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return


def _connect_public(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    allowed: frozenset[str],
) -> socket.socket:
    """socket.create_connection, to the very addresses that were checked (no second lookup that a
    rebinding DNS server could answer differently)."""
    host, port = address
    if host.lower() in allowed:
        return socket.create_connection(address, timeout, source_address)
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in _public_addresses(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"{host} has no address")


def _guarded(connection_class: type[http.client.HTTPConnection], allowed: frozenset[str]) -> Any:
    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = connection_class(host, **kwargs)
        # http.client connects through this attribute; TLS then checks the certificate against `host`.
        connection._create_connection = functools.partial(_connect_public, allowed=allowed)  # type: ignore[attr-defined]
        return connection

    return make


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__()
        self._allowed = allowed

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPConnection, self._allowed), req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__()
        self._allowed = allowed

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPSConnection, self._allowed), req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # the 3xx then surfaces as an HTTPError


def _http_failure(error: urllib.error.HTTPError, where: str) -> DeliveryError:
    status = error.code
    if 300 <= status < 400:
        target = urllib.parse.urlsplit(error.headers.get("Location") or "").netloc or "the same host"
        return DeliveryError(
            f"{where} redirects ({status}) to {target}: configure the URL it redirects to", permanent=True
        )
    try:
        detail = " ".join(error.read(_DETAIL_MAX_CHARS * 4).decode("utf-8", "replace").split())
    except (OSError, http.client.HTTPException):
        detail = ""
    reason = f"{where} answered {status}: {detail[:_DETAIL_MAX_CHARS]}".rstrip(": ")
    if status in (408, 429) or status >= 500:
        return DeliveryError(
            reason, permanent=False, retry_after_s=_retry_after(error.headers.get("Retry-After"))
        )
    return DeliveryError(reason, permanent=True)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; its HTTP-date form is rare from robots and is ignored."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _check_robot_answer(answer: bytes, where: str) -> None:
    try:
        reply = json.loads(answer.decode("utf-8"))
        errcode = reply["errcode"]
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise TypeError(errcode)
    except (ValueError, TypeError, KeyError) as error:  # a proxy's page, a truncated answer
        raise DeliveryError(
            f"{where} gave no robot answer: {answer[:_DETAIL_MAX_CHARS]!r}", permanent=False
        ) from error
    if errcode == 0:
        return
    errmsg = " ".join(str(reply.get("errmsg", "")).split())[:_DETAIL_MAX_CHARS]
    raise DeliveryError(
        f"{where} refused the message: errcode {errcode} {errmsg}".rstrip(),
        permanent=errcode not in _ROBOT_TRANSIENT_ERRCODES,
    )


def _check_http_url(url: str, *, what: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http or https URL (scheme {parts.scheme!r})")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise ValueError(f"{what} must not contain spaces or control characters")
    _ = parts.port  # ValueError for a port that is not one


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Markdown (and WeCom's <font> tags) that text typed by users must not produce in a robot message: links
# and images, emphasis, code, headings, quotes, HTML. Each is replaced by its full-width form, which
# reads the same in Chinese text and means nothing to the renderer (WeCom's markdown has no backslash
# escapes). "://" loses its slashes' meaning too, so that a typed address is not turned into a link.
_MARKDOWN_NEUTRAL = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        ">": "＞",
        "<": "＜",
        "~": "～",
        "|": "｜",
        "!": "！",
        "\\": "＼",
    }
)


def _markdown_text(text: str) -> str:
    """Plain text as robot Markdown that shows it as typed and renders no markup from it."""
    return text.translate(_MARKDOWN_NEUTRAL).replace("://", "：／／")


def _markdown_link(label: str, url: str) -> str:
    label = _markdown_text(_one_line(label)).replace("［", "【").replace("］", "】")
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def _fit(head: str, body: str, tail: str, limit: int) -> str:
    """head + body + tail in at most `limit` bytes of UTF-8, shortening the body only.

    The body is cut at a character boundary, at the last line break when that keeps most of it, and
    marked as cut. Should head and tail alone not fit (never with our subjects), the whole is cut.
    """
    whole = head + body + tail
    if len(whole.encode()) <= limit:
        return whole
    room = limit - len((head + _TRUNCATED + tail).encode())
    if room <= 0:
        return whole.encode()[:limit].decode("utf-8", "ignore")
    kept = body.encode()[:room].decode("utf-8", "ignore")  # drops a character cut in half
    line_end = kept.rfind("\n")
    if line_end >= len(kept) * 2 // 3:
        kept = kept[:line_end]
    return head + kept.rstrip() + _TRUNCATED + tail
