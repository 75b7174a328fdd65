"""The scheduler process: two started by mistake, one leads; reminders go out once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.notifications.models import Delivery, DeliveryStatus, SchedulerLease
from app.scheduler import SchedulerProcess
from tests.notifications.servers import SmtpServer

pytestmark = pytest.mark.real_commits


def test_two_schedulers_one_leader_each_reminder_once(
    app: Flask, smtp_server: SmtpServer, api_as: Any, make_user: Any, treat: Any
) -> None:
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "IAS_SWEEP_SECONDS")}
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, IAS_SWEEP_SECONDS=1)
    stop = threading.Event()
    try:
        make_user("supervisor", email="boss@example.cn")
        surveyor = api_as("surveyor")
        surveyor_email = surveyor.user.email  # type: ignore[attr-defined]
        db.session.commit()
        treat(surveyor, method="chemical", days_ago=10)
        db.session.remove()

        first, second = SchedulerProcess(app, owner="first"), SchedulerProcess(app, owner="second")
        threads = [threading.Thread(target=p.run, kwargs={"stop": stop}) for p in (first, second)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.5)  # a couple more sweeps by whoever leads: they must send nothing more
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        assert not any(t.is_alive() for t in threads)

        # +1, +3, +7 are overdue (to the surveyor who treated) and escalated (to the supervisor): one
        # letter each, listing the three.
        assert sorted(str(m.message["To"]) for m in smtp_server.messages) == sorted(
            ["boss@example.cn", surveyor_email]
        )
        with app.app_context():
            assert set(db.session.scalars(sa.select(Delivery.status))) == {DeliveryStatus.SENT}
            assert db.session.scalar(sa.select(sa.func.count()).select_from(SchedulerLease)) == 0  # released
    finally:
        stop.set()
        app.config.update(saved)


def test_every_job_is_scheduled_none_paused(app: Flask) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    SchedulerProcess(app, owner="test").add_jobs(scheduler)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {"sweep", "daily_digest", "exports", "purge_exports", "prune_sign_ins"}
    assert all(when is not None for when in jobs.values()), jobs
    assert jobs["daily_digest"].strftime("%H:%M") == "08:00"
