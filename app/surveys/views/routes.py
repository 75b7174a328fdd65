"""Survey pages: routes (docs/surveys.md, Routes) — walking one on the phone, my routes, one route."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.clock import local_today
from app.paging import PAGE_SIZE, page_number, paginate
from app.surveys import coverage, tracks
from app.surveys import routes as services
from app.surveys.views import bp


def span(seconds: int) -> str:
    """A time span as people read it: "1 h 10 min", "25 min"."""
    hours, minutes = divmod(round(seconds / 60), 60)
    return _("%(h)d h %(m)d min", h=hours, m=minutes) if hours else _("%(m)d min", m=minutes)


def effort(length_m: float, moving_s: int) -> str:
    """A route's effort as people read it: "2.3 km, 1 h 10 min" (its moving time: pauses left out)."""
    return _("%(km).1f km, %(span)s", km=length_m / 1000, span=span(moving_s))


@bp.context_processor
def _campaign_routes() -> dict[str, Any]:
    """What the campaign page's routes slot (surveys/_campaign_routes.html) reads."""
    return {
        "campaign_routes": services.of_campaign,
        "route_effort": effort,
        # Only routes started in the campaign's dates count in its coverage (docs/surveys.md, Coverage).
        "route_counted": lambda campaign, route: coverage.in_window(campaign, route.started_at),
        # A route's points are its bureau's (docs/surveys.md): others see its figures, not a link.
        "route_readable": lambda route: services.may_read(current_user, route),
        "walks_for": lambda campaign: services.may_record_for(current_user, campaign),
    }


@bp.app_context_processor
def _walkable_campaigns() -> dict[str, Any]:
    """The record form's campaign choice (surveys/_route_form.html): asked only by that template."""

    def walkable() -> list[dict[str, Any]]:
        if not current_user.is_authenticated:
            return []
        return services.campaigns_to_walk(current_user, local_today())

    return {"walkable_campaigns": walkable}


@bp.route("/surveys/routes/new")
@login_required
def walk() -> str:
    """Walk a route: the campaigns the user records for are in the page, so it opens offline."""
    return render_template(
        "surveys/route_walk.html",
        title=_("Walk a route"),
        campaigns=services.campaigns_to_walk(current_user, local_today()),
    )


@bp.route("/surveys/routes")
@login_required
def index() -> str:
    page = paginate(
        services.filtered(current_user, {"surveyor_id": current_user.id}),
        page=page_number(),
        per_page=PAGE_SIZE,
    )
    return render_template(
        "surveys/routes.html",
        title=_("My routes"),
        page=page,
        effort=effort,
        page_url=lambda n: url_for("surveys.index", page=n),
    )


@bp.route("/surveys/routes/<int:route_id>")
@login_required
def detail(route_id: int) -> str:
    route = services.get_route(current_user, route_id)
    records = services.records_along(route)
    return render_template(
        "surveys/route_detail.html",
        title=_("Walked route"),
        route=route,
        records=records,
        counted=route.campaign is None or coverage.in_window(route.campaign, route.started_at),
        effort=effort(route.length_m, route.moving_s),
        paused=span(route.duration_s - route.moving_s),
        gaps=tracks.gap_segments(route),
        unit_name=services.unit_name(route.unit) if route.unit else None,
        map_records=[
            {
                "latitude": o.latitude,
                "longitude": o.longitude,
                "detected": o.detected,
                "label": f"{o.species.name_zh} · {_('Found') if o.detected else _('Searched, not found')}",
            }
            for o in records
        ],
    )
