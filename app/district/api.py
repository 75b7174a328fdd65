from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from app.api import PageArgs, page_of, paginate
from app.district import services
from app.district.schemas import DistrictSchema, TownshipSchema, VillageQueryArgs, VillageSchema
from app.errors import NotFound

blp = Blueprint("District", __name__, description="The district, its townships and villages")


@blp.route("/district")
class DistrictItem(MethodView):
    @blp.response(200, DistrictSchema)
    def get(self) -> Any:
        """The district this installation serves, with its bounds"""
        district = services.get_district()
        if district is None:
            raise NotFound(_("No district has been loaded; run `flask district load`."))
        return district


@blp.route("/townships")
class Townships(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(TownshipSchema))
    def get(self, page: int, per_page: int) -> dict[str, Any]:
        """The district's townships (街道, 镇, 乡) with codes and old names"""
        return paginate(services.list_townships(), page=page, per_page=per_page)


@blp.route("/villages")
class Villages(MethodView):
    @blp.arguments(VillageQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(VillageSchema))
    def get(
        self, page: int, per_page: int, township_code: str | None = None, q: str | None = None
    ) -> dict[str, Any]:
        """The district's villages and communities (村/社区), of one township or by name when asked"""
        return paginate(services.list_villages(township_code, q), page=page, per_page=per_page)
