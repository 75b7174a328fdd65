"""The scheduler process: the one table of scheduled jobs, run by `flask scheduler run`, never inside web
workers.

Jobs are plain functions that open their own app context and commit their own work. Only the process
holding the `scheduler` lease runs them: a second scheduler started by mistake keeps trying to take the
lease and does nothing meanwhile (and even if two ran, claims with leases keep a reminder from being
sent twice).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app import uow
from app.accounts.services import prune_sign_in_records
from app.audit.services import set_actor_label
from app.exports import services as exports
from app.extensions import db
from app.notifications import services as notifications

log = logging.getLogger(__name__)

LEASE = "scheduler"


class SchedulerProcess:
    def __init__(self, app: Flask, owner: str | None = None) -> None:
        self.app = app
        self.owner = owner or notifications.process_owner()
        self.sweep_seconds = int(app.config["IAS_SWEEP_SECONDS"])
        # The lease outlives a few missed renewals, so a busy sweep does not lose it.
        self.lease_seconds = max(3 * self.sweep_seconds, 60)

    def _as_leader(self, job: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            with self.app.app_context():
                set_actor_label("scheduler")
                try:
                    if not notifications.hold_lease(LEASE, self.owner, self.lease_seconds):
                        log.info("Another scheduler holds the lease; %s skipped", job.__name__)
                        return
                    result = job()
                    if result:  # an idle sweep is not worth a log line
                        log.info("%s: %s", job.__name__, result)
                except Exception:
                    db.session.rollback()
                    log.exception("Scheduled job %s failed; it runs again at its next time", job.__name__)
                finally:
                    db.session.remove()

        run.__name__ = job.__name__
        return run

    def jobs(self) -> list[tuple[Callable[[], None], Any]]:
        """The one table of scheduled jobs: (function, trigger)."""
        zone = self.app.config["IAS_TIMEZONE"]
        hour, minute = (int(part) for part in self.app.config["IAS_DIGEST_AT"].split(":"))
        return [
            (self._as_leader(sweep), IntervalTrigger(seconds=self.sweep_seconds)),
            (self._as_leader(daily_digest), CronTrigger(hour=hour, minute=minute, timezone=zone)),
            (self._as_leader(self.exports), IntervalTrigger(seconds=max(self.sweep_seconds // 4, 2))),
            (self._as_leader(purge_exports), CronTrigger(minute=17, timezone=zone)),
            (self._as_leader(prune_sign_ins), CronTrigger(minute=41, timezone=zone)),
        ]

    def exports(self) -> str:
        ran = exports.run_pending_exports(self.owner)
        return f"{ran} exports written" if ran else ""

    def add_jobs(self, scheduler: BaseScheduler) -> None:
        for function, trigger in self.jobs():
            # The sweep runs at once; the others at their first time. (next_run_time=None would add a
            # job paused, so it is only passed where it is wanted.)
            first_run = (
                {"next_run_time": datetime.now(trigger.timezone)} if function.__name__ == "sweep" else {}
            )
            scheduler.add_job(
                function,
                trigger,
                id=function.__name__,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(self.sweep_seconds, 30),
                **first_run,
            )

    def run(self, stop: threading.Event | None = None) -> None:
        scheduler = BlockingScheduler(timezone=self.app.config["IAS_TIMEZONE"])
        self.add_jobs(scheduler)

        def shutdown(signum: int, frame: FrameType | None) -> None:
            scheduler.shutdown(wait=False)

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, shutdown)
            signal.signal(signal.SIGINT, shutdown)
        if stop is not None:
            threading.Thread(
                target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
            ).start()
        log.info("Scheduler %s started: sweep every %ss", self.owner, self.sweep_seconds)
        try:
            scheduler.start()
        finally:
            with self.app.app_context():
                notifications.release_lease(LEASE, self.owner)


def sweep() -> notifications.SweepReport:
    return notifications.sweep()


@uow.transactional
def purge_exports() -> str:
    purged = exports.purge_expired()
    return f"{purged} expired export files deleted" if purged else ""


@uow.transactional
def prune_sign_ins() -> str:
    pruned = prune_sign_in_records()
    return f"{pruned} ended sessions and old sign-in counts deleted" if pruned else ""


@uow.transactional
def daily_digest() -> str:
    count = notifications.queue_digests()
    return f"{count} digests queued" if count else ""
