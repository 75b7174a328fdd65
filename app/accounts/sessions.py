"""Browser sessions that the server can end (rows in `user_sessions`), and the remember-me cookie.

Flask's session cookie is signed, not stored: on its own it stays valid until it expires, whoever
copied it. So a signed-in session cookie also carries a random session secret whose SHA-256 is a row
here, and the user counts as signed in only while that row is neither revoked nor expired:

- signing in clears the session (a new CSRF secret with it) and starts a row;
- signing out revokes the row; a password change or reset, a deactivation, a role or organization
  change revokes every row of the user (`revoke_sessions`), and the API tokens with them;
- the remember-me cookie is a second random secret of the same row, never derived from the user id.
  When the browser comes back without its session cookie, the remember secret opens the row again
  and both secrets are replaced (a stolen, already used remember cookie is then worthless), and the
  row's life is extended by the remember duration. Requests the browser sent at the same moment
  with the old cookie are let through for PARALLEL_GRACE, for themselves only;
- however often it is extended, a row ends IAS_SESSION_MAX_DAYS after the sign-in that made it (its
  `created_at`), so copied cookies that keep being used do not stay signed in for good.

Flask-Login's own remember cookie (the user id and an HMAC of it) is never issued and never read: its
cookie name is set to one this app does not use (app/config.py), and the user loader below asks for
the session secret besides the user id.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Response, current_app, g, request, session
from flask_login import login_user, logout_user

from app import uow
from app.accounts.models import User, UserSession
from app.extensions import db

SESSION_SECRET_KEY = "ias_sid"  # noqa: S105 - the name of a session entry
REMEMBER_COOKIE = "ias_remember"
# How long a just-replaced remember secret still lets through requests sent beside the replacing one.
PARALLEL_GRACE = timedelta(seconds=30)
# What survives the renewal of the session at sign-in: the language chosen on the sign-in page.
_KEPT_ON_SIGN_IN = ("lang",)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _lifetime() -> timedelta:
    """How long a sign-in lasts at most, however often it is renewed."""
    return timedelta(days=int(current_app.config["IAS_SESSION_MAX_DAYS"]))


def _expiry(signed_in_at: datetime) -> datetime:
    """When a row used now expires: the remember duration from now, within its absolute lifetime."""
    renewed = datetime.now(UTC) + current_app.config["REMEMBER_COOKIE_DURATION"]
    return min(renewed, signed_in_at + _lifetime())


def new_session(user: User) -> tuple[UserSession, str, str]:
    """A new session row of `user` and its two secrets (session, remember), shown only now."""
    secret, remember = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = UserSession(
        user=user,
        session_hash=_hash(secret),
        remember_hash=_hash(remember),
        created_at=now,
        expires_at=_expiry(now),
    )
    db.session.add(row)
    db.session.flush()
    return row, secret, remember


def start_session(user: User) -> UserSession:
    """Sign `user` in on this browser: a fresh session (nothing kept from before but the language),
    a new row, and a remember-me cookie set on the response. The caller commits."""
    kept = {name: session[name] for name in _KEPT_ON_SIGN_IN if name in session}
    session.clear()
    session.update(kept)
    row, secret, remember = new_session(user)
    login_user(user, remember=False)
    session[SESSION_SECRET_KEY] = secret
    g.set_remember_cookie = remember
    g.user_session = row
    return row


def end_session() -> None:
    """Sign out this browser: its row is revoked and both cookies are dropped. The caller commits."""
    row = g.get("user_session")
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    logout_user()
    session.clear()
    g.set_remember_cookie = ""


def _still_usable(now: datetime) -> sa.ColumnElement[bool]:
    """`_usable` in SQL, but for the user's being active: not revoked, not expired, within its lifetime."""
    return sa.and_(
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > now,
        UserSession.created_at > now - _lifetime(),
    )


def _usable(row: UserSession | None) -> bool:
    now = datetime.now(UTC)
    return (
        row is not None
        and row.revoked_at is None
        and row.expires_at > now
        and row.created_at > now - _lifetime()
        and row.user.active
    )


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of this session cookie, while its row is usable."""
    secret = session.get(SESSION_SECRET_KEY)
    if not secret or not isinstance(secret, str) or not user_id.isdigit():
        return None
    row = db.session.scalar(sa.select(UserSession).where(UserSession.session_hash == _hash(secret)))
    if row is None or row.user_id != int(user_id) or not _usable(row):
        return None
    g.user_session = row
    return row.user


def restore_remembered() -> None:
    """before_request: a browser back without its session cookie, but with a remember-me cookie of a
    usable row, is signed in again, with both secrets replaced and committed at once (a cookie
    set on the answer must match what is stored, whatever the request does next)."""
    plain = request.cookies.get(REMEMBER_COOKIE)
    if not plain or session.get(SESSION_SECRET_KEY) or request.headers.get("Authorization"):
        return
    hashed = _hash(plain)
    row = db.session.scalar(sa.select(UserSession).where(UserSession.remember_hash == hashed))
    if row is None:
        _let_through_a_parallel_request(hashed)
        return
    if not _usable(row):
        g.set_remember_cookie = ""  # a stale cookie: drop it
        return
    secret, remember = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row.previous_remember_hash, row.remember_rotated_at = row.remember_hash, datetime.now(UTC)
    with uow.step("session rotation"):
        row.session_hash, row.remember_hash = _hash(secret), _hash(remember)
        row.expires_at = _expiry(row.created_at)
        user = row.user
    login_user(user, remember=False)
    session[SESSION_SECRET_KEY] = secret
    g.set_remember_cookie = remember
    g.user_session = row


def _let_through_a_parallel_request(hashed: str) -> None:
    """A remember secret replaced moments ago: a request the browser sent beside the one that replaced
    it (a page and its service worker after the phone was switched on). It is signed in for itself
    only: nothing in its answer's cookies changes, so it cannot undo the new ones."""
    since = datetime.now(UTC) - PARALLEL_GRACE
    row = db.session.scalar(
        sa.select(UserSession).where(
            UserSession.previous_remember_hash == hashed, UserSession.remember_rotated_at > since
        )
    )
    if row is None or not _usable(row):
        return
    g._login_user = row.user  # Flask-Login's current_user for this request, the session left as it is
    g.user_session = row


def set_remember_cookie(response: Response) -> Response:
    """after_request: write (or, when empty, delete) the remember-me cookie decided by this request."""
    value = g.get("set_remember_cookie")
    if value is None:
        return response
    config = current_app.config
    if value:
        response.set_cookie(
            REMEMBER_COOKIE,
            value,
            max_age=config["REMEMBER_COOKIE_DURATION"],
            secure=config["REMEMBER_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(
            REMEMBER_COOKIE, secure=config["REMEMBER_COOKIE_SECURE"], httponly=True, samesite="Lax"
        )
    return response


def revoke_sessions(user: User, *, keep: UserSession | None = None) -> int:
    """End every session of `user` (but `keep`, the one asking, when given); how many that still
    worked were ended."""
    now = datetime.now(UTC)
    stmt = sa.update(UserSession).where(UserSession.user_id == user.id, _still_usable(now))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    result = db.session.execute(stmt.values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_sessions(user: User) -> list[UserSession]:
    """The user's signed-in browsers (rows still usable), the most recently signed in first."""
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, _still_usable(datetime.now(UTC)))
            .order_by(UserSession.created_at.desc(), UserSession.id.desc())
        )
    )
