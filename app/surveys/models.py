"""Survey campaigns, their units, 踏查 routes, plots and quadrats (docs/surveys.md).

The census is a method, not a pile of points: a bureau plans a campaign, assigns its townships and
villages to surveyors, walks routes, lays plots with quadrats where a species is confirmed, and shows that
every unit was covered. Records (observations) made for a campaign carry its id, and those made while a
route ran carry the route's client UUID (the route may reach the server after them: both are written on the
phone, offline, and sent in whatever order the link allows).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization, User
from app.audit.models import Audited
from app.db import JSONType, NullableJSON, UTCDateTime, intpk, timestamp, utcnow
from app.district.models import Township, Village
from app.extensions import db
from app.photos.models import Photo
from app.sites.models import Site
from app.species.models import Habitat, Species


def _enum(cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class CampaignKind(enum.StrEnum):
    CENSUS = "census"  # 普查
    MONITORING = "monitoring"  # 监测
    SPECIAL = "special"  # 专项调查


campaign_species = sa.Table(
    "survey_campaign_species",
    db.metadata,
    sa.Column("campaign_id", sa.ForeignKey("survey_campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("species_id", sa.ForeignKey("species.id"), primary_key=True),
)


class Campaign(Audited, db.Model):  # type: ignore[name-defined]
    """A bureau's survey: a date window, the species it looks for, and the units it must cover."""

    __tablename__ = "survey_campaigns"
    __audit_ignore__ = frozenset({"updated_at"})

    id: Mapped[intpk]
    # The bureau that runs the campaign; its units lie in the district, its assignees work for the bureau
    # or a unit under it (docs/surveys.md).
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[CampaignKind] = mapped_column(_enum(CampaignKind))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    species: Mapped[list[Species]] = relationship(
        secondary=campaign_species, lazy="selectin", order_by="Species.id"
    )
    units: Mapped[list[SurveyUnit]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="SurveyUnit.id"
    )

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name}>"


class SurveyUnit(Audited, db.Model):  # type: ignore[name-defined]
    """A township, or a village of it, that a campaign must cover, with who covers it and by when."""

    __tablename__ = "survey_units"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "unit_code"),)

    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("survey_campaigns.id", ondelete="CASCADE"), index=True
    )
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("townships.id"))
    # Empty when the unit is the whole township.
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"))
    # The village's 12-digit code, or the township's 9-digit code: one unit of each per campaign.
    unit_code: Mapped[str] = mapped_column(sa.String(12))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_on: Mapped[date | None]

    campaign: Mapped[Campaign] = relationship(back_populates="units")
    township: Mapped[Township] = relationship(lazy="joined", innerjoin=True)
    village: Mapped[Village | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<SurveyUnit {self.id} {self.unit_code}>"


class Route(Audited, db.Model):  # type: ignore[name-defined]
    """A 踏查 route: the GPS track a surveyor walked, with its length and duration.

    `points` keeps every fix as sent (time, position, accuracy), poor ones marked, so nothing the phone
    recorded is lost; `geometry` is the LineString drawn on maps and measured (docs/surveys.md).
    """

    __tablename__ = "survey_routes"
    # Idempotent by client UUID like records: a route sent twice is one route (its surveyor's own
    # earlier try found in any organization, app/idempotency.py).
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "client_uuid"),
        sa.Index("ix_survey_routes_surveyor_id_client_uuid", "surveyor_id", "client_uuid"),
    )
    __audit_ignore__ = frozenset({"points", "geometry"})
    __sender__ = "surveyor_id"

    id: Mapped[intpk]
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid(native_uuid=False))
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    surveyor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("survey_campaigns.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("survey_units.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    points: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    length_m: Mapped[float] = mapped_column(default=0.0)
    duration_s: Mapped[int] = mapped_column(default=0)  # elapsed: from the start to the end
    # The survey effort: the elapsed time less the pauses (migration 0021; routes before: the elapsed time).
    moving_s: Mapped[int] = mapped_column(default=0)
    # The pauses the phone recorded, [{started_at, ended_at}] in UTC; None when it sent none.
    pauses: Mapped[list[Any] | None] = mapped_column(NullableJSON)
    # Fixes the surveyor left out when sending again a route the server refused for them.
    dropped_point_count: Mapped[int] = mapped_column(default=0)
    point_count: Mapped[int] = mapped_column(default=0)
    poor_point_count: Mapped[int] = mapped_column(default=0)
    # The track's bounding box, so coverage and maps find routes without reading their points.
    min_lon: Mapped[float | None]
    min_lat: Mapped[float | None]
    max_lon: Mapped[float | None]
    max_lat: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[timestamp]

    surveyor: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    campaign: Mapped[Campaign | None] = relationship()
    unit: Mapped[SurveyUnit | None] = relationship()

    def __repr__(self) -> str:
        return f"<Route {self.id} {self.client_uuid}>"


class PlotShape(enum.StrEnum):
    SQUARE = "square"
    RECTANGLE = "rectangle"
    CIRCLE = "circle"
    STRIP = "strip"  # a belt transect along a ditch or a road edge


class Plot(Audited, db.Model):  # type: ignore[name-defined]
    """A 样地 laid at a site where a species is confirmed; its figures come from its quadrats."""

    __tablename__ = "survey_plots"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "client_uuid"),
        # The surveyor's own earlier try, in any organization (app/idempotency.py).
        sa.Index("ix_survey_plots_surveyor_id_client_uuid", "surveyor_id", "client_uuid"),
    )
    __audit_ignore__ = frozenset({"updated_at"})
    __sender__ = "surveyor_id"

    id: Mapped[intpk]
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid(native_uuid=False))
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    surveyor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("survey_campaigns.id"), index=True)
    surveyed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shape: Mapped[PlotShape] = mapped_column(_enum(PlotShape))
    area_m2: Mapped[float]
    length_m: Mapped[float | None]
    width_m: Mapped[float | None]
    # A circle's radius (migration 0014); squares, rectangles and strips have length and width.
    radius_m: Mapped[float | None]
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    habitat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("habitats.id"))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship(lazy="joined", innerjoin=True)
    habitat: Mapped[Habitat | None] = relationship(lazy="joined")
    surveyor: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    organization: Mapped[Organization] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    quadrats: Mapped[list[Quadrat]] = relationship(
        back_populates="plot", cascade="all, delete-orphan", lazy="selectin", order_by="Quadrat.number"
    )
    photos: Mapped[list[Photo]] = relationship(
        primaryjoin="Photo.plot_id == Plot.id",
        foreign_keys="Photo.plot_id",
        order_by="Photo.id",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<Plot {self.id} {self.client_uuid}>"


class Quadrat(Audited, db.Model):  # type: ignore[name-defined]
    """A 样方 inside a plot: its size and what each species measured in it."""

    __tablename__ = "survey_quadrats"
    __table_args__ = (sa.UniqueConstraint("plot_id", "number"),)

    id: Mapped[intpk]
    plot_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_plots.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    size_m2: Mapped[float]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    plot: Mapped[Plot] = relationship(back_populates="quadrats")
    records: Mapped[list[QuadratRecord]] = relationship(
        back_populates="quadrat",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="QuadratRecord.species_id",
    )


class QuadratRecord(Audited, db.Model):  # type: ignore[name-defined]
    """One species in one quadrat: cover %, density per m², height and count (any may be empty)."""

    __tablename__ = "survey_quadrat_records"

    quadrat_id: Mapped[int] = mapped_column(
        sa.ForeignKey("survey_quadrats.id", ondelete="CASCADE"), primary_key=True
    )
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id"), primary_key=True)
    cover_pct: Mapped[float | None]
    density_per_m2: Mapped[float | None]
    height_cm: Mapped[float | None]
    count: Mapped[int | None]

    quadrat: Mapped[Quadrat] = relationship(back_populates="records")
    species: Mapped[Species] = relationship(lazy="joined", innerjoin=True)


class UnitReminder(db.Model):  # type: ignore[name-defined]
    """A reminder raised about a survey unit on one day (docs/surveys.md, Reminders): `due_soon` to its
    assignee, `overdue` to the campaign's supervisors. The key (unit, kind, day) is what keeps a pass run
    twice, or after a crash, from reminding anyone twice of one unit on one day."""

    __tablename__ = "survey_unit_reminders"

    unit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("survey_units.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    created_at: Mapped[timestamp]
