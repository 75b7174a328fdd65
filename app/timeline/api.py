"""GET /api/v1/sites/{id}: a site with its history.

The endpoint belongs to the Sites part of the API (its blueprint, path and tag), but the history reads
observations and control, which sit above sites: so it is declared here, on the sites blueprint, and
create_app registers that blueprint through this module.
"""

from __future__ import annotations

from flask.views import MethodView

from app.sites import services as sites
from app.sites.api import blp
from app.timeline.schemas import SiteDetailSchema
from app.timeline.services import SiteHistory, site_history

__all__ = ["blp"]


@blp.route("/sites/<int:site_id>")
class SiteItem(MethodView):
    @blp.response(200, SiteDetailSchema)
    def get(self, site_id: int) -> SiteHistory:
        """A site with its observations, control operations and follow-ups in time order"""
        return site_history(sites.get_site(site_id))
