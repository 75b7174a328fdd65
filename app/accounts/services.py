"""Users, organizations, sign-in and passwords (API tokens: app/accounts/tokens.py).

Rules for managing users (docs/contract.md §1, §3.2):
- `admin` manages every user of every organization and may grant any role.
- `bureau_admin` manages the users of their own organization and, when it is a bureau, of the units
  under it (docs/contract.md §1), and may grant any role but `admin`; they cannot touch an `admin`
  account or move anyone outside those organizations.
- Everyone else manages nobody.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from app import uow
from app.accounts import throttle
from app.accounts.events import UserLeft
from app.accounts.models import (
    ApiToken,
    Organization,
    OrganizationKind,
    Role,
    SignInThrottle,
    User,
    UserSession,
)
from app.accounts.organizations import acting_ids, acts_for, check_kind
from app.accounts.sessions import revoke_sessions
from app.accounts.tokens import revoke_all_tokens
from app.audit.services import record_event
from app.errors import (
    AuthenticationFailed,
    Conflict,
    FieldErrors,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from app.events import publish
from app.extensions import db
from app.messages import invalid_fields_message

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD_LENGTH = 10
# Refused whatever their length: the most common passwords, from the ranked list zxcvbn ships
# (leaked-password frequency, most common first), read when first needed.
COMMON_PASSWORDS_REFUSED = 10_000
# Checked against when the username does not exist, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

GRANTABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.BUREAU_ADMIN: frozenset(Role) - {Role.ADMIN},
}
# Who manages users at all: the roles that may grant one (app.policy.USER_MANAGERS reads it from here).
USER_MANAGERS = frozenset(GRANTABLE_ROLES)


def normalize_username(username: str) -> str:
    return username.strip().lower()


def get_organization(code: str, *, field: str = "organization") -> Organization:
    """Raises InvalidInput naming `field` when no organization has this code."""
    org = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    if org is None:
        raise InvalidInput.field(field, _("No organization has the code %(code)s.", code=code))
    return org


def upsert_organization(*, code: str, name: str, kind: str) -> tuple[Organization, str]:
    """Create or update an organization by code; returns it and "added", "changed" or "unchanged".
    A new one reports to no bureau; a changed kind follows the rules of the API (`check_kind`: a bureau
    with units under it stays one, a unit that reports to a bureau does not become one), else
    InvalidInput naming `kind`."""
    org = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    kind_value = OrganizationKind(kind)
    if org is None:
        org = Organization(code=code, name=name, kind=kind_value)
        db.session.add(org)
        db.session.flush()
        return org, "added"
    if (org.name, org.kind) == (name, kind_value):
        return org, "unchanged"
    check_kind(org, kind_value)
    org.name, org.kind = name, kind_value
    return org, "changed"


def list_organizations() -> sa.Select[tuple[Organization]]:
    return sa.select(Organization).order_by(Organization.code)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No user with id %(id)s.", id=user_id))
    return user


def get_managed_user(actor: User, user_id: int) -> User:
    """A user the actor manages. Raises NotFound, or PermissionDenied outside the organizations they
    act for (a bureau admin's: the bureau and its units)."""
    user = get_user(user_id)
    if actor.role not in GRANTABLE_ROLES:
        raise PermissionDenied(_("Only administrators manage users."))
    if not acts_for(actor, user.organization_id):
        raise PermissionDenied(
            _("You manage the users of your own organization and of the units under it only.")
        )
    return user


def visible_users(actor: User) -> sa.Select[tuple[User]]:
    """Users the actor may manage. Raises PermissionDenied for roles that manage nobody."""
    if actor.role not in GRANTABLE_ROLES:
        raise PermissionDenied(_("Only administrators manage users."))
    stmt = sa.select(User).order_by(User.username)
    ids = acting_ids(actor)
    if ids is not None:
        stmt = stmt.where(User.organization_id.in_(sorted(ids)))
    return stmt


def _check_may_grant(actor: User | None, role: Role, organization: Organization) -> None:
    if actor is None:  # the command line runs with the machine owner's authority
        return
    grantable = GRANTABLE_ROLES.get(actor.role)
    if grantable is None:
        raise PermissionDenied(_("Only administrators manage users."))
    if not acts_for(actor, organization.id):
        raise PermissionDenied(
            _("You manage the users of your own organization and of the units under it only.")
        )
    if role not in grantable:
        raise PermissionDenied(_("You may not grant the role %(role)s.", role=role.value))


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS_REFUSED])


def _validate_password(password: str, username: str, *, field: str = "password") -> None:
    """At least MIN_PASSWORD_LENGTH characters, not one of the most common passwords, not the username.
    Raises InvalidInput naming `field`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.field(field, _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if password.lower() in _common_passwords():
        raise InvalidInput.field(field, _("This is one of the most common passwords; choose another."))
    if normalize_username(password) == normalize_username(username):
        raise InvalidInput.field(field, _("The password must not be the username."))


def create_user(
    *,
    actor: User | None,
    username: str,
    password: str,
    display_name: str,
    role: Role | str,
    organization_code: str,
    email: str | None = None,
) -> User:
    """Create a user. Raises InvalidInput, PermissionDenied, or Conflict when the username is taken."""
    role = Role(role)
    organization = get_organization(organization_code)
    _check_may_grant(actor, role, organization)
    username = normalize_username(username)
    # Both said at once: the admin corrects the form in one go.
    errors: FieldErrors = {}
    if not USERNAME_RE.match(username):
        errors["username"] = [_("2–80 characters: letters, digits, dot, dash or underscore.")]
    try:
        _validate_password(password, username)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if len(errors) > 1:
        raise InvalidInput(invalid_fields_message(errors), errors)
    if errors:
        [(name, [message])] = errors.items()
        raise InvalidInput.field(name, message)
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(_("The username %(u)s is taken.", u=username), {"username": [_("Already taken.")]})
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        email=email or None,
        role=role,
        organization=organization,
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


@dataclass(frozen=True)
class UserUpdated:
    """A changed user, and how many pending re-inspections went back to the organization they left
    (moved or deactivated: docs/contract.md §1), so the answer can say so."""

    user: User
    follow_ups_handed_back: int = 0


def update_user(*, actor: User | None, user: User, changes: dict[str, Any]) -> UserUpdated:
    """Change role, activity, name, e-mail, password or organization.

    Moving a user to another organization, or deactivating them, publishes `UserLeft`: their pending
    re-inspections of the organization they left are handed back to its supervisor (app/control).
    One's own password is not set here (InvalidInput naming `password`): change_own_password asks for
    the current one. Raises PermissionDenied or InvalidInput.
    """
    if actor is not None:
        if actor.role not in GRANTABLE_ROLES:
            raise PermissionDenied(_("Only administrators manage users."))
        if actor.role != Role.ADMIN and (
            not acts_for(actor, user.organization_id) or user.role == Role.ADMIN
        ):
            raise PermissionDenied(
                _("You manage the users of your own organization and of the units under it only.")
            )
        if actor.id == user.id and (changes.get("active") is False or "role" in changes):
            raise PermissionDenied(_("You cannot change your own role or deactivate yourself."))
        if actor.id == user.id and "password" in changes:
            # Only with the current password, and throttled (change_own_password): whoever holds an
            # administrator's session or token must not make the account theirs with a new password.
            raise InvalidInput.field(
                "password",
                _(
                    "Change your own password with your current password: on the page %(page)s, or "
                    "POST /api/v1/me/password.",
                    page="/account/password",
                ),
            )
    organization = user.organization
    if "organization" in changes:
        organization = get_organization(changes["organization"])
        if actor is not None and not acts_for(actor, organization.id):
            raise PermissionDenied(
                _("You manage the users of your own organization and of the units under it only.")
            )
    role = Role(changes.get("role", user.role))
    if "role" in changes or "organization" in changes:
        _check_may_grant(actor, role, organization)
    # What someone may do changes: whatever they signed in with before stops working.
    ends_sign_ins = role != user.role or organization.id != user.organization_id
    left = user.organization_id if organization.id != user.organization_id else None
    user.role = role
    user.organization = organization
    if "active" in changes:
        if user.active and not changes["active"]:
            left = user.organization_id if left is None else left
        user.active = bool(changes["active"])
        ends_sign_ins = ends_sign_ins or not user.active
    if "display_name" in changes:
        user.display_name = changes["display_name"].strip() or user.username
    if "email" in changes:
        user.email = changes["email"] or None
    if "locale" in changes:
        user.locale = changes["locale"]
    if "password" in changes:
        _validate_password(changes["password"], user.username)
        user.password_hash = generate_password_hash(changes["password"])
        ends_sign_ins = True
    if ends_sign_ins:
        # An administrator moving themselves to another organization stays signed in where they do it.
        own = actor is not None and actor.id == user.id and has_request_context()
        end_all_sign_ins(
            user,
            keep_session=g.get("user_session") if own else None,
            keep_token=g.get("api_token") if own else None,
        )
    db.session.flush()
    handed_back = 0
    if left is not None:
        answers = publish(UserLeft(user.id, left))
        handed_back = sum(n for n in answers if isinstance(n, int))
    return UserUpdated(user, handed_back)


def _check_current_password(user: User, current_password: str, *, ip: str | None, failed: str) -> str:
    """Check the password of a user who is signed in (throttled like a sign-in); returns the hash it was
    checked against. A wrong one is audited as `failed` and counted, a right one clears the count, and
    either outcome is kept whatever the request then answers. Raises InvalidInput naming
    `current_password`, or RateLimited."""
    blocked = throttle.claim_attempt(user.username, ip, None)
    if blocked is not None:
        raise _rate_limited(blocked)
    checked = user.password_hash
    if not check_password_hash(checked, current_password):
        with uow.step("sign-in attempt"):
            record_event(failed, "user", user.id)
        raise InvalidInput.field("current_password", _("This is not your current password."))
    with uow.step("sign-in attempt"):
        throttle.succeeded(user.username, ip, None)
    return checked


def change_own_password(
    user: User,
    *,
    current_password: str,
    new_password: str,
    ip: str | None,
    keep_session: UserSession | None = None,
    keep_token: ApiToken | None = None,
) -> None:
    """A user's own password change: the current password is checked (and throttled like a sign-in),
    the new one follows the rules, and every other session and token of the user ends (the one
    asking is kept). Raises InvalidInput naming the field, or RateLimited."""
    checked = _check_current_password(user, current_password, ip=ip, failed="password_change_failed")
    if new_password == current_password:
        raise InvalidInput.field("new_password", _("Choose a password other than the current one."))
    _validate_password(new_password, user.username, field="new_password")
    new_hash = generate_password_hash(new_password)
    # A reset committed since the current password was checked stands: a password chosen with the old
    # one does not undo it (the row stays locked until this change commits).
    if not _unchanged_since_checked(user, checked):
        raise InvalidInput.field("current_password", _("This is not your current password."))
    user.password_hash = new_hash
    end_all_sign_ins(user, keep_session=keep_session, keep_token=keep_token)
    record_event("password_changed", "user", user.id)


def sign_out_elsewhere(
    user: User,
    *,
    current_password: str,
    ip: str | None,
    keep_session: UserSession | None = None,
    keep_token: ApiToken | None = None,
) -> int:
    """End every other browser session and API token of the user (a lost phone, a computer left signed
    in), the password asked for again first (throttled like a sign-in): a session picked up on a
    shared or lost phone cannot sign its owner out everywhere. Returns how many ended. Raises
    InvalidInput naming `current_password`, or RateLimited."""
    _check_current_password(user, current_password, ip=ip, failed="sign_out_elsewhere_failed")
    ended = end_all_sign_ins(user, keep_session=keep_session, keep_token=keep_token)
    record_event("signed_out_elsewhere", "user", user.id, {"ended": ended})
    return ended


def end_all_sign_ins(
    user: User, *, keep_session: UserSession | None = None, keep_token: ApiToken | None = None
) -> int:
    """Revoke every browser session and API token of `user`, but the ones given to keep; how many."""
    return revoke_sessions(user, keep=keep_session) + revoke_all_tokens(user, keep=keep_token)


def _rate_limited(blocked: throttle.Blocked) -> RateLimited:
    minutes = max(1, math.ceil(blocked.retry_after_s / 60))
    return RateLimited(
        _("Too many failed sign-ins. Try again in %(m)d minutes.", m=minutes),
        headers={"Retry-After": str(blocked.retry_after_s)},
    )


def authenticate(*, username: str, password: str, ip: str | None = None, client: str | None = None) -> User:
    """Check a username and password; record the attempt either way.

    `client` is the id of a known-client cookie this username was given at an earlier sign-in
    (app/accounts/throttle.py). Raises RateLimited while this username (from this address or client)
    or this address must wait, AuthenticationFailed on a wrong username, password or a deactivated
    account (one message for all three: nothing to probe). The attempt is counted (and committed)
    before the password is checked, and a failure's audit event is committed before this raises. A
    password reset or a deactivation committed while the password was being checked makes it wrong
    (`_unchanged_since_checked`).
    """
    username = normalize_username(username)
    blocked = throttle.claim_attempt(username, ip, client)
    if blocked is not None:
        raise _rate_limited(blocked)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    checked = user.password_hash if user else _DUMMY_HASH
    valid = check_password_hash(checked, password)
    if user is not None and valid:
        valid = _unchanged_since_checked(user, checked)
    if user is None or not valid or not user.active:
        with uow.step("sign-in attempt"):  # audited although the request fails (and rolls back)
            record_event("sign_in_failed", "user", username, actor_label=username)
        raise AuthenticationFailed(_("Wrong username or password."))
    throttle.succeeded(username, ip, client)
    user.last_login_at = datetime.now(UTC)
    record_event("sign_in", "user", user.id, actor_id=user.id, actor_label=user.username)
    return user


def _unchanged_since_checked(user: User, checked: str) -> bool:
    """Whether `user`'s password hash is still `checked` (the one a password was checked against) and
    the user still active, read again with the row locked until this request commits.

    Checking a password takes a tenth of a second. A reset or a deactivation committed meanwhile ends
    every session and token the user has, and would otherwise be followed by this sign-in's new session
    or token (or one's own new password), made with the old password. Once the row is locked, a reset
    waits for this request to commit and then ends what it made. (SQLite's writers are one at a time
    already: there the reset waits anyway.)"""
    current = db.session.execute(
        sa.select(User.password_hash, User.active).where(User.id == user.id).with_for_update()
    ).one()
    return bool(current.password_hash == checked and current.active)


def prune_sign_in_records(now: datetime | None = None) -> int:
    """Delete what no longer decides anything: sessions ended or expired over a day ago (the audit log
    keeps who signed in), and throttle counts a window past their last attempt. Returns rows deleted."""
    now = now or datetime.now(UTC)
    day_ago = now - timedelta(days=1)
    sessions = db.session.execute(
        sa.delete(UserSession).where(
            sa.or_(UserSession.revoked_at < day_ago, UserSession.expires_at < day_ago)
        )
    )
    window = timedelta(minutes=int(current_app.config["IAS_SIGNIN_WINDOW_MINUTES"])).total_seconds()
    counts = db.session.execute(
        sa.delete(SignInThrottle).where(SignInThrottle.updated_at < now.timestamp() - window)
    )
    return int(sessions.rowcount or 0) + int(counts.rowcount or 0)  # type: ignore[attr-defined]
