from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.services import Audited
from app.db import UTCDateTime, intpk, timestamp
from app.extensions import db


class Role(enum.StrEnum):
    SURVEYOR = "surveyor"
    VERIFIER = "verifier"
    SUPERVISOR = "supervisor"
    BUREAU_ADMIN = "bureau_admin"
    ADMIN = "admin"


class OrganizationKind(enum.StrEnum):
    FORESTRY_BUREAU = "forestry_bureau"
    AGRICULTURE_COMMISSION = "agriculture_commission"
    TOWNSHIP_STATION = "township_station"
    OTHER = "other"


BUREAU_KINDS = frozenset({OrganizationKind.FORESTRY_BUREAU, OrganizationKind.AGRICULTURE_COMMISSION})


class Organization(Audited, db.Model):  # type: ignore[name-defined]
    """A bureau, commission or station. Users belong to one; it owns what they record.

    A unit that reports to a bureau (a township station, a forest farm, a wetland park's management)
    names it as `parent`: the bureau's census, review and reports include the units under it
    (app/census/scope.py)."""

    __tablename__ = "organizations"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[OrganizationKind] = mapped_column(
        sa.Enum(
            OrganizationKind,
            native_enum=False,
            length=40,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    created_at: Mapped[timestamp]

    users: Mapped[list[User]] = relationship(back_populates="organization")
    parent: Mapped[Organization | None] = relationship(remote_side="Organization.id")

    @property
    def is_bureau(self) -> bool:
        return self.kind in BUREAU_KINDS

    def __repr__(self) -> str:
        return f"<Organization {self.code}>"


class User(Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __audit_ignore__ = frozenset({"last_login_at"})
    __audit_redact__ = frozenset({"password_hash"})

    id: Mapped[intpk]
    # Stored lower-case: "Zhang" and "zhang" are one person.
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # zh or en; None means the app default (Chinese).
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    # Notification channels: the in-app inbox always; e-mail when chosen (and an address is set),
    # either as each event happens or as one daily digest at 08:00.
    notify_email: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notify_digest: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[timestamp]
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(back_populates="users", lazy="joined")

    # Flask-Login's user protocol.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, when issued."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[timestamp]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")
