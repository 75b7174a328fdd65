"""Sending the outbox: each claimed delivery by e-mail or webhook, its outcome recorded at once.

`send_outbox` claims due deliveries in batches (app/notifications/outbox.py) and sends them until none is
left that is due now. Each delivery is sent once per claim: on success it is marked sent; on a permanent
failure it is marked failed at once, and why is kept; on a transient failure it is tried again later.

Transient failures are retried for a window of time (IAS_DELIVERY_RETRY_HOURS from the first attempt), not
for a number of attempts: a mail server or a receiver down for an hour is an ordinary outage, and a
reminder queued as it began must still arrive (its reminder mark was set when it was queued, so nothing
queues it again). The waits double from IAS_DELIVERY_BACKOFF_SECONDS up to
IAS_DELIVERY_MAX_BACKOFF_SECONDS, so that a message goes out within that cap of the outage's end, never
sooner than a receiver's Retry-After; the last attempt falls at the window's end. How a channel fails is
the channels' business (channels.py); this module only reads `DeliveryError.permanent`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import queue
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from app.notifications import channels, mail, outbox, webhooks
from app.notifications.deadline import Deadline
from app.notifications.models import DeliveryChannel, DeliveryStatus
from app.notifications.outbox import Claimed

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    taken_over: int = 0  # claimed, but another sender had taken it over before it was sent here
    skipped: int = 0  # e-mails whose recipient was deactivated or switched e-mail off since they were queued
    deferred: int = 0  # not tried: an earlier message to the same receiver found it down (retried later)


@dataclass(frozen=True)
class SendSettings:
    """What sending needs from the configuration, read once in the app context (senders run in threads)."""

    smtp: mail.SmtpSettings | None
    webhook_allowed_hosts: frozenset[str]
    webhook_timeout_s: float
    # The whole of one delivery, connection to answer (IAS_DELIVERY_DEADLINE_SECONDS): under the claim's
    # lease, so that a slow receiver cannot keep a message until another sender takes it over.
    deadline_s: float = 60.0


@dataclass(frozen=True)
class RetrySettings:
    """How long a transient failure is retried, and how the waits between attempts grow."""

    window: timedelta
    first_wait: timedelta
    max_wait: timedelta

    @classmethod
    def from_config(cls) -> RetrySettings:
        config = current_app.config
        return cls(
            window=timedelta(hours=float(config["IAS_DELIVERY_RETRY_HOURS"])),
            first_wait=timedelta(seconds=int(config["IAS_DELIVERY_BACKOFF_SECONDS"])),
            max_wait=timedelta(seconds=int(config["IAS_DELIVERY_MAX_BACKOFF_SECONDS"])),
        )


def next_attempt(
    item: Claimed, retry: RetrySettings, now: datetime, retry_after_s: float | None = None
) -> datetime | None:
    """When to try a delivery again after a transient failure now; None once its window is over.

    The wait doubles with each attempt up to `max_wait`, and never ends past the window: the last attempt
    is made as the window closes. A receiver's Retry-After is honoured even past it (it asked for that)."""
    deadline = (item.first_attempt_at or now) + retry.window
    if now >= deadline:
        return None
    doublings = min(max(item.attempts - 1, 0), 30)  # 2**30 minutes is past any cap
    wait = min(retry.first_wait * (2**doublings), retry.max_wait)
    at = min(now + wait, deadline)
    if retry_after_s:
        at = max(at, now + timedelta(seconds=retry_after_s))
    return at


def send_settings() -> SendSettings:
    config = current_app.config
    smtp = None
    if config.get("MAIL_SERVER"):
        smtp = mail.SmtpSettings(
            host=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            sender=config["MAIL_DEFAULT_SENDER"],
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
        )
    return SendSettings(
        smtp=smtp,
        webhook_allowed_hosts=frozenset(config["IAS_WEBHOOK_ALLOWED_HOSTS"]),
        webhook_timeout_s=float(config["IAS_WEBHOOK_TIMEOUT_SECONDS"]),
        deadline_s=float(config["IAS_DELIVERY_DEADLINE_SECONDS"]),
    )


def _message(stored: dict[str, Any]) -> channels.Message:
    return channels.Message(
        subject=stored["subject"],
        body=stored["body"],
        links=tuple((label, url) for label, url in stored.get("links", [])),
        data=stored.get("data", {}),
    )


def deliver(item: Claimed, settings: SendSettings | None = None) -> None:
    """Send one claimed delivery, within `settings.deadline_s` from connecting to the answer. Raises
    channels.DeliveryError (or ValueError for a bad target); a delivery cut off at its deadline is a
    transient failure of its receiver.

    Needs no app context when `settings` are given (the sweep sends from threads)."""
    settings = settings or send_settings()
    with Deadline(settings.deadline_s) as deadline:
        try:
            _deliver(item, settings, deadline)
        except channels.DeliveryError as error:
            if not deadline.expired:
                raise
            raise channels.DeliveryError(
                f"{_receiver_name(item, settings)} did not finish within {settings.deadline_s:g} s "
                f"({error.reason})",
                permanent=False,
                receiver_down=True,
            ) from error


def _receiver_name(item: Claimed, settings: SendSettings) -> str:
    if item.channel == DeliveryChannel.EMAIL:
        smtp = settings.smtp
        return "the SMTP server" if smtp is None else f"SMTP server {smtp.host}:{smtp.port}"
    return (
        f"webhook {urllib.parse.urlsplit(item.webhook_url or '').netloc}"  # never the path: it holds tokens
    )


def _deliver(item: Claimed, settings: SendSettings, deadline: Deadline) -> None:
    message = _message(item.message)
    if item.channel == DeliveryChannel.EMAIL:
        if not item.email:
            raise channels.DeliveryError("the user has no e-mail address", permanent=True)
        if settings.smtp is None:
            log.info(
                "MAIL_SERVER is not set; e-mail %s to %s: %s / %s",
                item.delivery_id,
                item.email,
                message.subject,
                message.body,
            )
            return
        mail.send_email(
            settings.smtp,
            item.email,
            message,
            delivery_id=item.delivery_id or None,
            on_connect=deadline.watch,
        )
        return
    if not item.webhook_url or not item.webhook_active:
        raise channels.DeliveryError("the webhook was removed or switched off", permanent=True)
    fmt = webhooks.WebhookFormat(item.webhook_format or "generic")
    secret = item.webhook_secret if fmt is webhooks.WebhookFormat.DINGTALK else None  # only DingTalk signs
    webhooks.post_webhook(
        item.webhook_url,
        fmt,
        message,
        secret=secret,
        timeout_s=settings.webhook_timeout_s,
        allowed_hosts=settings.webhook_allowed_hosts,
        delivery_id=item.delivery_id or None,
        on_connect=deadline.watch,
    )


def _receiver(item: Claimed) -> str:
    """Who receives a delivery, for telling that it is down: the SMTP server for every e-mail, the URL
    for a webhook."""
    return "smtp" if item.channel == DeliveryChannel.EMAIL else f"webhook {item.webhook_url}"


@dataclass(frozen=True)
class _NotTried:
    """A lane's outcome for a delivery it did not send: an earlier one to the same receiver found it down."""

    cause: channels.DeliveryError


# Lanes sent side by side: one per organization's webhooks, one for e-mail (one SMTP server).
MAX_LANES = 8


@dataclass
class _Turn:
    """What a lane hands the recording thread, and waits on (`answered`): before sending an item, a
    request to renew its claim (`asking`; `go` is the answer); after, the item's outcome (None or the
    exception)."""

    item: Claimed
    asking: bool
    outcome: Any = None
    go: bool = False
    answered: threading.Event = field(default_factory=threading.Event)


def _wait(turn: _Turn, stop: threading.Event) -> bool:
    """Wait for the recording thread's answer; False when it stopped instead."""
    while not turn.answered.wait(timeout=0.1):
        if stop.is_set():
            return False
    return True


def _send_lane(
    items: list[Claimed], settings: SendSettings, turns: queue.Queue[_Turn], stop: threading.Event
) -> None:
    """Send one lane's deliveries in order, each only once its claim is renewed, handing each outcome back.

    A lane may reach its last items minutes after the batch was claimed (a mail server taking seconds
    per message): their leases may have lapsed and another sender taken them over. So each item's claim
    is renewed just before it is sent, and an item no longer ours is skipped. The next one is sent only
    once the outcome of the last is recorded, so that a sender killed at any moment leaves at most one
    message per lane sent and not recorded. Once a message's receiver is found down (unreachable, cut off
    at the deadline, overloaded: `DeliveryError.receiver_down`), the lane's later messages to it are not
    tried in this sweep but handed back to be retried with it: a receiver that is down costs the sweep
    one timeout, not one per message. `stop` ends the lane early (the recording thread failed)."""
    down: dict[str, channels.DeliveryError] = {}
    for item in items:
        if stop.is_set():
            return
        cause = down.get(_receiver(item))
        if cause is not None:  # its receiver failed a moment ago: not tried, retried with it later
            told = _Turn(item, asking=False, outcome=_NotTried(cause))
            turns.put(told)
            if not _wait(told, stop):
                return
            continue
        ask = _Turn(item, asking=True)
        turns.put(ask)
        if not _wait(ask, stop):
            return
        if not ask.go:
            continue  # taken over by another sender, or already done: not ours to send
        outcome: Any = None
        try:
            deliver(item, settings)
        except Exception as exc:
            outcome = exc
            if isinstance(exc, channels.DeliveryError) and exc.receiver_down:
                down[_receiver(item)] = exc
        told = _Turn(item, asking=False, outcome=outcome)
        turns.put(told)
        if not _wait(told, stop):
            return


def send_claimed(items: list[Claimed], owner: str) -> SendReport:
    """Send what this owner claimed, recording each outcome as soon as it is known.

    Deliveries are sent in lanes, one per organization (its webhooks) and one for e-mail, up to
    MAX_LANES side by side: a receiver that answers slowly (each waits at most
    IAS_WEBHOOK_TIMEOUT_SECONDS) holds up its own organization's lane only. Only this thread touches
    the database: it renews each item's claim before its lane sends it (`outbox.renew`, an item whose
    claim lapsed and was taken over is not sent here), and a lane sends its next message once this
    thread has recorded the last one: a scheduler killed mid-sweep re-sends at most the messages then
    in flight (one per lane), with the same delivery id.
    """
    retry = RetrySettings.from_config()
    settings = send_settings()
    report = SendReport(claimed=len(items))
    outcomes: list[dict[str, Any]] = []
    for item in items:
        if item.skip_reason:  # not sent, and not a failure: nothing to retry (outbox._skip_reason)
            outcomes.append(
                {
                    "did": item.id,
                    "new_status": DeliveryStatus.SKIPPED,
                    "sent": None,
                    "error": item.skip_reason,
                }
            )
            report.skipped += 1
    outbox.record(owner, outcomes)
    items = [item for item in items if not item.skip_reason]
    lanes: dict[str, list[Claimed]] = {}
    for item in items:
        lanes.setdefault(item.lane, []).append(item)
    turns: queue.Queue[_Turn] = queue.Queue()
    stop = threading.Event()
    unexpected: BaseException | None = None
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(lanes), MAX_LANES))) as pool:
        for lane in lanes.values():
            pool.submit(_send_lane, lane, settings, turns, stop)
        try:
            left = len(items)
            while left:
                turn = turns.get()
                item, exc = turn.item, turn.outcome
                if turn.asking:
                    turn.go = outbox.renew(owner, item.id)
                    if not turn.go:
                        left -= 1
                        report.taken_over += 1
                        log.info("Delivery %s was taken over by another sender; not sent here", item.id)
                    turn.answered.set()
                    continue
                left -= 1
                if isinstance(exc, _NotTried):
                    later = next_attempt(item, retry, datetime.now(UTC), exc.cause.retry_after_s)
                    error = f"not tried: an earlier message found the receiver down ({exc.cause.reason})"
                    outcomes.append(
                        {
                            "did": item.id,
                            "new_status": DeliveryStatus.FAILED if later is None else DeliveryStatus.PENDING,
                            "sent": None,
                            "error": error[:2000],
                            "next_attempt": later,
                        }
                    )
                    if later is None:
                        report.failed += 1
                        log.warning("Delivery %s failed for good: %s", item.id, error)
                    else:
                        report.deferred += 1
                elif exc is None:
                    outcomes.append(
                        {
                            "did": item.id,
                            "new_status": DeliveryStatus.SENT,
                            "sent": datetime.now(UTC),
                            "error": None,
                        }
                    )
                    report.sent += 1
                elif isinstance(exc, channels.DeliveryError | ValueError):
                    permanent = isinstance(exc, ValueError) or exc.permanent
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                    outcome: dict[str, Any] = {"did": item.id, "sent": None, "error": error}
                    later = None
                    if not permanent:
                        retry_after = getattr(exc, "retry_after_s", None)
                        later = next_attempt(item, retry, datetime.now(UTC), retry_after)
                    if later is None:
                        outcome["new_status"] = DeliveryStatus.FAILED
                        report.failed += 1
                        log.warning("Delivery %s failed for good: %s", item.id, error)
                    else:
                        outcome["new_status"] = DeliveryStatus.PENDING
                        outcome["next_attempt"] = later
                        report.retrying += 1
                    outcomes.append(outcome)
                elif unexpected is None:  # a bug: its row is left to its lease (sent again later)
                    unexpected = exc
                if len(outcomes) >= outbox.RECORD_BATCH:
                    outbox.record(owner, outcomes)
                turn.answered.set()  # the lane may send its next
        finally:
            stop.set()  # after an error here, the lanes send nothing more
            outbox.record(owner, outcomes)  # what was sent before an error in this loop is still recorded
    if unexpected is not None:
        raise unexpected
    return report


def send_outbox(owner: str, *, batch: int = 200) -> SendReport:
    """Claim and send due deliveries in batches of `batch` until none is due now; returns the totals."""
    total = SendReport()
    while True:
        items = outbox.claim(owner, limit=batch)
        if not items:
            break
        report = send_claimed(items, owner)
        for counted in dataclasses.fields(SendReport):
            setattr(total, counted.name, getattr(total, counted.name) + getattr(report, counted.name))
        if report.sent + report.failed + report.skipped == 0:
            break  # everything claimed is waiting to retry later (or was taken over)
    return total
