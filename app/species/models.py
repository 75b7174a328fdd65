from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.services import Audited
from app.db import JSONType, UTCDateTime, intpk, utcnow
from app.extensions import db


class SpeciesGroup(enum.StrEnum):
    PLANT = "plant"
    INSECT = "insect"
    MOLLUSC = "mollusc"
    FISH = "fish"
    AMPHIBIAN = "amphibian"
    REPTILE = "reptile"
    PATHOGEN = "pathogen"
    NEMATODE = "nematode"
    CRUSTACEAN = "crustacean"
    OTHER = "other"


class ListLevel(enum.StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    DISTRICT = "district"


def _enum(cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class SpeciesList(Audited, db.Model):  # type: ignore[name-defined]
    """A published list (名录), e.g. 农业农村部公告第567号."""

    __tablename__ = "species_lists"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    short_name: Mapped[str | None] = mapped_column(sa.String(100))
    level: Mapped[ListLevel] = mapped_column(_enum(ListLevel))
    issuer: Mapped[str] = mapped_column(sa.String(300))
    announcement: Mapped[str | None] = mapped_column(sa.String(200))
    published_on: Mapped[date | None]
    in_force_on: Mapped[date | None]
    source: Mapped[str | None] = mapped_column(sa.String(500))
    note: Mapped[str | None] = mapped_column(sa.Text)

    memberships: Mapped[list[ListMembership]] = relationship(back_populates="species_list")


class Species(Audited, db.Model):  # type: ignore[name-defined]
    """A species in the registry. Never deleted: observations point at it for good."""

    __tablename__ = "species"

    id: Mapped[intpk]
    # Stable identifier from species_lists/species.toml ("pomacea-canaliculata").
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_sci: Mapped[str] = mapped_column(sa.String(200))
    authority: Mapped[str | None] = mapped_column(sa.String(200))
    # Full pinyin of name_zh, for sorting the way Chinese readers expect.
    pinyin: Mapped[str] = mapped_column(sa.String(300), index=True)
    group: Mapped[SpeciesGroup] = mapped_column(_enum(SpeciesGroup))
    aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    synonyms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Organization codes of the responsible bureau(s).
    bureaus: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Survey metrics that apply: cover, density, egg_masses, count, area.
    metrics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # {"scale", "metric", "thresholds": [4 ascending upper bounds], "provisional"}.
    severity: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Default re-inspection days by control method code, e.g. {"chemical": [1, 3, 7, 15, 30]}.
    follow_up_days: Mapped[dict[str, list[int]]] = mapped_column(JSONType, default=dict)
    # Whether a next-spring check of overwintering sites follows a treatment.
    next_spring_check: Mapped[bool] = mapped_column(default=False)
    # Its day ("03-15", defaults.toml): the first such day after a treatment gets a follow-up.
    spring_check_md: Mapped[str | None] = mapped_column(sa.String(5))
    # A caution for the bureau (e.g. "generally treated as native to China").
    flag: Mapped[str | None] = mapped_column(sa.Text)
    # Set when the species left the data files: kept for its records, hidden from pickers.
    retired_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[ListMembership]] = relationship(back_populates="species")

    def __repr__(self) -> str:
        return f"<Species {self.key} {self.name_zh}>"


class ListMembership(Audited, db.Model):  # type: ignore[name-defined]
    """A species' row on a list. `added_on`/`removed_on` give the list's membership at any date."""

    __tablename__ = "list_memberships"
    __table_args__ = (sa.UniqueConstraint("list_id", "species_id"),)

    id: Mapped[intpk]
    list_id: Mapped[int] = mapped_column(sa.ForeignKey("species_lists.id", ondelete="CASCADE"))
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id"), index=True)
    row: Mapped[int]
    name_as_listed: Mapped[str] = mapped_column(sa.String(100))
    # The source's status as given (confirmed, corroborated, partly corroborated, unconfirmed).
    status: Mapped[str] = mapped_column(sa.String(40))
    verified: Mapped[bool]
    # None: since the list was published.
    added_on: Mapped[date | None]
    removed_on: Mapped[date | None]

    species_list: Mapped[SpeciesList] = relationship(back_populates="memberships", lazy="joined")
    species: Mapped[Species] = relationship(back_populates="memberships")


class NameKind(enum.StrEnum):
    NAME = "name"  # name_zh
    SCIENTIFIC = "scientific"
    ALIAS = "alias"
    SYNONYM = "synonym"
    PINYIN = "pinyin"
    INITIALS = "initials"


# Lower ranks first: a hit on the main name beats the same hit on an alias or on pinyin.
NAME_KIND_WEIGHT = {
    NameKind.NAME: 0,
    NameKind.SCIENTIFIC: 0,
    NameKind.ALIAS: 1,
    NameKind.INITIALS: 2,
    NameKind.PINYIN: 2,
    NameKind.SYNONYM: 3,
}


class SpeciesName(db.Model):  # type: ignore[name-defined]
    """A searchable form of a species' names (derived by `flask species sync`, not edited)."""

    __tablename__ = "species_names"
    __table_args__ = (sa.UniqueConstraint("species_id", "kind", "value"),)

    id: Mapped[intpk]
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id", ondelete="CASCADE"), index=True)
    kind: Mapped[NameKind] = mapped_column(_enum(NameKind))
    weight: Mapped[int]
    # Lower-case; pinyin without spaces.
    value: Mapped[str] = mapped_column(sa.String(300), index=True)


class Habitat(db.Model):  # type: ignore[name-defined]
    """A habitat (生境): a 三调 land class (level 1) or a place type within one (level 2).

    Derived from species_lists/habitats.toml by `flask species sync`; never deleted, since observations
    point at it (one missing from the file is retired).
    """

    __tablename__ = "habitats"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    level: Mapped[int]
    name_zh: Mapped[str] = mapped_column(sa.String(50))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("habitats.id"))
    provisional: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int]
    retired: Mapped[bool] = mapped_column(default=False)

    parent: Mapped[Habitat | None] = relationship(remote_side="Habitat.id", lazy="joined", join_depth=1)

    @property
    def land_class(self) -> Habitat:
        """The level-1 class (itself for a class)."""
        return self.parent if self.parent is not None else self


class ControlMethod(db.Model):  # type: ignore[name-defined]
    """A control method (防治方法) and the quantities an operation with it records.

    Derived from species_lists/control_methods.toml by `flask species sync`; never deleted (operations
    point at it), retired when it leaves the file.
    """

    __tablename__ = "control_methods"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(50))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    # Species groups it is offered for; ["*"] for all.
    applies_to: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # [{"name", "label_zh", "label_en", "type": text|number|integer, "unit", "min", "max", "required"}]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    position: Mapped[int]
    retired: Mapped[bool] = mapped_column(default=False)

    def applies_to_group(self, group: str) -> bool:
        return "*" in self.applies_to or group in self.applies_to
