"""The notifications domain's scheduled work, run by the scheduler's table (app/scheduler/table.py) and by
`flask reminders send-due`. Each job is idempotent: run twice, it raises and sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app import uow
from app.notifications import delivery, digest, reminders
from app.notifications.delivery import SendReport
from app.notifications.outbox import process_owner
from app.notifications.reminders import QueueReport


@dataclass
class SweepReport:
    queued: QueueReport
    sent: SendReport

    def __bool__(self) -> bool:
        q, s = self.queued, self.sent
        return bool(q.due or q.overdue or q.escalated or s.claimed)

    def __str__(self) -> str:
        q, s = self.queued, self.sent
        return (
            f"reminders queued: {q.due} due, {q.overdue} overdue, {q.escalated} escalated; "
            f"deliveries: {s.claimed} claimed, {s.sent} sent, {s.retrying} to retry, "
            f"{s.deferred} not tried (their receiver was down), {s.failed} failed, "
            f"{s.skipped} not sent (recipient deactivated or e-mail off), "
            f"{s.taken_over} taken over by another sender"
        )


def sweep(owner: str | None = None, *, today: date | None = None, batch: int = 200) -> SweepReport:
    """One pass: queue the reminders now due (one unit of work), then send the outbox until nothing is
    due (each claim and each outcome committed as a step of its own, app/notifications/outbox.py)."""
    with uow.unit():
        queued = reminders.queue_follow_up_reminders(today)
    sent = delivery.send_outbox(owner or process_owner(), batch=batch)
    return SweepReport(queued, sent)


@uow.transactional
def daily_digest(today: date | None = None) -> int:
    """Queue today's digest e-mails; returns how many."""
    return digest.queue_digests(today)
