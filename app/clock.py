"""The working day: times are stored in UTC, but "today", due dates and overdue are Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


def local_zone() -> ZoneInfo:
    """The zone people work in (IAS_TIMEZONE, Asia/Shanghai)."""
    return ZoneInfo(current_app.config["IAS_TIMEZONE"])


def local_date(moment: datetime) -> date:
    return moment.astimezone(local_zone()).date()


def local_today(now: datetime | None = None) -> date:
    return local_date(now or datetime.now(UTC))


def day_start(day: date) -> datetime:
    """The local midnight that starts `day`, as a UTC instant: a day's records are those at or after
    day_start(day) and before day_end(day)."""
    return datetime(day.year, day.month, day.day, tzinfo=local_zone()).astimezone(UTC)


def day_end(day: date) -> datetime:
    """The local midnight that ends `day` (the next day's start), as a UTC instant; exclusive."""
    return day_start(day + timedelta(days=1))


# Phones' clocks drift: a record or an operation a few minutes "in the future" is a clock, not a mistake.
CLOCK_SKEW = timedelta(minutes=10)
# Nothing in the field was recorded before this: an earlier time is a wrong year.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
