"""The working day (app/clock.py) and the one rule for an overdue re-inspection (FollowUp.overdue_on)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.clock import day_end, day_start, local_date, local_today
from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db


def test_a_day_runs_from_local_midnight_to_local_midnight(app: Any) -> None:
    with app.app_context():
        assert day_start(date(2026, 3, 1)) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # UTC+8
        assert day_end(date(2026, 3, 1)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
        assert day_end(date(2026, 12, 31)) == day_start(date(2027, 1, 1))
        # 23:59 local on the 1st is still the 1st; 00:00 local on the 2nd is not.
        assert local_date(day_end(date(2026, 3, 1)) - timedelta(minutes=1)) == date(2026, 3, 1)
        assert local_date(day_end(date(2026, 3, 1))) == date(2026, 3, 2)
        assert local_today(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == date(2026, 3, 2)


def test_overdue_is_one_rule_in_python_and_sql(api_as: Any, treat: Any) -> None:
    treat(api_as("supervisor"))
    follow_ups = list(db.session.scalars(sa.select(FollowUp)))
    assert follow_ups, "the treatment scheduled no re-inspection"
    today = date(2026, 6, 15)
    cases = [
        (FollowUpStatus.PENDING, today - timedelta(days=1), True),  # due yesterday, still pending
        (FollowUpStatus.PENDING, today, False),  # due today: not yet overdue
        (FollowUpStatus.PENDING, today + timedelta(days=3), False),
        (FollowUpStatus.DONE, today - timedelta(days=5), False),
        (FollowUpStatus.CANCELLED, today - timedelta(days=5), False),
    ]
    follow_up = follow_ups[0]
    for status, due_on, overdue in cases:
        follow_up.status, follow_up.due_on = status, due_on
        db.session.flush()
        assert follow_up.overdue_on(today) is overdue, (status, due_on)
        found = db.session.scalar(
            sa.select(sa.func.count()).where(FollowUp.id == follow_up.id, FollowUp.overdue_on(today))
        )
        assert found == (1 if overdue else 0), (status, due_on)
