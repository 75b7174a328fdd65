"""The figures a supervisor watches: overdue re-inspections, and the monthly trend of records and treatments.

An organization's figures include the units under it (app/census/scope.py: the caller passes their ids).
Everything is aggregated in SQL, so the page costs the same few queries whatever the number of rows.
Months are Asia/Shanghai months (IAS_TIMEZONE): each month's first local midnight is turned into a UTC
instant in Python, and a CASE over those instants numbers the month of every row. That is portable
(SQLite keeps no time zones) and stays right across any zone rule, unlike date functions in SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from app.accounts.models import User
from app.census import counting
from app.clock import day_start
from app.control.models import ControlOperation, FollowUp, FollowUpStatus
from app.district.models import Township
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.sites.models import Site
from app.species.models import Species

MONTHS = 12


@dataclass(frozen=True)
class DueCounts:
    overdue: int
    due_today: int


@dataclass(frozen=True)
class CountRow:
    """One row of an overdue table; `key` is the township code or assignee id (None: not set)."""

    key: str | int | None
    label: str | None
    count: int


@dataclass(frozen=True)
class MonthObservations:
    month: date  # the first day of the local month
    presence: int
    absence: int


@dataclass(frozen=True)
class MonthArea:
    month: date
    area_m2: float


def _overdue(today: date, organization_ids: Collection[int] | None) -> sa.ColumnElement[bool]:
    if organization_ids is None:
        return sa.and_(FollowUp.overdue_on(today))
    return sa.and_(FollowUp.overdue_on(today), FollowUp.organization_id.in_(sorted(organization_ids)))


def due_counts(*, organization_ids: Collection[int] | None, today: date) -> DueCounts:
    """Pending follow-ups past their due day, and those due today (one query)."""
    pending = FollowUp.status == FollowUpStatus.PENDING
    stmt = sa.select(
        sa.func.count(FollowUp.id).filter(FollowUp.overdue_on(today)),
        sa.func.count(FollowUp.id).filter(FollowUp.due_on == today),
    ).where(pending, FollowUp.due_on <= today)
    if organization_ids is not None:
        stmt = stmt.where(FollowUp.organization_id.in_(sorted(organization_ids)))
    overdue, due_today = db.session.execute(stmt).one()
    return DueCounts(overdue=overdue or 0, due_today=due_today or 0)


def overdue_by_township(*, organization_ids: Collection[int] | None, today: date) -> list[CountRow]:
    """Overdue follow-ups by the township of their site, most first; sites outside any township last."""
    count = sa.func.count(FollowUp.id)
    stmt = (
        sa.select(Township.code, Township.name_zh, count)
        .select_from(FollowUp)
        .join(Site, Site.id == FollowUp.site_id)
        .outerjoin(Township, Township.id == Site.township_id)
        .where(_overdue(today, organization_ids))
        .group_by(Township.id, Township.code, Township.name_zh)
        .order_by(count.desc(), Township.code)
    )
    rows = db.session.execute(stmt).all()
    return _none_last([CountRow(key=code, label=name, count=n) for code, name, n in rows])


def overdue_by_assignee(*, organization_ids: Collection[int] | None, today: date) -> list[CountRow]:
    """Overdue follow-ups by assignee, most first; unassigned ones last."""
    count = sa.func.count(FollowUp.id)
    stmt = (
        sa.select(User.id, User.display_name, count)
        .select_from(FollowUp)
        .outerjoin(User, User.id == FollowUp.assignee_id)
        .where(_overdue(today, organization_ids))
        .group_by(User.id, User.display_name)
        .order_by(count.desc(), User.display_name)
    )
    rows = db.session.execute(stmt).all()
    return _none_last([CountRow(key=user_id, label=name, count=n) for user_id, name, n in rows])


def _none_last(rows: list[CountRow]) -> list[CountRow]:
    return [row for row in rows if row.key is not None] + [row for row in rows if row.key is None]


# ---------------------------------------------------------------------------------------------
# Monthly trends


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last `months` local months, oldest first, ending with today's month."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_index(
    column: InstrumentedAttribute[datetime], months: list[date]
) -> tuple[sa.ColumnElement[int], sa.ColumnElement[bool]]:
    """A CASE giving the position in `months` of a UTC timestamp, and the condition of the window."""
    bounds = [day_start(month) for month in months]
    index = sa.case(
        *[(column >= bound, position) for position, bound in reversed(list(enumerate(bounds))) if position],
        else_=0,
    )
    window = sa.and_(column >= bounds[0], column < day_start(_next_month(months[-1])))
    return index, window


def observations_by_month(*, months: list[date], species_id: int | None = None) -> list[MonthObservations]:
    """Presence and absence records of the whole district by local month (rejected records left out).

    Grouped in an outer query over the numbered rows: PostgreSQL cannot match a CASE with bound
    parameters in SELECT to the same CASE in GROUP BY.
    """
    index, window = _month_index(Observation.observed_at, months)
    inner = sa.select(index.label("month"), Observation.detected.label("detected")).where(
        window, Observation.status != ReviewStatus.REJECTED
    )
    if species_id is not None:
        inner = inner.where(Observation.species_id == species_id)
    numbered = inner.subquery()
    stmt = sa.select(numbered.c.month, numbered.c.detected, sa.func.count()).group_by(
        numbered.c.month, numbered.c.detected
    )
    presence = [0] * len(months)
    absence = [0] * len(months)
    for position, detected, n in db.session.execute(stmt):
        (presence if detected else absence)[position] += n
    return [
        MonthObservations(month=month, presence=presence[i], absence=absence[i])
        for i, month in enumerate(months)
    ]


def treated_area_by_month(*, months: list[date], organization_ids: Collection[int] | None) -> list[MonthArea]:
    """Area treated by control operations (m²) by local month of the operation, each counted as the census
    counts it (防治面积（亩次）: its treated polygon's area, else the typed area; docs/census.md)."""
    index, window = _month_index(ControlOperation.performed_at, months)
    inner = sa.select(index.label("month"), counting.operation_area_m2().label("area_m2")).where(window)
    if organization_ids is not None:
        inner = inner.where(ControlOperation.organization_id.in_(sorted(organization_ids)))
    numbered = inner.subquery()
    stmt = sa.select(numbered.c.month, sa.func.coalesce(sa.func.sum(numbered.c.area_m2), 0)).group_by(
        numbered.c.month
    )
    areas = [0.0] * len(months)
    for position, area in db.session.execute(stmt):
        areas[position] = float(area)
    return [MonthArea(month=month, area_m2=areas[i]) for i, month in enumerate(months)]


def observed_species(*, months: list[date]) -> list[tuple[int, str]]:
    """(id, Chinese name) of the species recorded in the window, for the species picker."""
    _, window = _month_index(Observation.observed_at, months)
    recorded = sa.select(Observation.species_id).where(window).distinct()
    stmt = sa.select(Species.id, Species.name_zh).where(Species.id.in_(recorded)).order_by(Species.pinyin)
    return [(species_id, name) for species_id, name in db.session.execute(stmt)]
