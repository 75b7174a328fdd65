"""One reminder sweep over 100 000 follow-ups (contract §5 budget: one pass ≤ 2 s; statement count independent
of the number due).

Builds its own database (a migrated SQLite file in a temporary folder, or the PostgreSQL database named
by BENCH_DATABASE_URL, which is emptied first), bulk-loads 100 000 pending follow-ups over 1 000 sites,
with `--due` of them due today and as many overdue, and times:

- the first sweep, which queues and delivers every reminder now due (e-mail goes to the log: no
  MAIL_SERVER), counting SQL statements for the queueing half;
- a second sweep, the steady state every minute: nothing new is due, nothing is sent.

Run twice with different `--due` to see that the queueing statement count does not change.

    .venv/bin/python bench/reminder_sweep.py [--follow-ups 100000] [--due 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import sqlalchemy as sa
from database import fresh_database_url  # bench/ is on sys.path when a script here runs

from app import create_app
from app.accounts.models import Organization, Role, User
from app.clock import local_today
from app.control.models import FollowUp, FollowUpKind, FollowUpStatus
from app.district.loading import load_district
from app.extensions import db
from app.notifications import jobs, reminders
from app.sites.models import Site, SiteStatus
from app.species.models import Species
from app.species.sync import sync_registry

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 2.0


def build(app: Any, follow_ups: int, due: int) -> None:
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()
        org = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
        species = db.session.scalar(sa.select(Species).where(Species.key == "pomacea-canaliculata"))
        if org is None or species is None:
            raise SystemExit("the district and species registry did not load")
        now = datetime.now(UTC)
        people = [
            {
                "username": f"bench{i}",
                "display_name": f"调查员{i}",
                "email": f"bench{i}@example.cn",
                "role": Role.SUPERVISOR if i == 0 else Role.SURVEYOR,
                "organization_id": org.id,
                "password_hash": "x",
                "active": True,
                "notify_email": True,
                "notify_digest": False,
                "created_at": now,
            }
            for i in range(50)
        ]
        db.session.execute(sa.insert(User), people)
        user_ids = list(
            db.session.scalars(sa.select(User.id).where(User.username.like("bench%")).order_by(User.id))
        )
        sites = [
            {
                "code": f"500155001-{i:04d}",
                "code_prefix": "500155001",
                "serial": i,
                "species_id": species.id,
                "organization_id": org.id,
                "latitude": 30.6 + i * 1e-4,
                "longitude": 107.8,
                "status": SiteStatus.UNDER_CONTROL,
                "first_observed_at": now,
                "last_observed_at": now,
                "created_at": now,
            }
            for i in range(1, 1001)
        ]
        db.session.execute(sa.insert(Site), sites)
        site_ids = list(db.session.scalars(sa.select(Site.id).order_by(Site.id)))
        today = local_today()
        rows = []
        for i in range(follow_ups):
            if i < due:
                due_on = today
            elif i < 2 * due:
                due_on = today - timedelta(days=1 + i % 10)
            else:
                due_on = today + timedelta(days=1 + i % 300)
            rows.append(
                {
                    "site_id": site_ids[i % len(site_ids)],
                    "organization_id": org.id,
                    "kind": FollowUpKind.SCHEDULED,
                    "offset_days": 7,
                    "due_on": due_on,
                    "status": FollowUpStatus.PENDING,
                    "assignee_id": user_ids[1 + i % (len(user_ids) - 1)],
                    "supervisor_id": user_ids[0],
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, len(rows), 20_000):
            db.session.execute(sa.insert(FollowUp), rows[start : start + 20_000])
        db.session.commit()


def measure(app: Any) -> dict[str, Any]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
        start = time.perf_counter()
        queued = reminders.queue_follow_up_reminders()
        db.session.commit()
        queue_seconds = time.perf_counter() - start
        queue_statements = len(statements)
        sa.event.remove(db.engine, "before_cursor_execute", count)
        commits: list[None] = []

        def committed(conn: Any) -> None:
            commits.append(None)

        sa.event.listen(db.engine, "commit", committed)
        start = time.perf_counter()
        first = jobs.sweep()
        send_seconds = time.perf_counter() - start
        sa.event.remove(db.engine, "commit", committed)
        start = time.perf_counter()
        idle_statements_before = len(statements)
        sa.event.listen(db.engine, "before_cursor_execute", count)
        second = jobs.sweep()
        idle_seconds = time.perf_counter() - start
        sa.event.remove(db.engine, "before_cursor_execute", count)
        db.session.remove()
    return {
        "queued": {"due": queued.due, "overdue": queued.overdue, "escalated": queued.escalated},
        "queue_seconds": round(queue_seconds, 3),
        "queue_statements": queue_statements,
        "deliver_seconds": round(send_seconds, 3),
        "delivered": first.sent.sent,
        "deliver_commits": len(commits),
        "first_pass_seconds": round(queue_seconds + send_seconds, 3),
        "idle_pass_seconds": round(idle_seconds, 3),
        "idle_pass_statements": len(statements) - idle_statements_before,
        "idle_claimed": second.sent.claimed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000, help="due today (and as many overdue)")
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()
    logging.getLogger("app.notifications.delivery").setLevel(logging.WARNING)  # no log line per e-mail

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(tmp)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IAS_STORAGE_DIR": tmp, "MAIL_SERVER": None})
        started = time.perf_counter()
        build(app, args.follow_ups, args.due)
        build_seconds = time.perf_counter() - started
        result = measure(app)
    result.update(
        benchmark="reminder_sweep",
        database=url.split(":", 1)[0],
        follow_ups=args.follow_ups,
        due_today=args.due,
        overdue=args.due,
        build_seconds=round(build_seconds, 1),
        budget_seconds=BUDGET_SECONDS,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
