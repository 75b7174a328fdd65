from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization, User
from app.db import JSONType, intpk, timestamp
from app.extensions import db


def _enum(cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ExportKind(enum.StrEnum):
    CENSUS = "census"  # every sheet of the bureau's template
    CONTROL = "control"  # control operations and their summary
    FOLLOW_UPS = "follow_ups"  # follow-ups and their summary


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Export(db.Model):  # type: ignore[name-defined]
    """A census workbook asked for through the API, written by the scheduler process, kept a while."""

    __tablename__ = "exports"

    id: Mapped[intpk]
    kind: Mapped[ExportKind] = mapped_column(_enum(ExportKind))
    # The bureau whose template and whose species are exported (an organization code).
    bureau: Mapped[str] = mapped_column(sa.String(64))
    date_from: Mapped[date | None]
    date_to: Mapped[date | None]
    # Filters as for GET /observations (species_id, township_code, status, detected, organization …).
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The exported bureau (not the requester's organization); None: the district census.
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[ExportStatus] = mapped_column(_enum(ExportStatus), default=ExportStatus.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(default=0.0)
    rows: Mapped[int | None]
    file_key: Mapped[str | None] = mapped_column(sa.String(200))
    file_size: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(80))
    # How many runners have taken it: one that kills its runner is failed after a few (runner.MAX_CLAIMS).
    claims: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_until: Mapped[datetime | None]
    created_at: Mapped[timestamp]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # After this the file is deleted and the download answers 410.
    expires_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()
    requested_by: Mapped[User] = relationship()
