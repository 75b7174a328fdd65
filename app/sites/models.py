from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organization
from app.audit.models import Audited
from app.db import NullableJSON, intpk, timestamp
from app.district.models import Township
from app.extensions import db
from app.species.models import Habitat, Species


class SiteStatus(enum.StrEnum):
    ACTIVE = "active"  # the species is there
    UNDER_CONTROL = "under_control"  # treated, being re-inspected
    CLEARED = "cleared"  # a run of absence records after treatment
    REEMERGED = "reemerged"  # found again after being cleared


class Site(Audited, db.Model):  # type: ignore[name-defined]
    """A place where one species occurs, surveyed and treated over time.

    Its position is the first presence record's; later records within the join radius attach to it.
    `code` is readable on paper: the township's statistical code and a serial (500155101-0007).
    """

    __tablename__ = "sites"
    __table_args__ = (sa.UniqueConstraint("code_prefix", "serial"),)

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    # Township code (or the district code when the township is unknown) and the serial within it.
    code_prefix: Mapped[str] = mapped_column(sa.String(12))
    serial: Mapped[int]
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(sa.ForeignKey("townships.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    latitude: Mapped[float]
    longitude: Mapped[float]
    place_name: Mapped[str | None] = mapped_column(sa.String(200))
    habitat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("habitats.id"))
    status: Mapped[SiteStatus] = mapped_column(
        sa.Enum(SiteStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=SiteStatus.ACTIVE,
    )
    first_observed_at: Mapped[datetime]
    last_observed_at: Mapped[datetime]
    # The site's extent: the union of its records' area polygons (WGS-84 GeoJSON) and its geodesic area in
    # m²; None while no record of it carries a polygon (docs/contract.md §2 Area).
    extent: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    extent_area_m2: Mapped[float | None]
    created_at: Mapped[timestamp]

    # Loaded on use; list queries ask for what they show (app.sites.api).
    species: Mapped[Species] = relationship()
    township: Mapped[Township | None] = relationship()
    organization: Mapped[Organization] = relationship()
    habitat: Mapped[Habitat | None] = relationship()

    def __repr__(self) -> str:
        return f"<Site {self.code}>"


sa.Index("ix_sites_species_position", Site.species_id, Site.latitude, Site.longitude)
