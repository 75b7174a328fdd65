from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization, User
from app.audit.models import Audited
from app.db import JSONType, NullableJSON, UTCDateTime, intpk, timestamp, utcnow
from app.extensions import db
from app.observations.models import Observation
from app.photos.models import Photo
from app.sites.models import Site
from app.species.models import ControlMethod, Species


def _enum(cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ControlOperation(Audited, db.Model):  # type: ignore[name-defined]
    """A treatment of one site for one species with one method, and what it took."""

    __tablename__ = "control_operations"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "client_uuid"),
        # The operator's own earlier try, in any organization (app/idempotency.py).
        sa.Index("ix_control_operations_operator_id_client_uuid", "operator_id", "client_uuid"),
    )
    __sender__ = "operator_id"

    id: Mapped[intpk]
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid(native_uuid=False))
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id"), index=True)
    method_id: Mapped[int] = mapped_column(sa.ForeignKey("control_methods.id"), index=True)
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    area_m2: Mapped[float | None]
    # The treated polygon (WGS-84 GeoJSON) and its geodesic area in m²; area_m2 takes that area when none
    # was typed. A site's treated polygons give its 防治范围 (docs/census.md).
    geometry: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    geometry_area_m2: Mapped[float | None]
    # The method's own quantities (kg_removed, product, dose …), checked against its catalogue fields.
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    labour_person_days: Mapped[float | None]
    cost_yuan: Mapped[float | None]
    team: Mapped[str | None] = mapped_column(sa.String(200))
    # Who re-inspects: the follow-ups this operation schedules are assigned to this person (the one
    # recording it unless they name a colleague); the supervisor is only the escalation. Empty on
    # operations recorded before the field existed.
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # The observation that measured the site before treatment (efficacy is computed against it).
    baseline_observation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("observations.id"))
    # An untreated check plot (CK) of the same species, for Henderson–Tilton corrected efficacy.
    # Indexed: a new record at a site asks whether a completed re-inspection reads it as its check plot.
    check_site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    # The re-inspection days used (the species × method default, or what the operator gave).
    follow_up_days: Mapped[list[int]] = mapped_column(JSONType, default=list)
    created_at: Mapped[timestamp]

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    operator: Mapped[User] = relationship(foreign_keys=[operator_id], lazy="joined", innerjoin=True)
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    site: Mapped[Site] = relationship(foreign_keys=[site_id], lazy="joined", innerjoin=True)
    species: Mapped[Species] = relationship(lazy="joined", innerjoin=True)
    method: Mapped[ControlMethod] = relationship(lazy="joined", innerjoin=True)
    baseline_observation: Mapped[Observation | None] = relationship()
    check_site: Mapped[Site | None] = relationship(foreign_keys=[check_site_id])
    follow_ups: Mapped[list[FollowUp]] = relationship(
        back_populates="control_operation", order_by="FollowUp.due_on", lazy="selectin"
    )
    photos: Mapped[list[Photo]] = relationship(lazy="selectin", order_by="Photo.id", viewonly=True)


class FollowUpStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class FollowUpKind(enum.StrEnum):
    SCHEDULED = "scheduled"  # from the species × method schedule of a control operation
    NEXT_SPRING = "next_spring"  # the check of overwintering sites the next spring
    MANUAL = "manual"  # created by hand for any site


class FollowUp(Audited, db.Model):  # type: ignore[name-defined]
    """A re-inspection (复查) of a site, due on a day in Asia/Shanghai; overdue is derived, not stored."""

    __tablename__ = "follow_ups"
    __audit_ignore__ = frozenset({"updated_at", "reminded_due_on", "reminded_overdue_on", "escalated_on"})

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    control_operation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("control_operations.id"), index=True
    )
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    kind: Mapped[FollowUpKind] = mapped_column(_enum(FollowUpKind))
    # Days after the operation (scheduled ones), for the census tables.
    offset_days: Mapped[int | None]
    due_on: Mapped[date] = mapped_column(index=True)
    status: Mapped[FollowUpStatus] = mapped_column(_enum(FollowUpStatus), default=FollowUpStatus.PENDING)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    cancelled_reason: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    observation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("observations.id"))
    # {"density_reduction_pct", "egg_mass_reduction_pct", "cover_reduction_pct",
    #  "corrected_efficacy_pct", "corrected_efficacy_reason", and the inputs}; None while withheld.
    efficacy: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    # How far the re-inspection was recorded from its site; one farther than 3 × IAS_SITE_RADIUS_M may
    # not be at the site at all, so its efficacy waits until a supervisor accepts it.
    distance_m: Mapped[float | None]
    far_from_site: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    far_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    far_accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Which due date a reminder was already queued for (a rescheduled follow-up is reminded again).
    reminded_due_on: Mapped[date | None]
    reminded_overdue_on: Mapped[date | None]
    escalated_on: Mapped[date | None]
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship(lazy="joined", innerjoin=True)
    control_operation: Mapped[ControlOperation | None] = relationship(back_populates="follow_ups")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    observation: Mapped[Observation | None] = relationship()

    # Overdue (docs/contract.md §1): still pending after its due day, an Asia/Shanghai day
    # (app.clock.local_today). One rule for Python (`follow_up.overdue_on(today)`) and SQL
    # (`FollowUp.overdue_on(today)` in a where clause).
    def _overdue_on(self, today: date) -> bool:
        return self.status == FollowUpStatus.PENDING and self.due_on < today

    def _overdue_on_sql(cls: Any, today: date) -> sa.ColumnElement[bool]:  # called with the class
        return sa.and_(cls.status == FollowUpStatus.PENDING, cls.due_on < today)

    overdue_on = hybrid_method(_overdue_on, _overdue_on_sql)


sa.Index("ix_follow_ups_status_due_on", FollowUp.status, FollowUp.due_on)
# One pending next-spring check per site (a site is of one species), whatever two operations created at
# the same moment do (app/control/schedule.py locks the site too; migration c0a1d6e50028).
sa.Index(
    "uq_follow_ups_pending_next_spring",
    FollowUp.site_id,
    unique=True,
    postgresql_where=sa.text("kind = 'next_spring' AND status = 'pending'"),
    sqlite_where=sa.text("kind = 'next_spring' AND status = 'pending'"),
)
