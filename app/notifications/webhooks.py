"""Webhooks: a notification POSTed as JSON to a generic receiver, a WeCom (企业微信) or a DingTalk (钉钉)
group robot, sent once.

How HTTP failures map to `DeliveryError.permanent`: 5xx, 408 and 429 are transient (with the server's
Retry-After when it gave seconds); other 4xx are permanent. Redirects are never followed: a POST that is
redirected loses its body (urllib turns it into a GET) and could be sent to another scheme, so a 3xx is a
permanent "fix the URL". WeCom and DingTalk robots answer HTTP 200 with `{"errcode": …}`; errcode 0 is
success. Their "system busy" (-1) and rate limits (WeCom 45009; DingTalk 130101, 410100: 20 messages a
minute per robot) are transient; any other errcode (bad token, bad signature, DingTalk's keyword check,
bad payload) is permanent. A connection that drops after the message went out may have delivered it: it
counts as transient, so a retry can deliver twice (the delivery id lets a receiver drop the repeat).

Webhook URLs carry their access token in the query, so errors name the host only. Text typed by users
is neutralised so that it renders no markup in a robot's Markdown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection
from enum import StrEnum
from typing import Any

from app.notifications.channels import DETAIL_MAX_CHARS, DeliveryError, Message, check_http_url, one_line
from app.notifications.public_hosts import BlockedAddress, OnConnect, public_opener

WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom: markdown.content is at most 4096 bytes of UTF-8
_TRUNCATED = "…（内容过长，已截断）"
_ROBOT_TRANSIENT_ERRCODES = frozenset({-1, 45009, 130101, 410100})
_MAX_RESPONSE_BYTES = 64 * 1024  # robots answer a few dozen bytes; never read an endless body


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
            f"**{_markdown_text(one_line(message.subject))}**\n",
            _markdown_text(message.body.strip()),
            f"\n\n{links}" if links else "",
            WECOM_MARKDOWN_MAX_BYTES,
        )
        return {"msgtype": "markdown", "markdown": {"content": content}}
    # DingTalk's markdown needs a blank line to break a line; the title is the preview in the chat list.
    lines = [_markdown_text(line.strip()) for line in message.body.strip().splitlines() if line.strip()]
    subject = _markdown_text(one_line(message.subject))
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
    on_connect: OnConnect | None = None,
) -> None:
    """POST `message` to `url` in format `fmt`; `secret` signs it for a DingTalk robot (加签; an empty
    secret counts as none).

    Only public addresses are connected to (see `check_webhook_target`), checked on the addresses the
    name resolves to when connecting, so a name that resolves to loopback now is refused too; hosts in
    `allowed_hosts` (the operator's IAS_WEBHOOK_ALLOWED_HOSTS) are exempt. No proxy from the
    environment is used and no redirect is followed. `delivery_id` goes out as the X-IAS-Delivery-Id
    header (and, for generic webhooks, the payload's `delivery_id`): the same on every retry, so a
    receiver can drop a repeat. `on_connect` is told of the connection's socket (a delivery's deadline).

    ValueError for a URL that is not http(s), or a secret for a format that does not sign; else
    DeliveryError when it was not delivered (permanent for an address that is not public).
    """
    fmt = WebhookFormat(fmt)
    check_http_url(url, what="A webhook URL")
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
    opener = public_opener(allowed_hosts, on_connect)
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
            f"{where} unreachable: {str(reason) or type(error).__name__}", permanent=False, receiver_down=True
        ) from error
    if fmt is not WebhookFormat.GENERIC:
        _check_robot_answer(answer, where)


def _http_failure(error: urllib.error.HTTPError, where: str) -> DeliveryError:
    status = error.code
    if 300 <= status < 400:
        target = urllib.parse.urlsplit(error.headers.get("Location") or "").netloc or "the same host"
        return DeliveryError(
            f"{where} redirects ({status}) to {target}: configure the URL it redirects to", permanent=True
        )
    try:
        detail = " ".join(error.read(DETAIL_MAX_CHARS * 4).decode("utf-8", "replace").split())
    except (OSError, http.client.HTTPException):
        detail = ""
    reason = f"{where} answered {status}: {detail[:DETAIL_MAX_CHARS]}".rstrip(": ")
    if status in (408, 429) or status >= 500:
        return DeliveryError(
            reason,
            permanent=False,
            retry_after_s=_retry_after(error.headers.get("Retry-After")),
            receiver_down=True,
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
            f"{where} gave no robot answer: {answer[:DETAIL_MAX_CHARS]!r}",
            permanent=False,
            receiver_down=True,
        ) from error
    if errcode == 0:
        return
    errmsg = " ".join(str(reply.get("errmsg", "")).split())[:DETAIL_MAX_CHARS]
    transient = errcode in _ROBOT_TRANSIENT_ERRCODES  # busy, or over its rate: so is every message to it
    raise DeliveryError(
        f"{where} refused the message: errcode {errcode} {errmsg}".rstrip(),
        permanent=not transient,
        receiver_down=transient,
    )


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
    label = _markdown_text(one_line(label)).replace("［", "【").replace("］", "】")
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
