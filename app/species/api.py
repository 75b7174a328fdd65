from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app import policy
from app.accounts.auth import roles_required
from app.api import PageArgs, page_of, paginate
from app.errors import NotFound
from app.extensions import db
from app.species import district_lists, editing, name_import, services
from app.species.models import SpeciesList
from app.species.schemas import (
    ConfirmArgs,
    HabitatSchema,
    ListChangeSchema,
    ListCreateArgs,
    ListImportArgs,
    ListImportQuery,
    ListImportReportSchema,
    ListMemberSchema,
    ListUpdateArgs,
    MemberCreateArgs,
    MembersQueryArgs,
    MemberUpdateArgs,
    SpeciesCreateArgs,
    SpeciesDetailSchema,
    SpeciesListSchema,
    SpeciesLocalArgs,
    SpeciesQueryArgs,
    SpeciesSchema,
)


def _list_or_404(code: str) -> SpeciesList:
    species_list = services.find_list(code)
    if species_list is None:
        raise NotFound(_("No species list has the code %(code)s.", code=code))
    return species_list


def _list_item(species_list: SpeciesList, count: int) -> dict[str, Any]:
    fields = [name for name in SpeciesListSchema().fields if name != "species_count"]
    return {"species_count": count, **{name: getattr(species_list, name) for name in fields}}


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

    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(SpeciesCreateArgs)
    @blp.response(201, SpeciesDetailSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Add a species found locally (kept in the app), its survey defaults copied from a similar one

        A bureau admin adds it for their own bureau; an admin for any. A scientific name or Chinese
        name already in the registry is refused (422 naming the field).
        """
        species = editing.create_species(current_user, args)
        return species


@blp.route("/species/<int:species_id>")
class SpeciesItem(MethodView):
    @blp.response(200, SpeciesDetailSchema)
    def get(self, species_id: int) -> Any:
        """One species with its metrics, severity thresholds and follow-up intervals"""
        return services.get_species(species_id)

    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(SpeciesLocalArgs)
    @blp.response(200, SpeciesDetailSchema)
    def patch(self, args: dict[str, Any], species_id: int) -> Any:
        """Set the local aliases, synonyms, English names, pinyin readings or bureaus of a species

        Kept in the app beside the files' values; `flask species sync` never overwrites them. A bureau
        admin edits their bureau's species and may only add or take away their own bureau.
        """
        species = editing.update_local(current_user, services.get_species(species_id), args)
        return species


@blp.route("/species-lists")
class SpeciesLists(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(SpeciesListSchema))
    def get(self, page: int, per_page: int) -> dict[str, Any]:
        """The species lists (名录) with their current number of species"""
        rows = services.list_species_lists()
        start = (page - 1) * per_page
        items = [_list_item(sl, n) for sl, n in rows[start : start + per_page]]
        return {"items": items, "total": len(rows), "page": page, "per_page": per_page}

    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(ListCreateArgs)
    @blp.response(201, SpeciesListSchema)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Create a district list (a bureau's 普查清单), kept in the app"""
        species_list = district_lists.create_district_list(current_user, args)
        return _list_item(species_list, 0)


@blp.route("/species-lists/<code>")
class SpeciesListItem(MethodView):
    @blp.response(200, SpeciesListSchema)
    def get(self, code: str) -> dict[str, Any]:
        """One species list (名录) with its current number of species and the census categories it reports"""
        species_list = _list_or_404(code)
        return _list_item(species_list, services.current_count(species_list))

    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(ListUpdateArgs)
    @blp.response(200, SpeciesListSchema)
    def patch(self, args: dict[str, Any], code: str) -> dict[str, Any]:
        """Set the census categories a district list reports (a forestry list's 林草 categories)

        A bureau admin edits their bureau's lists; a bureau's list reports only its own census's
        categories. An unknown or repeated category is refused (422 naming `census_categories`); a
        published list changes only through its files.
        """
        species_list = _list_or_404(code)
        district_lists.set_list_categories(current_user, species_list, args["census_categories"])
        return _list_item(species_list, services.current_count(species_list))


@blp.route("/species-lists/<code>/members")
class SpeciesListMembers(MethodView):
    @blp.arguments(MembersQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(ListMemberSchema))
    def get(self, code: str, page: int, per_page: int, on: Any = None) -> dict[str, Any]:
        """A list's rows, as they stand today or stood on a given date"""
        species_list = _list_or_404(code)
        return paginate(services.members_on(species_list, on), page=page, per_page=per_page)

    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(MemberCreateArgs)
    @blp.response(201, ListMemberSchema)
    def post(self, args: dict[str, Any], code: str) -> Any:
        """Add a species to a district list: a new period from `added_on` (default today)

        A period that overlaps one the species already has on the list is refused (422).
        """
        membership = district_lists.add_member(current_user, _list_or_404(code), args)
        return membership


@blp.route("/species-lists/<code>/members/<int:membership_id>")
class SpeciesListMember(MethodView):
    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(MemberUpdateArgs)
    @blp.response(200, ListMemberSchema)
    def patch(self, args: dict[str, Any], code: str, membership_id: int) -> Any:
        """Change a district list row: set `removed_on` to remove the species, or correct its period"""
        species_list = _list_or_404(code)
        membership = district_lists.update_period(
            current_user, district_lists.get_membership(species_list, membership_id), args
        )
        return membership


@blp.route("/species-lists/<code>/members/<int:membership_id>/confirm")
class SpeciesListMemberConfirm(MethodView):
    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(ConfirmArgs)
    @blp.response(200, ListMemberSchema)
    def post(self, args: dict[str, Any], code: str, membership_id: int) -> Any:
        """Confirm a row after checking it against the official text, with a note of what that was

        Kept in the app (sync never clears it, and reports rows the files still call unverified).
        """
        species_list = _list_or_404(code)
        membership = district_lists.confirm_row(
            current_user, district_lists.get_membership(species_list, membership_id), args["note"]
        )
        return membership


@blp.route("/species-lists/<code>/changes")
class SpeciesListChanges(MethodView):
    @blp.response(200, ListChangeSchema(many=True))
    def get(self, code: str) -> Any:
        """A list's changes by date, latest first: species added after publication, and removed"""
        return district_lists.list_changes(_list_or_404(code))


@blp.route("/habitats")
class Habitats(MethodView):
    @blp.response(200, HabitatSchema(many=True))
    def get(self) -> Any:
        """Habitats (生境): the 三调 land classes and the place types within them, in picker order"""
        return services.list_habitats()


@blp.route("/species-lists/<code>/import")
class SpeciesListImport(MethodView):
    @roles_required(*policy.SPECIES_EDITORS)
    @blp.arguments(ListImportArgs, location="files")
    @blp.arguments(ListImportQuery, location="query")
    @blp.response(200, ListImportReportSchema)
    def post(self, files: dict[str, Any], query: dict[str, Any], code: str) -> Any:
        """Import a district list from a spreadsheet of names, with a row report

        Each name is matched by Chinese name, alias, Latin name, old synonym or English name. Without
        `apply` nothing changes: the report shows matches, ambiguities (candidates listed) and unknowns
        (to create with POST /species). With `apply=true` the matched rows join the list.
        """
        species_list = _list_or_404(code)
        upload = files["file"]
        rows = name_import.read_name_rows(upload.read(), upload.filename or "")
        report = name_import.import_names(
            current_user, species_list, rows, apply=query["apply"], added_on=query.get("added_on")
        )
        if not query["apply"]:
            db.session.rollback()  # a preview: nothing it tried is kept
        return report
