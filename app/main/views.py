from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from app import pages
from app.clock import local_today
from app.control import follow_ups as control_services
from app.control.models import FollowUp, FollowUpStatus
from app.extensions import db, schema_behind, schema_revisions
from app.main.schemas import HomeSearchArgs, LanguageForm
from app.observations import services as observation_services
from app.observations.models import ReviewStatus
from app.observations.review import STATUS_LABELS
from app.sites.models import Site
from app.species import services as species_services

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


HOME_FOLLOW_UP_DAYS = 7  # the home page lists my follow-ups due within this many days (and overdue ones)
# … and links the later ones too, so the phone saves every one of my re-inspection forms for offline
# use whatever its due date (app.js saves each link under [data-my-follow-ups]); at most this many.
HOME_FOLLOW_UPS_SAVED = 200
HOME_RECENT_RECORDS = 10


@bp.route("/")
@login_required
def home() -> str | tuple[str, int]:
    """My work: follow-ups due soon, my recent records, the outbox on this phone, and species search."""
    args, errors = pages.read(HomeSearchArgs)
    q = args.get("q", "").strip()
    results = db.session.scalars(species_services.search_species(q=q).limit(30)).all() if q else []
    soon = local_today() + timedelta(days=HOME_FOLLOW_UP_DAYS + 1)
    mine: list[FollowUp] = list(
        db.session.scalars(
            control_services.filtered_follow_ups(
                {"assignee_id": current_user.id, "status": FollowUpStatus.PENDING}
            )
            .options(joinedload(FollowUp.site).joinedload(Site.species))
            .limit(HOME_FOLLOW_UPS_SAVED)
        )
    )
    follow_ups = [f for f in mine if f.due_on < soon]
    later = [f for f in mine if f.due_on >= soon]
    recent = db.session.scalars(
        observation_services.filtered({"surveyor_id": current_user.id}).limit(HOME_RECENT_RECORDS)
    ).all()
    # Returned records wait for their surveyor: listed so their edit forms are saved for offline use.
    returned = db.session.scalars(
        observation_services.filtered(
            {"surveyor_id": current_user.id, "status": ReviewStatus.RETURNED}
        ).limit(HOME_RECENT_RECORDS)
    ).all()
    page = render_template(
        "main/home.html",
        q=q,
        search_errors=errors.get("q", []),
        returned=returned,
        results=results,
        follow_ups=follow_ups,
        later=later,
        recent=recent,
        today=local_today(),
        status_labels=STATUS_LABELS,
        title=_("Home"),
    )
    return (page, 422) if errors else page


@bp.route("/language", methods=["POST"])
def set_language() -> Response:
    """Remember the chosen language (zh or en) for this browser, and for the user when signed in."""
    form, errors = pages.read(LanguageForm, location="form")
    if errors:  # said in the language the reader has now
        flash(pages.describe(errors), "error")
    if "lang" not in errors:  # another site's `next` only sends the reader home instead
        session["lang"] = form["lang"]
        if current_user.is_authenticated:
            current_user.locale = form["lang"]
    return redirect(form.get("next") or url_for("main.home"))


@bp.route("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico on a page that names no icon (the API's docs page): the app's icon."""
    return redirect(url_for("static", filename="icon.svg"))


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and a round trip to the database, for load balancers and monitoring. A database the
    migrations have not brought up to this code (`flask db upgrade` not run) is unhealthy too: its
    requests would fail on missing tables or columns."""
    try:
        current, heads = schema_revisions(db.session.connection())
    except sa.exc.SQLAlchemyError:
        log.exception("health check: database unreachable")
        return jsonify(status="error", database="unreachable"), 503
    if schema_behind(current, heads):
        log.error("health check: the database is at migration %s, this code needs %s", current, heads)
        return jsonify(
            status="error", database="schema_behind", migration=sorted(current), needs=sorted(heads)
        ), 503
    return jsonify(status="ok", database="ok"), 200
