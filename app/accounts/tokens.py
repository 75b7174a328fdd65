"""API tokens: issued once in plain text (stored as their hash), found on every API request with their user
and organization in one statement, and revoked one at a time or all at once (docs/contract.md §6)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import ApiToken, Organization, User
from app.audit.services import record_event
from app.db import loaded
from app.extensions import db

TOKEN_PREFIX = "ias_"  # noqa: S105 - a label, not a secret: makes leaked tokens easy to spot


def _still_working(now: datetime) -> sa.ColumnElement[bool]:
    """A token neither revoked nor expired (`find_token` says the same of one token)."""
    return sa.and_(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)


def active_tokens(user: User) -> list[ApiToken]:
    """The user's API tokens that still work, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id, _still_working(datetime.now(UTC)))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, *, ttl: timedelta | None = None) -> tuple[str, ApiToken]:
    """A new bearer token for `user`; the plain token is returned once and never stored."""
    ttl = ttl if ttl is not None else timedelta(hours=current_app.config["IAS_TOKEN_TTL_HOURS"])
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, token_hash=_hash_token(plain), expires_at=datetime.now(UTC) + ttl)
    db.session.add(token)
    db.session.flush()
    record_event(
        "token_issued",
        "api_token",
        token.id,
        {"expires_at": token.expires_at},
        actor_id=user.id,
        actor_label=user.username,
    )
    return plain, token


def _labelled(model: type[Any]) -> list[sa.Label[Any]]:
    table = model.__table__
    return [column.label(f"{table.name}_{column.key}") for column in table.c]


# The token with its user and the user's organization, read on every API request: one Core statement whose
# row becomes the three objects (app.db.loaded), a sixth of the ORM query's cost (bench/RESULTS.md).
_TOKEN_ROW = (
    sa.select(*_labelled(ApiToken), *_labelled(User), *_labelled(Organization))
    .select_from(
        ApiToken.__table__.join(User.__table__, User.__table__.c.id == ApiToken.__table__.c.user_id).join(
            Organization.__table__, Organization.__table__.c.id == User.__table__.c.organization_id
        )
    )
    .where(ApiToken.__table__.c.token_hash == sa.bindparam("token_hash"))
)


def _columns(row: Any, model: type[Any]) -> dict[str, Any]:
    prefix = model.__table__.name + "_"
    return {column.key: row[prefix + column.key] for column in model.__table__.c}


def find_token(plain: str) -> tuple[ApiToken | None, str | None]:
    """The token and its user if usable, else None and why ("invalid", "expired", "revoked")."""
    row = db.session.connection().execute(_TOKEN_ROW, {"token_hash": _hash_token(plain)}).mappings().first()
    if row is None:
        return None, "invalid"
    session = db.session()
    organization = loaded(session, Organization, _columns(row, Organization))
    user = loaded(session, User, _columns(row, User), organization=organization)
    token = loaded(session, ApiToken, _columns(row, ApiToken), user=user)
    if not token.user.active:
        return None, "invalid"
    if token.revoked_at is not None:
        return None, "revoked"
    if token.expires_at <= datetime.now(UTC):
        return None, "expired"
    return token, None


def revoke_token(token: ApiToken) -> None:
    token.revoked_at = datetime.now(UTC)
    record_event("token_revoked", "api_token", token.id)


def revoke_all_tokens(user: User, *, keep: ApiToken | None = None) -> int:
    """Revoke every token of `user` that still works (but `keep`); how many were revoked."""
    now = datetime.now(UTC)
    stmt = sa.update(ApiToken).where(ApiToken.user_id == user.id, _still_working(now))
    if keep is not None:
        stmt = stmt.where(ApiToken.id != keep.id)
    result = db.session.execute(stmt.values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
