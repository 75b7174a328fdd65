from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from app.api import PageArgs, page_of, paginate
from app.errors import NotFound
from app.species import services
from app.species.schemas import (
    HabitatSchema,
    ListMemberSchema,
    MembersQueryArgs,
    SpeciesDetailSchema,
    SpeciesListSchema,
    SpeciesQueryArgs,
    SpeciesSchema,
)

blp = Blueprint("Species", __name__, description="Species lists and the species registry")


@blp.route("/species")
class SpeciesCollection(MethodView):
    @blp.arguments(SpeciesQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(SpeciesSchema))
    def get(self, page: int, per_page: int, **filters: Any) -> dict[str, Any]:
        """Search species by Chinese name, alias, pinyin, initials, scientific name or synonym

        Best match first. `list` and `group` narrow the search; without `q` all species are listed
        in pinyin order.
        """
        stmt = services.search_species(
            q=filters.get("q"),
            list_code=filters.get("list"),
            group=filters.get("group"),
            include_retired=filters["include_retired"],
        )
        return paginate(stmt, page=page, per_page=per_page)


@blp.route("/species/<int:species_id>")
class SpeciesItem(MethodView):
    @blp.response(200, SpeciesDetailSchema)
    def get(self, species_id: int) -> Any:
        """One species with its metrics, severity thresholds and follow-up intervals"""
        return services.get_species(species_id)


@blp.route("/species-lists")
class SpeciesLists(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(SpeciesListSchema))
    def get(self, page: int, per_page: int) -> dict[str, Any]:
        """The species lists (名录) with their current number of species"""
        rows = services.list_species_lists()
        start = (page - 1) * per_page
        fields = [name for name in SpeciesListSchema().fields if name != "species_count"]
        items = [
            {"species_count": n, **{name: getattr(sl, name) for name in fields}}
            for sl, n in rows[start : start + per_page]
        ]
        return {"items": items, "total": len(rows), "page": page, "per_page": per_page}


@blp.route("/species-lists/<code>/members")
class SpeciesListMembers(MethodView):
    @blp.arguments(MembersQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(ListMemberSchema))
    def get(self, code: str, page: int, per_page: int, on: Any = None) -> dict[str, Any]:
        """A list's rows, as they stand today or stood on a given date"""
        species_list = services.find_list(code)
        if species_list is None:
            raise NotFound(_("No species list has the code %(code)s.", code=code))
        return paginate(services.members_on(species_list, on), page=page, per_page=per_page)


@blp.route("/habitats")
class Habitats(MethodView):
    @blp.response(200, HabitatSchema(many=True))
    def get(self) -> Any:
        """Habitats (生境): the 三调 land classes and the place types within them, in picker order"""
        return services.list_habitats()
