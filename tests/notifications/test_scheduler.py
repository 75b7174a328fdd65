"""The scheduler process: two started by mistake, one leads; reminders go out once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.notifications.models import Delivery, DeliveryStatus
from app.scheduler import table
from app.scheduler.models import SchedulerLease
from app.scheduler.process import SchedulerProcess
from tests.notifications.servers import SmtpServer

pytestmark = pytest.mark.real_commits


def _wait_until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


def test_two_schedulers_one_leader_each_reminder_once(
    app: Flask,
    smtp_server: SmtpServer,
    api_as: Any,
    make_user: Any,
    treat: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "IAS_SWEEP_SECONDS")}
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, IAS_SWEEP_SECONDS=1)
    stop = threading.Event()
    started: list[str] = []  # the owner of each sweep run (past the lease), in order
    finished: list[str] = []  # of each sweep that ran to its end
    real_sweep = table.sweep

    def counted_sweep(owner: str) -> Any:
        started.append(owner)
        report = real_sweep(owner)
        finished.append(owner)
        return report

    monkeypatch.setattr(table, "sweep", counted_sweep)
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
        _wait_until(lambda: len(smtp_server.messages) >= 2, "two letters")
        # Two more whole sweeps by whoever leads, started after the letters arrived: they must send
        # nothing more.
        begun = len(started)
        _wait_until(lambda: len(finished) >= begun + 2, "two more sweeps")
        assert len(set(started)) == 1, started  # one leader ran every sweep
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
    assert set(jobs) == {
        "sweep",
        "daily_digest",
        "exports",
        "purge_exports",
        "prune_sign_ins",
        "survey_reminders",
        "stray_photo_files",
    }
    assert all(when is not None for when in jobs.values()), jobs
    assert jobs["daily_digest"].strftime("%H:%M") == "08:00"
