from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.models import Audited
from app.db import JSONType, UTCDateTime, intpk, utcnow
from app.extensions import db
from app.refdata import Reference


class TownshipKind(enum.StrEnum):
    SUBDISTRICT = "subdistrict"  # 街道
    TOWN = "town"  # 镇
    TOWNSHIP = "township"  # 乡


TOWNSHIP_KIND_ZH = {
    TownshipKind.SUBDISTRICT: "街道",
    TownshipKind.TOWN: "镇",
    TownshipKind.TOWNSHIP: "乡",
}


class District(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """The county-level unit this installation serves (one row)."""

    __tablename__ = "districts"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(100))
    province: Mapped[str | None] = mapped_column(sa.String(100))
    # Codes old records may carry (梁平县 500228 before it became a district).
    former_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    area_km2: Mapped[float | None]
    # WGS-84 bounding box of the district, and the buffer points may fall outside it by.
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
    buffer_deg: Mapped[float]

    def contains(self, lon: float, lat: float) -> bool:
        b = self.buffer_deg
        return self.min_lon - b <= lon <= self.max_lon + b and self.min_lat - b <= lat <= self.max_lat + b


class Township(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """A township-level unit (街道 / 镇 / 乡) with its official 9-digit statistical code."""

    __tablename__ = "townships"

    id: Mapped[intpk]
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("districts.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(50))
    kind: Mapped[TownshipKind] = mapped_column(
        sa.Enum(
            TownshipKind,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        )
    )

    aliases: Mapped[list[TownshipAlias]] = relationship(
        back_populates="township", cascade="all, delete-orphan", order_by="TownshipAlias.name"
    )

    @property
    def kind_zh(self) -> str:
        return TOWNSHIP_KIND_ZH[self.kind]


class TownshipAlias(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """A name old records carry (梁山镇, 城东乡 …) and the township it now belongs to.

    One old name may map to several townships when a unit was split (梁山镇 → 梁山街道 and 双桂街道).
    """

    __tablename__ = "township_aliases"
    __table_args__ = (sa.UniqueConstraint("township_id", "name"),)

    id: Mapped[intpk]
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("townships.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(50), index=True)
    changed_in: Mapped[int | None]  # year of the change
    note: Mapped[str | None] = mapped_column(sa.String(300))

    township: Mapped[Township] = relationship(back_populates="aliases")


class Village(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """A village-level unit (村 / 社区) with its 12-digit NBS code, under its township.

    `name` is the official name (南华社区居民委员会); `short_name` the one people say and type (南华社区),
    shown and searched first.
    """

    __tablename__ = "villages"

    id: Mapped[intpk]
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("townships.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    short_name: Mapped[str] = mapped_column(sa.String(50), index=True)

    township: Mapped[Township] = relationship()


class FormerUnit(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """A code old records carry (the former county 梁平县 500228, its townships …) and today's unit.

    `today_code` names today's district, township or village; None when the mapping is not known, in
    which case the code is refused with a message naming the old unit (docs/contract.md §2).
    """

    __tablename__ = "former_units"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    today_code: Mapped[str | None] = mapped_column(sa.String(12))
    changed_in: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(sa.String(300))


class BoundaryLevel(enum.StrEnum):
    DISTRICT = "district"
    TOWNSHIP = "township"
    VILLAGE = "village"


class BoundaryLoad(Audited, Reference, db.Model):  # type: ignore[name-defined]
    """One load of a level's boundaries from a bureau's file (docs/contract.md §2, Boundaries).

    A load replaces the level's polygons as a whole. The rows stay as the history of what was loaded, by
    whom and from which file; the newest row's `version` tells every process its locator is out of date.
    """

    __tablename__ = "boundary_loads"

    id: Mapped[intpk]
    level: Mapped[BoundaryLevel] = mapped_column(
        sa.Enum(BoundaryLevel, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    # A fresh random value per load: ids can repeat after a rollback (SQLite), versions cannot.
    version: Mapped[str] = mapped_column(sa.String(32), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    format: Mapped[str] = mapped_column(sa.String(20))
    crs: Mapped[str] = mapped_column(sa.String(200))
    code_field: Mapped[str] = mapped_column(sa.String(100))
    units: Mapped[int]
    features: Mapped[int]
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Boundary(Reference, db.Model):  # type: ignore[name-defined]
    """A unit's polygon (WGS-84 GeoJSON) at one level, keyed by its code.

    Village polygons are keyed by the village's 12-digit code, so they load whether or not the villages
    themselves are loaded. Not audited row by row (a polygon is thousands of vertices): its load is.
    """

    __tablename__ = "boundaries"
    __table_args__ = (sa.UniqueConstraint("level", "code"),)

    id: Mapped[intpk]
    load_id: Mapped[int] = mapped_column(sa.ForeignKey("boundary_loads.id"), index=True)
    level: Mapped[BoundaryLevel] = mapped_column(
        sa.Enum(BoundaryLevel, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    code: Mapped[str] = mapped_column(sa.String(12))
    name: Mapped[str | None] = mapped_column(sa.String(100))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONType, deferred=True)
    area_m2: Mapped[float]
    # Bounding box, for finding the units a map view or a point may touch without reading polygons.
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
