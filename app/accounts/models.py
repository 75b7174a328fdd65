from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.models import Audited
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


class UserSession(db.Model):  # type: ignore[name-defined]
    """One signed-in browser: what makes a session revocable on the server.

    The browser holds two random secrets, only their SHA-256 is stored here: the session secret (in
    the signed session cookie, for this visit) and the remember secret (the long-lived remember-me
    cookie, which restores the session after the browser was closed and is replaced every time it is
    used). Signing out revokes the row; a password change or reset, a deactivation or a role change
    revokes every row of the user. Nothing in either cookie is derived from the user id.
    """

    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # The remember secret it replaced, and when: requests the browser sent in parallel with the old
    # cookie, before it had the new one, are let through for a short while (without new cookies).
    previous_remember_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    remember_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[timestamp]
    # The remember secret stops working then; each use moves it on by the remember duration.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class SignInThrottle(db.Model):  # type: ignore[name-defined]
    """Failed sign-ins counted per key ("user:NAME|addr:IP", "user:NAME|client:ID" or "addr:IP").

    Times are Unix seconds (floats), so that the one statement that claims an attempt can compare and
    add them the same way on SQLite and PostgreSQL (app/accounts/throttle.py).
    """

    __tablename__ = "sign_in_throttles"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    # No attempt for this key is checked before this time.
    blocked_until: Mapped[float] = mapped_column(sa.Float, default=0.0)
    updated_at: Mapped[float] = mapped_column(sa.Float, default=0.0)
