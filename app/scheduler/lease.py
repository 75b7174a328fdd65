"""The leader lease: only the scheduler process holding it runs jobs.

A lease is a row (name, owner, expires_at). The leader renews it before each job; another process takes
it only once it has expired, so a second scheduler started by mistake keeps trying and does nothing
meanwhile. Each take, renewal and release is committed at once (the "scheduler lease" step, app/uow.py):
the other processes decide by what is committed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app import uow
from app.extensions import db
from app.scheduler.models import SchedulerLease


def hold_lease(name: str, owner: str, seconds: int) -> bool:
    """Take or renew the named lease for `owner`; False while another live owner holds it."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    table = SchedulerLease.__table__
    with uow.step("scheduler lease"):
        renewed = db.session.execute(
            sa.update(table)
            .where(table.c.name == name, sa.or_(table.c.owner == owner, table.c.expires_at < now))
            .values(owner=owner, expires_at=expires)
        )
        if renewed.rowcount == 0:  # type: ignore[attr-defined]
            # Nobody holds it yet; of two processes inserting at once, one row wins.
            dialect = db.session.get_bind().dialect.name
            insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            db.session.execute(
                insert.values(name=name, owner=owner, expires_at=expires).on_conflict_do_nothing()
            )
        holder = db.session.scalar(sa.select(table.c.owner).where(table.c.name == name))
    return holder == owner


def release_lease(name: str, owner: str) -> None:
    """Give the lease up (a scheduler stopping), so that another may lead at once."""
    table = SchedulerLease.__table__
    with uow.step("scheduler lease"):
        db.session.execute(sa.delete(table).where(table.c.name == name, table.c.owner == owner))
