"""Survey pages: a campaign's coverage (docs/surveys.md, Coverage).

The campaign page includes the partial `surveys/_coverage.html`, which asks for the coverage itself
(`campaign_coverage(campaign_id)`, a template global), so any page holding a `campaign` can show it. The page
here, /campaigns/<id>/coverage, shows the partial on its own (the reminders link to it).
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.surveys import coverage
from app.surveys.views import bp

STATUS_LABELS = {
    coverage.Status.COVERED: _l("covered"),
    coverage.Status.IN_PROGRESS: _l("in progress"),
    coverage.Status.NOT_STARTED: _l("not started"),
}
STATUS_BADGES = {
    coverage.Status.COVERED: "done",
    coverage.Status.IN_PROGRESS: "warn",
    coverage.Status.NOT_STARTED: "bad",
}
# The map's colours by status (the legend says which is which).
STATUS_COLOURS = {
    coverage.Status.COVERED: "#1f6f43",
    coverage.Status.IN_PROGRESS: "#d08c00",
    coverage.Status.NOT_STARTED: "#b00020",
}
ROUTE_COLOUR = "#1565c0"


@bp.app_template_global()
def campaign_coverage(campaign_id: int) -> dict[str, Any]:
    """What the coverage partial shows: the figures, and the map's URL, colours and labels."""
    result = coverage.compute(coverage.get_campaign(campaign_id))
    return {
        "result": result,
        "labels": STATUS_LABELS,
        "badges": STATUS_BADGES,
        "map": {
            "url": url_for("Surveys.CampaignCoverageGeoJSON", campaign_id=campaign_id),
            "colours": {status.value: colour for status, colour in STATUS_COLOURS.items()},
            "route_colour": ROUTE_COLOUR,
            "labels": {
                **{status.value: str(label) for status, label in STATUS_LABELS.items()},
                "route": _("route walked"),
                "record": _("record"),
                "overdue": _("overdue"),
                "routes": _("routes"),
                "records": _("records"),
                "assignee": _("Assignee"),
                "due": _("Due by"),
                "empty": _("Nothing to draw yet: no unit has an outline and nothing has been recorded."),
            },
        },
    }


@bp.route("/campaigns/<int:campaign_id>/coverage")
@login_required
def campaign_coverage_page(campaign_id: int) -> str:
    """A campaign's coverage on its own page: per unit, per assignee, per township and on the map."""
    campaign = coverage.get_campaign(campaign_id)
    return render_template(
        "surveys/coverage.html",
        campaign=campaign,
        title=_("Coverage of %(campaign)s", campaign=campaign.name),
    )
