"""The reminder sweep killed (SIGKILL) at random points loses nothing and duplicates only what it must.

Three control operations 60 days ago, each at its own site with thirty follow-ups (+1 … +30 days), owe
180 overdue and escalation reminders. The real sweep runs in processes of its own against the suite's
database and a real SMTP server on loopback, and is killed with SIGKILL three times: the scheduler
(`flask scheduler run`) just after its first sweep queued the reminders, cron's one-shot sweep
(`flask reminders send-due`) just after it claimed a batch, and again after a random number of
e-mails (a few milliseconds later still, at random). Then `send-due` runs to completion.

The guarantee, from app/notifications/outbox.py and delivery.py, is what is asserted:

- nothing is lost: every reminder due has exactly one outbox row (unique per recipient and event) and
  one inbox notification, every row ends `sent`, and every e-mail arrives at least once;
- a copy is sent again only when a kill came after the mail server accepted it and before the sweep
  recorded it: outcomes are recorded every RECORD_BATCH messages (one commit per batch, not per
  message), so the rows a killed sweep had sent and not yet recorded are claimed again once their
  lease (IAS_DELIVERY_LEASE_SECONDS, 1 s here) lapses, and sent once more. So each e-mail arrives
  exactly 1 + (the number of kills that caught it sent but unrecorded) times, and each kill leaves at
  most RECORD_BATCH such messages. Nothing else is ever sent twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import User
from app.clock import local_today
from app.control.models import FollowUp
from app.extensions import db
from app.notifications.models import Delivery, DeliveryStatus, Notification
from app.notifications.outbox import RECORD_BATCH
from app.scheduler.models import SchedulerLease
from tests.conftest import PADDY, TEST_CONFIG
from tests.notifications.servers import SmtpServer
from tests.reliability.server import ROOT

pytestmark = pytest.mark.real_commits

FLASK = str(Path(sys.executable).parent / "flask")
LEASE_SECONDS = 1
# One message's time limit, under the lease as the configuration requires; loose enough for a loaded
# machine (a message cut off after the server took it would be sent twice, which this test would see).
DEADLINE_SECONDS = 0.9
OPERATIONS = 80  # a person each: reminders are one letter per person per sweep
SEED = int(os.environ.get("RELIABILITY_SEED") or random.SystemRandom().randrange(1_000_000))

Key = tuple[str, str]  # (To, Subject): one e-mail


class Sweeps:
    """Runs the sweep in processes of its own and watches the outbox and the mail server."""

    def __init__(self, database_url: str, smtp: SmtpServer, folder: Path) -> None:
        self.smtp = smtp
        self.log = folder / "sweeps.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_CONFIG["SECRET_KEY"],
            "IAS_STORAGE_DIR": str(folder / "storage"),
            "MAIL_SERVER": smtp.host,
            "MAIL_PORT": str(smtp.port),
            "IAS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
            "IAS_DELIVERY_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own flask and arguments
                [FLASK, "--app", "wsgi:app", *command], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """After a failure: no sweep of ours may outlive the test."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    @staticmethod
    def scalar(statement: Any) -> Any:
        with db.engine.connect() as connection:  # a short read of its own: no lock held in between
            return connection.scalar(statement)

    def owned_by(self, pid: int) -> Any:
        return Delivery.lease_owner.like(f"%:{pid}:%")  # process_owner() is host:pid:random

    def wait_for(self, process: subprocess.Popen[bytes], condition: Callable[[], bool]) -> bool:
        """True once `condition` holds while the process runs; False if it ended first."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if condition():
                return process.poll() is None
            if process.poll() is not None:
                return False
            time.sleep(0.01)
        raise AssertionError(f"nothing happened in 60 s:\n{self.log.read_text(errors='replace')}")

    def settle(self) -> None:
        """Let the mail server finish what reached it before the kill."""
        count = -1
        while count != len(self.smtp.messages):
            count = len(self.smtp.messages)
            time.sleep(0.15)

    def wait_for_leases_to_lapse(self) -> None:
        latest = self.scalar(
            sa.select(sa.func.max(Delivery.lease_until)).where(Delivery.status == DeliveryStatus.SENDING)
        )
        if latest is not None:
            if latest.tzinfo is None:  # SQLite keeps no zone; the column is UTC
                latest = latest.replace(tzinfo=UTC)
            time.sleep(max(0.0, (latest - datetime.now(UTC)).total_seconds()) + 0.05)

    def unrecorded(self, pid: int) -> set[Key]:
        """E-mails of rows the process `pid` claimed and had not recorded when it died."""
        rows = db.session.execute(
            sa.select(User.email, Delivery.message)
            .join(User, User.id == Delivery.user_id)
            .where(Delivery.status == DeliveryStatus.SENDING, self.owned_by(pid))
        ).all()
        db.session.rollback()
        return {(email, message["subject"]) for email, message in rows}


def _key(mail: Any) -> Key:
    message = mail.message
    return str(message["To"]), str(message["Subject"])


def test_killed_sweeps_lose_nothing_and_resend_only_what_was_unrecorded(
    app: Flask,
    database_url: str,
    smtp_server: SmtpServer,
    api_as: Any,
    make_user: Any,
    treat: Any,
    make_observation: Any,
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)  # noqa: S311 - chance, not secrets
    make_user("supervisor", email="chief@example.cn")
    people = [make_user("surveyor", email=f"field{i}@example.cn").id for i in range(OPERATIONS)]
    surveyor = api_as("surveyor")
    db.session.commit()  # on SQLite, no transaction may stay open beside the requests and sweeps
    follow_up_ids = []
    treated = datetime.now(UTC) - timedelta(days=60)
    for i, person in enumerate(people):
        site = make_observation(  # a site each: every e-mail's subject names its site
            surveyor,
            latitude=PADDY[0] + 0.002 * (i % 10),
            longitude=PADDY[1] + 0.002 * (i // 10),
            observed_at=(treated - timedelta(hours=2)).isoformat(),
        )
        operation, _ = treat(
            surveyor,
            method="chemical",
            days_ago=60,
            baseline=site,
            assignee_id=person,
            follow_up_days=[1, 2, 3],
        )
        follow_up_ids += [f["id"] for f in operation["follow_ups"]]

    # What the sweep owes: per pending follow-up, a due-today or an overdue reminder to the assignee,
    # and an escalation to the supervisor once it is IAS_ESCALATE_AFTER_DAYS overdue.
    today = local_today()
    escalate_before = today - timedelta(days=app.config["IAS_ESCALATE_AFTER_DAYS"])
    owed: set[tuple[str, int, int]] = set()
    for fid, due_on, assignee_id, supervisor_id in db.session.execute(
        sa.select(FollowUp.id, FollowUp.due_on, FollowUp.assignee_id, FollowUp.supervisor_id).where(
            FollowUp.id.in_(follow_up_ids)
        )
    ):
        if due_on == today:
            owed.add(("follow_up_due", fid, assignee_id))
        elif due_on < today:
            owed.add(("follow_up_overdue", fid, assignee_id))
        if due_on <= escalate_before and supervisor_id is not None:
            owed.add(("follow_up_escalated", fid, supervisor_id))
    db.session.commit()
    assert len(owed) > 6 * RECORD_BATCH
    assert OPERATIONS + 1 > 6 * RECORD_BATCH  # letters enough to kill sweeps in the middle of sending

    sweeps = Sweeps(database_url, smtp_server, tmp_path)
    try:
        caught: list[set[Key]] = []  # per kill: e-mails sent but not recorded
        runs: list[tuple[str, list[Key]]] = []

        def kill_when(command: tuple[str, ...], label: str, condition: Callable[[int], bool]) -> None:
            first = len(smtp_server.messages)
            process = sweeps.start(*command)
            killed = sweeps.wait_for(process, lambda: condition(process.pid))
            if killed:
                time.sleep(rng.uniform(0, 0.03))
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            sweeps.settle()
            received = [_key(m) for m in smtp_server.messages[first:]]
            runs.append((label if killed else f"{label} (finished first)", received))
            if killed:
                unrecorded = sweeps.unrecorded(process.pid)
                caught.append(unrecorded & set(received))
            sweeps.wait_for_leases_to_lapse()  # so that the next sweep can claim everything at once

        queued = sa.select(sa.func.count()).select_from(Delivery)
        # The scheduler, as soon as its first sweep has queued the reminders.
        kill_when(("scheduler", "run"), "scheduler: reminders queued", lambda pid: sweeps.scalar(queued) > 0)
        # Cron's sweep, as soon as it holds a claim.
        kill_when(
            ("reminders", "send-due"),
            "send-due: batch claimed",
            lambda pid: sweeps.scalar(sa.select(sa.func.count()).where(sweeps.owned_by(pid))) > 0,
        )
        # Cron's sweep again, after a random number of e-mails: sometimes past a recorded batch.
        count = rng.randint(1, 2 * RECORD_BATCH)
        start = len(smtp_server.messages)
        kill_when(
            ("reminders", "send-due"),
            f"send-due: after {count} e-mails",
            lambda pid: len(smtp_server.messages) >= start + count,
        )
        first = len(smtp_server.messages)
        process = sweeps.start("reminders", "send-due")
        assert process.wait(timeout=120) == 0, sweeps.log.read_text(errors="replace")
        sweeps.settle()
        runs.append(("send-due: to completion", [_key(m) for m in smtp_server.messages[first:]]))

        story = f"seed {SEED}: " + "; ".join(f"{label}: {len(keys)} sent" for label, keys in runs)
        story += f"; sent but unrecorded at each kill: {[len(c) for c in caught]}"
        print(story)  # the run's figures, shown with -s
        assert len(caught) == 3, story  # each kill came in the middle of a sweep

        deliveries = db.session.execute(
            sa.select(
                Delivery.event_key, Delivery.user_id, Delivery.status, User.email, Delivery.message
            ).join(User, User.id == Delivery.user_id)
        ).all()
        notifications = db.session.execute(sa.select(Notification.data, Notification.user_id)).all()
        db.session.rollback()
        # Exactly the reminders owed, each in one letter and one inbox item: none lost, none twice (a
        # kill during queueing rolled back whole). A letter lists every reminder it carries.
        events = Counter(
            (item["kind"], item["follow_up_id"], user)
            for _, user, _, _, message in deliveries
            for item in message["data"]["items"]
        )
        assert set(events) == owed and max(events.values()) == 1
        assert len(deliveries) == len({user for _, user, *_ in deliveries})  # one letter per person
        inbox = Counter(
            (item["kind"], item["follow_up_id"], user)
            for data, user in notifications
            for item in data["items"]
        )
        assert set(inbox) == owed and max(inbox.values()) == 1
        assert {status for _, _, status, _, _ in deliveries} == {DeliveryStatus.SENT}

        # Every e-mail arrived; more than once only as the kills explain, and within one run never twice.
        mails = {(email, message["subject"]) for _, _, _, email, message in deliveries}
        assert len(mails) == len(deliveries)  # (To, Subject) names one delivery
        received = Counter(key for _, keys in runs for key in keys)
        assert set(received) == mails
        for label, keys in runs:
            assert len(keys) == len(set(keys)), f"{label} sent something twice"
        explained = Counter(key for unrecorded in caught for key in unrecorded)
        assert {key: n - 1 for key, n in received.items() if n > 1} == dict(explained), story
        assert all(len(unrecorded) <= RECORD_BATCH for unrecorded in caught), story
    finally:
        sweeps.stop_all()
        # The killed scheduler's lease would keep another from leading for a minute.
        with db.engine.begin() as connection:
            for process in sweeps.processes:
                owner = SchedulerLease.owner.like(f"%:{process.pid}:%")
                connection.execute(sa.delete(SchedulerLease).where(owner))
