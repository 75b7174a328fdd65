from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.models import Audited
from app.db import JSONType, UTCDateTime, intpk, utcnow
from app.extensions import db
from app.refdata import Reference


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


class CensusCategory(enum.StrEnum):
    """Where a species is counted in the national census (全国外来入侵物种普查).

    The agriculture census's three groups are published (农业外来入侵植物, 农作物外来入侵病虫害,
    外来入侵水生动物); the 林草 census's are the project's reading (species_lists/README.md).
    """

    AG_PLANT = "ag_plant"
    AG_PEST = "ag_pest"
    AG_AQUATIC = "ag_aquatic"
    FG_PLANT = "fg_plant"
    FG_PEST = "fg_pest"
    FG_ANIMAL = "fg_animal"

    @property
    def bureau(self) -> str:
        """The bureau whose census the category belongs to."""
        return "agriculture" if self.value.startswith("ag_") else "forestry"

    @property
    def name_zh(self) -> str:
        """The category's name as the census workbook prints it (the UI translates its own labels)."""
        return _CENSUS_CATEGORY_ZH[self.value]


_CENSUS_CATEGORY_ZH = {
    "ag_plant": "农业外来入侵植物",
    "ag_pest": "农作物外来入侵病虫害",
    "ag_aquatic": "外来入侵水生动物",
    "fg_plant": "林草外来入侵植物",
    "fg_pest": "林草外来入侵有害生物",
    "fg_animal": "林草外来入侵动物",
}


class Origin(enum.StrEnum):
    """Where a registry row comes from: the shipped files (synced) or an edit in the app (never synced)."""

    FILES = "files"
    LOCAL = "local"


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
    # "local": a district list kept in the app (a bureau's 普查清单); `flask species sync` leaves it alone.
    origin: Mapped[Origin] = mapped_column(_enum(Origin, 10), default=Origin.FILES)
    # Organization code of the bureau that keeps a local list (None for the published lists).
    bureau: Mapped[str | None] = mapped_column(sa.String(40))
    # The census categories the list reports (CensusCategory values), e.g. the 林草 census's fg_* for a
    # forestry census list; [] when it reports none. From lists.toml, or edited in the app for a district
    # list.
    census_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)

    memberships: Mapped[list[ListMembership]] = relationship(back_populates="species_list")


class Species(Audited, Reference, db.Model):  # type: ignore[name-defined]
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
    # Organization codes of the responsible bureau(s): the local assignment when there is one, else
    # the files'.
    bureaus: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # English common names ("golden apple snail").
    names_en: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Pinyin of a polyphonic name as it is read ({"长芒苋": "chang mang xian"}), from the files.
    pinyin_overrides: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # Census categories (CensusCategory values), one or more per responsible bureau.
    census_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # "local": created in the app; sync never changes or retires it.
    origin: Mapped[Origin] = mapped_column(_enum(Origin, 10), default=Origin.FILES)
    # Local edits kept in the database beside the files' values; sync never overwrites them.
    local_aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    local_synonyms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    local_names_en: Mapped[list[str]] = mapped_column(JSONType, default=list)
    local_pinyin: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # None: the files' bureaus stand.
    local_bureaus: Mapped[list[str] | None] = mapped_column(JSONType)
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

    @property
    def all_aliases(self) -> list[str]:
        return _merged(self.aliases, self.local_aliases)

    @property
    def all_synonyms(self) -> list[str]:
        return _merged(self.synonyms, self.local_synonyms)

    @property
    def all_names_en(self) -> list[str]:
        return _merged(self.names_en, self.local_names_en)

    @property
    def all_pinyin(self) -> dict[str, str]:
        return {**(self.pinyin_overrides or {}), **(self.local_pinyin or {})}


def _merged(files: list[str] | None, local: list[str] | None) -> list[str]:
    return list(dict.fromkeys([*(files or []), *(local or [])]))


class ListMembership(Audited, db.Model):  # type: ignore[name-defined]
    """A period of a species on a list: `added_on` to `removed_on` (exclusive).

    A species removed and added back has two rows, so the list at any past date stays right; the
    periods of one species on one list never overlap.
    """

    __tablename__ = "list_memberships"
    __table_args__ = (
        sa.Index("ix_list_memberships_list_id_species_id", "list_id", "species_id"),
        # At most one open period per species and list, whatever two admins do at the same moment.
        sa.Index(
            "uq_list_memberships_open_period",
            "list_id",
            "species_id",
            unique=True,
            postgresql_where=sa.text("removed_on IS NULL"),
            sqlite_where=sa.text("removed_on IS NULL"),
        ),
    )

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
    # A bureau's check of the row against the official text (kept in the app; sync never clears it).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    confirmation_note: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def is_verified(self) -> bool:
        """Verified in the files, or confirmed by a bureau in the app."""
        return self.verified or self.confirmed_at is not None

    species_list: Mapped[SpeciesList] = relationship(back_populates="memberships", lazy="joined")
    species: Mapped[Species] = relationship(back_populates="memberships")


class NameKind(enum.StrEnum):
    NAME = "name"  # name_zh
    SCIENTIFIC = "scientific"
    ALIAS = "alias"
    SYNONYM = "synonym"
    PINYIN = "pinyin"
    INITIALS = "initials"
    ENGLISH = "english"


# Lower ranks first: a hit on the main name beats the same hit on an alias or on pinyin.
NAME_KIND_WEIGHT = {
    NameKind.NAME: 0,
    NameKind.SCIENTIFIC: 0,
    NameKind.ALIAS: 1,
    NameKind.INITIALS: 2,
    NameKind.PINYIN: 2,
    NameKind.SYNONYM: 3,
    NameKind.ENGLISH: 1,
}


class SpeciesName(db.Model):  # type: ignore[name-defined]
    """A searchable form of a species' names (derived from its names and local edits, not edited)."""

    __tablename__ = "species_names"
    __table_args__ = (sa.UniqueConstraint("species_id", "kind", "value"),)

    id: Mapped[intpk]
    species_id: Mapped[int] = mapped_column(sa.ForeignKey("species.id", ondelete="CASCADE"), index=True)
    kind: Mapped[NameKind] = mapped_column(_enum(NameKind))
    weight: Mapped[int]
    # Lower-case; pinyin without spaces.
    value: Mapped[str] = mapped_column(sa.String(300), index=True)


class Habitat(Reference, db.Model):  # type: ignore[name-defined]
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
