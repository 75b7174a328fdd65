from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization, User
from app.audit.models import Audited
from app.db import NullableJSON, UTCDateTime, intpk, timestamp, utcnow
from app.district.models import Township, Village
from app.extensions import db
from app.photos.models import Photo
from app.sites.models import Site
from app.species.models import Habitat, Species


def _enum(cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ReviewStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    RETURNED = "returned"  # sent back to the surveyor with a comment; editable again


class PositionSource(enum.StrEnum):
    GPS = "gps"  # the device's location fix
    EXIF = "exif"  # read from a photo's EXIF GPS
    MAP = "map"  # picked or adjusted on a map
    TYPED = "typed"  # coordinates typed in (decimal or degrees, minutes, seconds) when GPS is denied


class Flag(enum.StrEnum):
    """Things that may be right but deserve a second look; they never block a record."""

    LOW_ACCURACY = "low_accuracy"
    PHOTO_GPS_FAR = "photo_gps_far"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    TOWNSHIP_MISMATCH = "township_mismatch"
    VILLAGE_MISMATCH = "village_mismatch"  # the point is outside the given village's loaded polygon
    AREA_MISMATCH = "area_mismatch"  # the typed area differs from the polygon's by more than 20 %
    # The record names another township than the site it joined (set by the record that opened it).
    SITE_TOWNSHIP_MISMATCH = "site_township_mismatch"


class Observation(Audited, db.Model):  # type: ignore[name-defined]
    """What a surveyor found, or searched for and did not find, at one place and time."""

    __tablename__ = "observations"
    # A phone's retries carry the same client_uuid; the constraint (not a read-then-write check) is
    # what makes a retry land once, even when several arrive at the same moment.
    # The sender's own earlier try is found in any organization (a surveyor moved since, app/idempotency.py)
    # through the (surveyor, client_uuid) index, which serves the surveyor's other look-ups too.
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "client_uuid"),
        sa.Index("ix_observations_surveyor_id_client_uuid", "surveyor_id", "client_uuid"),
    )
    __audit_ignore__ = frozenset({"updated_at"})
    __sender__ = "surveyor_id"

    id: Mapped[intpk]
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid(native_uuid=False))
    # SHA-256 of the create request's content, to tell a retry (same) from a clash (different).
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    surveyor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id"))
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    detected: Mapped[bool]
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    latitude: Mapped[float]
    longitude: Mapped[float]
    accuracy_m: Mapped[float | None]
    altitude_m: Mapped[float | None]
    position_source: Mapped[PositionSource] = mapped_column(_enum(PositionSource), default=PositionSource.GPS)
    township_id: Mapped[int | None] = mapped_column(sa.ForeignKey("townships.id"), index=True)
    # The village (村/社区) where known; always one of the record's township (docs/contract.md §2).
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    place_name: Mapped[str | None] = mapped_column(sa.String(200))
    habitat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("habitats.id"))
    area_m2: Mapped[float | None]
    # The area polygon (发生范围, docs/contract.md §2 Area): WGS-84 GeoJSON and its geodesic area in m²;
    # area_m2 takes that area when none was typed (app/geo/areas.py).
    geometry: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    geometry_area_m2: Mapped[float | None]
    cover_pct: Mapped[float | None]
    density_per_m2: Mapped[float | None]
    egg_masses_per_m2: Mapped[float | None]
    count: Mapped[int | None]
    severity: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # The surveyor a legacy workbook named (调查人) when no colleague of that name records in the bureau;
    # the record is then the importer's, and this keeps who really surveyed.
    legacy_surveyor: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus), default=ReviewStatus.SUBMITTED, index=True
    )
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    # Made by the reviewer's form once per review: the same review sent again (a second tap, a retry after a
    # lost answer) is recognised and answered as done, never applied twice.
    review_uuid: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid(native_uuid=False))
    # The record this one probably repeats (same species, a few metres and hours apart).
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("observations.id"))
    # The survey campaign the record was made for, and the 踏查 route that was running when it was made
    # (its client UUID: the route may reach the server after the record). Both belong to app/surveys,
    # which sits above observations and checks them when a record arrives (docs/surveys.md).
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("survey_campaigns.id"), index=True)
    route_uuid: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid(native_uuid=False), index=True)
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    species: Mapped[Species] = relationship(lazy="joined", innerjoin=True)
    site: Mapped[Site | None] = relationship(lazy="joined")
    township: Mapped[Township | None] = relationship(lazy="joined")
    village: Mapped[Village | None] = relationship(lazy="joined")
    habitat: Mapped[Habitat | None] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    surveyor: Mapped[User] = relationship(foreign_keys=[surveyor_id], lazy="joined", innerjoin=True)
    flag_rows: Mapped[list[ObservationFlag]] = relationship(
        back_populates="observation", cascade="all, delete-orphan", lazy="selectin"
    )
    photos: Mapped[list[Photo]] = relationship(
        back_populates="observation", lazy="selectin", order_by="Photo.id"
    )

    @property
    def flags(self) -> list[str]:
        return sorted(f.flag.value for f in self.flag_rows)

    def has_flag(self, flag: Flag) -> bool:
        return any(f.flag == flag for f in self.flag_rows)

    def set_flag(self, flag: Flag, on: bool = True) -> None:
        present = [f for f in self.flag_rows if f.flag == flag]
        if on and not present:
            self.flag_rows.append(ObservationFlag(flag=flag))
        elif not on:
            for row in present:
                self.flag_rows.remove(row)

    def __repr__(self) -> str:
        return f"<Observation {self.id} {self.client_uuid}>"


sa.Index("ix_observations_species_observed_at", Observation.species_id, Observation.observed_at)
sa.Index("ix_observations_position", Observation.latitude, Observation.longitude, Observation.detected)


class ObservationFlag(db.Model):  # type: ignore[name-defined]
    """One flag on one observation (a table, so lists can filter by flag with an index)."""

    __tablename__ = "observation_flags"

    observation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True
    )
    flag: Mapped[Flag] = mapped_column(_enum(Flag, 30), primary_key=True, index=True)

    observation: Mapped[Observation] = relationship(back_populates="flag_rows")
