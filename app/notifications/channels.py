"""Delivery of one notification: what the senders share. Each channel (mail.py: SMTP; webhooks.py:
generic JSON, WeCom and DingTalk robots, to public addresses only, public_hosts.py) turns a `Message`
into an e-mail or a webhook request, sends it once, and says how it failed; they know nothing of the
database. The outbox decides what goes to whom and when to try again (outbox.py, delivery.py).

`DeliveryError.permanent` is the whole contract with the outbox: False means a later attempt may
succeed, True means the same message to the same address never will. Each channel's module says where
its protocol draws the line. A connection that drops after the message went out is ambiguous (it may
have arrived): it counts as transient, so a retry can deliver twice, with the same delivery id.

Nothing secret reaches an error message: webhook URLs carry their access token in the query, so errors
name the host only, and the SMTP password is left out of `repr`.

`Message.body` is plain text without the links; each channel renders `links` its own way (lines of
text, HTML anchors, markdown links), after the body, so truncation never cuts a link off.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

DETAIL_MAX_CHARS = 200  # of a server's answer quoted in an error


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
            check_http_url(url, what="A link")
        json.dumps(self.data, allow_nan=False)  # TypeError or ValueError now, not in the scheduler


class DeliveryError(Exception):
    """Sending failed. `permanent`: retrying the same message cannot help. Otherwise retry later, no
    sooner than `retry_after_s` when the server said so. `receiver_down`: the failure is the receiver's,
    not this message's (unreachable, not answering, overloaded or limiting its rate), so that the other
    messages to it would fail alike and are not tried in this sweep. The text names no secret."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after_s: float | None = None,
        receiver_down: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after_s = retry_after_s
        self.receiver_down = receiver_down and not permanent


def check_http_url(url: str, *, what: str) -> None:
    """ValueError unless `url` is an absolute http(s) URL without spaces or control characters."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http or https URL (scheme {parts.scheme!r})")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise ValueError(f"{what} must not contain spaces or control characters")
    _ = parts.port  # ValueError for a port that is not one


def one_line(text: str) -> str:
    """Text as one line (headers, titles): every run of white space becomes one space."""
    return " ".join(text.split())
