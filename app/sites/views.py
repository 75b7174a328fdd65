"""Pages for sites: the map of records and sites (one site's history is app/timeline/views.py)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.sites.models import SiteStatus

bp = Blueprint("sites", __name__)

SITE_STATUS_LABELS = {
    SiteStatus.ACTIVE: _l("active"),
    SiteStatus.UNDER_CONTROL: _l("under control"),
    SiteStatus.CLEARED: _l("cleared"),
    SiteStatus.REEMERGED: _l("re-emerged"),
}


@bp.route("/map", endpoint="map")
@login_required
def map_page() -> str:
    """Records and sites on a map (Leaflet), filtered by species and status; data from the signed-in API."""
    return render_template("sites/map.html", site_labels=SITE_STATUS_LABELS, title=_("Map"))
