"""The scheduler process: runs the table's jobs (app/scheduler/table.py) while it holds the leader lease.

Each job runs in its own app context. Only the process holding the `scheduler` lease runs jobs: a second
scheduler started by mistake keeps trying to take the lease and does nothing meanwhile (and even if two
ran, the outbox's and the exports' claims keep a message from being sent, or an export written, twice).
A job that fails is logged and rolled back, and runs again at its next time.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.audit.services import set_actor_label
from app.extensions import db
from app.notifications.outbox import process_owner
from app.scheduler import table
from app.scheduler.lease import hold_lease, release_lease

log = logging.getLogger(__name__)

LEASE = "scheduler"


class SchedulerProcess:
    def __init__(self, app: Flask, owner: str | None = None) -> None:
        self.app = app
        self.owner = owner or process_owner()
        self.sweep_seconds = int(app.config["IAS_SWEEP_SECONDS"])
        # The lease outlives a few missed renewals, so a busy sweep does not lose it.
        self.lease_seconds = max(3 * self.sweep_seconds, 60)
        # Set once the process is stopping: a job queued but not yet begun then does nothing, so that no
        # job takes the lease again after the process has given it up.
        self.stopping = threading.Event()
        self.stopped = threading.Event()  # the running jobs have ended

    def _as_leader(self, name: str, job: table.Job) -> Callable[[], None]:
        def run() -> None:
            with self.app.app_context():
                set_actor_label("scheduler")
                try:
                    if self.stopping.is_set():
                        return
                    if not hold_lease(LEASE, self.owner, self.lease_seconds):
                        log.info("Another scheduler holds the lease; %s skipped", name)
                        return
                    result = job(self.owner)
                    if result:  # an idle run is not worth a log line
                        log.info("%s: %s", name, result)
                except Exception:
                    db.session.rollback()
                    log.exception("Scheduled job %s failed; it runs again at its next time", name)
                finally:
                    db.session.remove()

        run.__name__ = name
        return run

    def add_jobs(self, scheduler: BaseScheduler) -> None:
        for name, job, trigger in table.jobs(self.app.config):
            # next_run_time=None would add a job paused, so it is only passed where it is wanted.
            first_run: dict[str, Any] = (
                {"next_run_time": datetime.now(trigger.timezone)} if name in table.RUN_AT_START else {}
            )
            scheduler.add_job(
                self._as_leader(name, job),
                trigger,
                id=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(self.sweep_seconds, 30),
                **first_run,
            )

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until SIGTERM or SIGINT (or `stop` is set), then give the lease up."""
        scheduler = BlockingScheduler(timezone=self.app.config["IAS_TIMEZONE"])
        self.add_jobs(scheduler)

        def stop_scheduler() -> None:
            # Waits for the jobs running now to end (a job is never cut off half way), so that the lease
            # is released below only once no job of this process can take it again.
            self.stopping.set()
            try:
                scheduler.shutdown(wait=True)
            except SchedulerNotRunningError:  # a second signal while stopping: the first one waits
                return
            self.stopped.set()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop_scheduler()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        if stop is not None:

            def stop_when_set() -> None:
                stop.wait()
                stop_scheduler()

            threading.Thread(target=stop_when_set, daemon=True).start()
        log.info("Scheduler %s started: sweep every %ss", self.owner, self.sweep_seconds)
        try:
            scheduler.start()
        finally:
            # The scheduler's loop can end before stop_scheduler has waited for the running jobs.
            if self.stopping.is_set():
                self.stopped.wait()
            with self.app.app_context():
                release_lease(LEASE, self.owner)
