from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class SchedulerLease(db.Model):  # type: ignore[name-defined]
    """Which scheduler process is the active one: a second one started by mistake waits."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(80))
    expires_at: Mapped[datetime]
