"""Two sweeps at once (two schedulers started by mistake, or cron beside the scheduler) send each once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.notifications import jobs
from app.notifications.models import Delivery, DeliveryStatus
from app.notifications.reminders import queue_follow_up_reminders
from tests.conftest import PADDY
from tests.notifications.servers import SmtpServer

pytestmark = pytest.mark.real_commits


def _treat_own_site(treat: Any, make_observation: Any, api: Any, i: int, assignee_id: int) -> None:
    """A treatment 10 days ago of a site of its own, 100 m × i north of the paddy (one site's
    treatments of one day share their re-inspections: docs/census.md, Re-inspections due)."""
    performed = datetime.now(UTC) - timedelta(days=10)
    baseline = make_observation(
        api,
        latitude=PADDY[0] + i * 100 / 111_320,
        observed_at=(performed - timedelta(hours=2)).isoformat(),
        density_per_m2=20.0,
        egg_masses_per_m2=6.0,
    )
    treat(api, method="chemical", days_ago=10, assignee_id=assignee_id, baseline=baseline)


def test_two_sweeps_at_once_send_each_reminder_once(
    app: Flask, smtp_server: SmtpServer, api_as: Any, make_user: Any, treat: Any, make_observation: Any
) -> None:
    saved = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = smtp_server.host, smtp_server.port
    try:
        people = [make_user("surveyor", email=f"p{i}@example.cn").id for i in range(6)]
        make_user("supervisor", email="boss@example.cn")
        surveyor = api_as("surveyor")
        # On SQLite a transaction this thread keeps open would hold the write lock the requests need.
        db.session.commit()
        for i, person_id in enumerate(people):
            _treat_own_site(treat, make_observation, surveyor, i, person_id)
        queue_follow_up_reminders()
        db.session.commit()
        db.session.remove()

        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with app.app_context():
                    barrier.wait(timeout=10)
                    jobs.sweep(batch=5)
                    db.session.remove()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        # Three overdue reminders to each of the six, one letter each, and their 18 escalations in one
        # letter to the supervisor: 7 deliveries, each sent once (a second send would make more).
        with app.app_context():
            statuses = db.session.scalars(sa.select(Delivery.status)).all()
        assert len(statuses) == 7 and set(statuses) == {DeliveryStatus.SENT}
        assert len(smtp_server.messages) == 7
        per_person = Counter(str(m.message["To"]) for m in smtp_server.messages)
        assert per_person == {**{f"p{i}@example.cn": 1 for i in range(6)}, "boss@example.cn": 1}
    finally:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = saved


def test_two_sweeps_queueing_at_once_put_each_reminder_in_one_letter(
    app: Flask, api_as: Any, make_user: Any, treat: Any, make_observation: Any
) -> None:
    """The grouped letters are made by whichever sweep takes a follow-up first; the other leaves it."""
    from app.notifications.models import Notification

    people = [make_user("surveyor", email=f"q{i}@example.cn").id for i in range(4)]
    make_user("supervisor", email="chief@example.cn")
    surveyor = api_as("surveyor")
    db.session.commit()
    for i, person_id in enumerate(people):
        _treat_own_site(treat, make_observation, surveyor, i, person_id)
    db.session.remove()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                queue_follow_up_reminders()
                db.session.commit()
                outcomes.append("queued")
            except sa.exc.OperationalError:  # SQLite: the second writer is refused and rolls back
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert "queued" in outcomes and len(outcomes) == 2
    with app.app_context():
        letters = db.session.scalars(sa.select(Notification)).all()
        reminders = Counter(
            (item["kind"], item["follow_up_id"]) for letter in letters for item in letter.data["items"]
        )
        deliveries = db.session.scalars(sa.select(Delivery)).all()
    # 4 people × 3 overdue, and the same 12 escalated to the supervisor: each in exactly one letter.
    assert len(reminders) == 24 and set(reminders.values()) == {1}
    assert len(deliveries) == len(letters) <= 5 + 5  # one letter per person per sweep that took some
