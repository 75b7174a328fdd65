from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.accounts import services
from app.accounts.forms import SignInForm
from app.errors import AuthenticationFailed, RateLimited
from app.extensions import db
from app.security import is_local_path

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a sign-in link must not bounce people to another site."""
    return target if target and is_local_path(target) else url_for("main.home")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                username=form.username.data or "",
                password=form.password.data or "",
                ip=request.remote_addr,
            )
        except (AuthenticationFailed, RateLimited) as exc:
            db.session.commit()  # count the failure
            form.password.errors = [exc.message]
            status = exc.status_code
        else:
            login_user(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/sign_in.html", form=form, title=_("Sign in")), status


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    logout_user()
    return redirect(url_for("accounts.sign_in"))
