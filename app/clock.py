"""The working day: times are stored in UTC, but "today", due dates and overdue are Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def local_zone() -> ZoneInfo:
    """The zone people work in (IAS_TIMEZONE, Asia/Shanghai)."""
    return ZoneInfo(current_app.config["IAS_TIMEZONE"])


def local_date(moment: datetime) -> date:
    return moment.astimezone(local_zone()).date()


def local_today(now: datetime | None = None) -> date:
    return local_date(now or datetime.now(UTC))
