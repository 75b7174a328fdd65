from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import pages
from app.accounts import services, throttle, tokens
from app.accounts.auth import roles_required
from app.accounts.forms import (
    LABELS,
    ROLE_LABELS,
    PasswordChangeForm,
    SignInForm,
    SignOutElsewhereForm,
    UserCreateForm,
    UserEditForm,
)
from app.accounts.models import Organization, Role, User
from app.accounts.organizations import acting_ids
from app.accounts.schemas import SignInArgs
from app.accounts.sessions import active_sessions, end_session, start_session
from app.errors import (
    AuthenticationFailed,
    Conflict,
    FieldErrors,
    InvalidInput,
    PermissionDenied,
    RateLimited,
)
from app.extensions import db

bp = Blueprint("accounts", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response | tuple[str, int]:
    # Only same-site paths: a sign-in link must not bounce people to another site. Another is refused
    # naming `next` on the page, and signing in then goes home.
    args, errors = pages.read(SignInArgs)
    target = args.get("next") or url_for("main.home")
    if current_user.is_authenticated:
        return redirect(target)
    field_errors: FieldErrors = {}
    status = 422 if errors else 200
    if request.method == "POST":
        form, field_errors = pages.read(SignInForm, location="form")
        if field_errors:
            status = 422
        else:
            username = services.normalize_username(form["username"])
            cookie = request.cookies.get(throttle.KNOWN_CLIENT_COOKIE)
            client = throttle.known_client(cookie, username)
            try:
                user = services.authenticate(
                    username=username, password=form["password"], ip=request.remote_addr, client=client
                )
            except (AuthenticationFailed, RateLimited) as exc:  # counted and audited by the service
                field_errors = {"password": [exc.message]}
                status = exc.status_code
            else:
                # A new session (and CSRF secret), remembered: a phone that is closed and opened again in
                # the field stays signed in (REMEMBER_COOKIE_DURATION), so the outbox can send without
                # asking for the password. app/accounts/sessions.py says how it is revoked.
                start_session(user)
                response = redirect(target)
                # This browser is now one the user signed in from (the throttle's exemption).
                if client is None:
                    response.set_cookie(
                        throttle.KNOWN_CLIENT_COOKIE,
                        throttle.known_client_cookie(username),
                        max_age=365 * 24 * 3600,
                        secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True,
                        samesite="Lax",
                    )
                return response
    page = render_template(
        "accounts/sign_in.html",
        typed_username=request.form.get("username", "") if request.method == "POST" else "",
        errors=field_errors,
        labels=LABELS,
        next_error=pages.describe(errors) if errors else None,
        title=_("Sign in"),
    )
    return page, status


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    end_session()
    # The sign-in page then asks the service worker to forget the saved pages (the next person on this
    # phone must not see them); records still in the outbox stay, marked as someone else's.
    return redirect(url_for("accounts.sign_in", signed_out=1))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response | tuple[str, int]:
    """One's own password; the other browsers and API tokens of the user are signed out."""
    errors: FieldErrors = {}
    status = 200
    if request.method == "POST":
        form, errors = pages.read(PasswordChangeForm, location="form")
        if not errors:
            try:
                services.change_own_password(
                    current_user._get_current_object(),
                    current_password=form["current_password"],
                    new_password=form["new_password"],
                    ip=request.remote_addr,
                    keep_session=g.get("user_session"),
                )
            except (InvalidInput, RateLimited) as exc:  # a wrong current password is audited by the service
                pages.show_refusal(errors, exc, PasswordChangeForm().fields)
                status = exc.status_code
            else:
                flash(_("Password changed; your other devices are signed out."), "info")
                return redirect(url_for("main.home"))
        if errors and status == 200:
            status = 422
    page = render_template(
        "accounts/password.html",
        errors=errors,
        labels=LABELS,
        min_password=services.MIN_PASSWORD_LENGTH,
        title=_("Change password"),
    )
    return page, status


@bp.route("/account/sessions", methods=["GET", "POST"])
@login_required
def sign_ins() -> str | Response | tuple[str, int]:
    """Where one is signed in (browsers, API tokens), and signing out everywhere else with one's
    password (a lost phone, a computer left signed in)."""
    errors: FieldErrors = {}
    status = 200
    if request.method == "POST":
        form, errors = pages.read(SignOutElsewhereForm, location="form")
        if not errors:
            try:
                ended = services.sign_out_elsewhere(
                    current_user._get_current_object(),
                    current_password=form["current_password"],
                    ip=request.remote_addr,
                    keep_session=g.get("user_session"),
                )
            except (InvalidInput, RateLimited) as exc:  # a wrong password is audited by the service
                pages.show_refusal(errors, exc, SignOutElsewhereForm().fields)
                status = exc.status_code
            else:
                flash(
                    ngettext(
                        "Signed out of %(num)d other browser or API token.",
                        "Signed out of %(num)d other browsers and API tokens.",
                        ended,
                    ),
                    "info",
                )
                return redirect(url_for("accounts.sign_ins"))
        if errors and status == 200:
            status = 422
    this = g.get("user_session")
    page = render_template(
        "accounts/sessions.html",
        sessions=active_sessions(current_user),
        tokens=tokens.active_tokens(current_user),
        this_session_id=this.id if this is not None else None,
        errors=errors,
        labels=LABELS,
        title=_("Where you are signed in"),
    )
    return page, status


# ---------------------------------------------------------------------------------------------
# Managing users (admins: everyone; bureau admins: their own organization and its units). The rules are the
# service's, as for /api/v1/users; these pages only turn its refusals into messages beside the fields.


Choices = list[tuple[str, str]]  # (value, label) of a select's options


def _role_choices(actor: User, current: Role | None = None) -> Choices:
    """Roles the actor may grant, plus the user's present one so the form can show it."""
    grantable = services.GRANTABLE_ROLES.get(actor.role, frozenset())
    return [(role.value, str(ROLE_LABELS[role])) for role in Role if role in grantable or role == current]


def _organization_choices(actor: User) -> Choices:
    if actor.role == Role.ADMIN:
        organizations: list[Organization] = list(db.session.scalars(services.list_organizations()))
        return [(org.code, org.name) for org in organizations]
    # A bureau admin's own organization first, then the units under it (docs/contract.md §1).
    ids = acting_ids(actor) or frozenset({actor.organization_id})
    units = db.session.scalars(
        sa.select(Organization)
        .where(Organization.id.in_(sorted(ids - {actor.organization_id})))
        .order_by(Organization.code)
    )
    return [(org.code, org.name) for org in (actor.organization, *units)]


def _values(choices: Choices) -> list[str]:
    return [value for value, _label in choices]


@bp.route("/admin/users")
@login_required
@roles_required(*services.USER_MANAGERS)
def users() -> str:
    rows = db.session.scalars(services.visible_users(current_user)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS, title=_("Users"))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
@roles_required(*services.USER_MANAGERS)
def user_new() -> str | Response | tuple[str, int]:
    roles = _role_choices(current_user)
    organizations = _organization_choices(current_user)
    form: dict[str, Any] = {"role": Role.SURVEYOR.value, "organization": current_user.organization.code}
    errors: FieldErrors = {}
    if request.method == "POST":
        schema = UserCreateForm(role=_values(roles), organization=_values(organizations))
        form, errors = pages.read(schema, location="form")
        form = {**request.form.to_dict(), **form}  # drawn again as typed, even a value refused
        if not errors:
            try:
                user = services.create_user(
                    actor=current_user,
                    username=form["username"],
                    password=form["password"],
                    display_name=form["display_name"],
                    role=form["role"],
                    organization_code=form["organization"],
                    email=form["email"],
                )
            except (InvalidInput, Conflict) as exc:
                db.session.rollback()
                pages.show_refusal(errors, exc, schema.fields)
            else:
                flash(_("User %(username)s created.", username=user.username), "info")
                return redirect(url_for("accounts.users"))
    page = render_template(
        "admin/user_new.html",
        form=form,
        errors=errors,
        labels=LABELS,
        role_choices=roles,
        organization_choices=organizations,
        min_password=services.MIN_PASSWORD_LENGTH,
        title=_("New user"),
    )
    return page, 422 if errors else 200


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
@roles_required(*services.USER_MANAGERS)
def user_edit(user_id: int) -> str | Response | tuple[str, int]:
    user = services.get_managed_user(current_user, user_id)
    is_self = user.id == current_user.id
    roles = _role_choices(current_user, user.role)
    form: dict[str, Any] = {
        "display_name": user.display_name,
        "email": user.email or "",
        "role": user.role.value,
        "active": user.active,
    }
    errors: FieldErrors = {}
    status = 200
    if request.method == "POST":
        # One's own role is shown but not offered (a disabled select, which browsers do not send).
        schema = UserEditForm(role=_values(roles), partial=("role",) if is_self else ())
        sent, errors = pages.read(schema, location="form")
        form = {**form, "email": "", **request.form.to_dict(), **sent, "active": sent.get("active", False)}
        if not errors:
            changes: dict[str, object] = {"display_name": sent["display_name"], "email": sent["email"]}
            # One's own role and activity are not offered (the service refuses them), so not sent.
            if not is_self and sent["role"] != user.role.value:
                changes["role"] = sent["role"]
            if not is_self and sent["active"] != user.active:
                changes["active"] = sent["active"]
            if sent["password"]:
                changes["password"] = sent["password"]
            try:
                updated = services.update_user(actor=current_user, user=user, changes=changes)
            except (InvalidInput, PermissionDenied) as exc:
                db.session.rollback()
                pages.show_refusal(errors, exc, schema.fields)
                status = exc.status_code
            else:
                flash(_("Changes to %(username)s saved.", username=user.username), "info")
                if updated.follow_ups_handed_back:
                    flash(
                        ngettext(
                            "%(num)d pending re-inspection of %(username)s was handed back to the "
                            "supervisor to reassign.",
                            "%(num)d pending re-inspections of %(username)s were handed back to the "
                            "supervisor to reassign.",
                            updated.follow_ups_handed_back,
                            username=user.username,
                        ),
                        "info",
                    )
                return redirect(url_for("accounts.users"))
        if errors and status == 200:
            status = 422
    user = services.get_managed_user(current_user, user_id)  # fresh after a rollback
    return render_template(
        "admin/user_edit.html",
        form=form,
        errors=errors,
        labels=LABELS,
        role_choices=roles,
        user=user,
        is_self=is_self,
        role_labels=ROLE_LABELS,
        title=_("User %(username)s", username=user.username),
    ), status
