from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.security import is_local_path
from app.species import services as species_services

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


@bp.route("/")
@login_required
def home() -> str:
    q = request.args.get("q", "").strip()[:100]
    results = db.session.scalars(species_services.search_species(q=q).limit(30)).all() if q else []
    return render_template("main/home.html", q=q, results=results, title=_("Home"))


@bp.route("/language", methods=["POST"])
def set_language() -> Response:
    """Remember the chosen language (zh or en) for this browser, and for the user when signed in."""
    lang = request.form.get("lang", "zh")
    if lang in ("zh", "en"):
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    target = request.form.get("next", "")
    return redirect(target if is_local_path(target) else url_for("main.home"))


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and a round trip to the database, for load balancers and monitoring."""
    try:
        db.session.execute(sa.select(1))
    except sa.exc.SQLAlchemyError:
        log.exception("health check: database unreachable")
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
