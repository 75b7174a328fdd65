"""Pages of the species domain (browser UI): the species lists and the edits bureaus keep in the app.

Published lists change only through the data files in species_lists/ and `flask species sync`; a
bureau's district lists, local names, bureau assignments and row confirmations are edited here, with
the same rules as the API (app/species/editing.py, district_lists.py, name_import.py). Membership is
kept as periods, so a list on any past date can be shown, and its changes by date.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import pages, policy
from app.accounts.auth import roles_required
from app.clock import local_today
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.species import district_lists, editing, name_import, services
from app.species.models import CensusCategory, ListLevel, ListMembership, Origin, SpeciesList
from app.species.schemas import (
    DistrictListForm,
    ListCategoriesForm,
    ListDayArgs,
    MemberAddForm,
    MemberConfirmForm,
    MemberRemoveForm,
    NameImportForm,
    SpeciesEditForm,
    SpeciesNewForm,
)

bp = Blueprint("species", __name__)


def source_status_labels() -> dict[str, str]:
    """A list row's status as its source gives it (ListMembership.status; species_lists/README.md)."""
    return {
        "confirmed": _("confirmed by the source"),
        "corroborated": _("corroborated by other sources"),
        "partly corroborated": _("partly corroborated by other sources"),
        "unconfirmed": _("unconfirmed by the source"),
    }


def level_labels() -> dict[ListLevel, str]:
    return {
        ListLevel.NATIONAL: _("national"),
        ListLevel.PROVINCIAL: _("provincial"),
        ListLevel.DISTRICT: _("district"),
    }


@bp.route("/admin/species-lists")
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def lists() -> str:
    rows = services.list_species_lists()
    bureaus = editing.bureau_codes()
    if not policy.edits_every_bureau(current_user):
        bureaus = {c: n for c, n in bureaus.items() if c == current_user.organization.code}
    return render_template(
        "admin/species_lists.html",
        rows=rows,
        levels=level_labels(),
        bureaus=bureaus,
        title=_("Species lists"),
    )


@bp.route("/admin/species-lists/<code>")
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def list_detail(code: str) -> str:
    species_list = services.find_list(code)
    if species_list is None:
        raise NotFound(_("No species list has the code %(code)s.", code=code))
    on = pages.load(ListDayArgs).get("on")  # a malformed day: a 422 page naming it
    members = cast(list[ListMembership], db.session.scalars(services.members_on(species_list, on)).all())
    return render_template(
        "admin/species_list.html",
        species_list=species_list,
        members=members,
        on=on,
        levels=level_labels(),
        source_statuses=source_status_labels(),
        changes=district_lists.list_changes(species_list),
        categories=services.census_category_labels(),
        category_choices=_category_choices(species_list),
        may_edit=_may_edit(species_list),
        may_confirm={m.id for m in members if policy.may_edit_species_of(current_user, m.species.bureaus)},
        title=species_list.short_name or species_list.name,
    )


def _category_choices(species_list: SpeciesList) -> dict[str, str]:
    """The categories a list may report: a bureau's list its own census's, another list all of them."""
    labels = services.census_category_labels()
    census = district_lists.census_of_bureau(species_list.bureau)
    return {
        code: label
        for code, label in labels.items()
        if census is None or CensusCategory(code).bureau == census
    }


@bp.route("/admin/species-lists/<code>/categories", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def list_categories(code: str) -> Response:
    """Set the census categories a district list reports (the boxes ticked)."""
    species_list = _list_or_404(code)
    try:
        form = pages.load(ListCategoriesForm, location="form")
        district_lists.set_list_categories(current_user, species_list, form["census_categories"])
    except InvalidInput as exc:
        _refused(exc)
    else:
        flash(_("The census categories of %(name)s are saved.", name=species_list.name), "info")
    return redirect(url_for("species.list_detail", code=code))


def _editable_bureaus() -> set[str]:
    """The bureaus whose boxes the signed-in user may tick on a species (app.policy)."""
    return {code for code in editing.bureau_codes() if policy.may_edit_species_of(current_user, [code])}


def _may_edit(species_list: SpeciesList) -> bool:
    return species_list.origin == Origin.LOCAL and policy.may_edit_species_of(
        current_user, [species_list.bureau or ""]
    )


def _list_or_404(code: str) -> SpeciesList:
    species_list = services.find_list(code)
    if species_list is None:
        raise NotFound(_("No species list has the code %(code)s.", code=code))
    return species_list


def _refused(error: InvalidInput) -> None:
    """Drop the refused change (the redirect that follows would commit it) and say why."""
    db.session.rollback()
    flash(error.message, "error")


@bp.route("/admin/species-lists", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def list_create() -> Response:
    """A new district list (a bureau's 普查清单), kept in the app."""
    try:
        form = pages.load(DistrictListForm, location="form")
        species_list = district_lists.create_district_list(current_user, form)
    except InvalidInput as exc:
        _refused(exc)
        return redirect(url_for("species.lists"))
    flash(_("List %(name)s created.", name=species_list.name), "info")
    return redirect(url_for("species.list_detail", code=species_list.code))


@bp.route("/admin/species-lists/<code>/members", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def member_add(code: str) -> Response:
    """Add a species to a district list by a name people type (Chinese, alias, Latin, English)."""
    species_list = _list_or_404(code)
    try:
        editing.check_may_edit_list(current_user, species_list)
        form = pages.load(MemberAddForm, location="form")
        species = name_import.resolve_name(form["name"])
        district_lists.add_member(
            current_user, species_list, {"species_id": species.id, "added_on": form["added_on"]}
        )
    except InvalidInput as exc:
        _refused(exc)
    else:
        flash(_("%(name)s added to the list.", name=species.name_zh), "info")
    return redirect(url_for("species.list_detail", code=code))


@bp.route("/admin/species-lists/<code>/members/<int:membership_id>/remove", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def member_remove(code: str, membership_id: int) -> Response:
    """Take a species off a district list from a day (default today); its earlier period stays."""
    species_list = _list_or_404(code)
    membership = district_lists.get_membership(species_list, membership_id)
    try:
        removed_on = pages.load(MemberRemoveForm, location="form")["removed_on"] or local_today()
        district_lists.update_period(current_user, membership, {"removed_on": removed_on})
    except InvalidInput as exc:
        _refused(exc)
    else:
        flash(_("%(name)s removed from the list.", name=membership.species.name_zh), "info")
    return redirect(url_for("species.list_detail", code=code))


@bp.route("/admin/species-lists/<code>/members/<int:membership_id>/confirm", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def member_confirm(code: str, membership_id: int) -> Response:
    """Confirm a row after checking it against the official text, noting what that was."""
    species_list = _list_or_404(code)
    membership = district_lists.get_membership(species_list, membership_id)
    try:
        note = pages.load(MemberConfirmForm, location="form")["note"]
        district_lists.confirm_row(current_user, membership, note)
    except InvalidInput as exc:
        _refused(exc)
    else:
        flash(_("Row %(row)s confirmed.", row=membership.row), "info")
    return redirect(url_for("species.list_detail", code=code))


@bp.route("/admin/species-lists/<code>/import", methods=["POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def list_import(code: str) -> str | tuple[str, int]:
    """The row report of a spreadsheet of names; with "add" ticked, the matched rows join the list."""
    species_list = _list_or_404(code)
    apply = False
    try:
        editing.check_may_edit_list(current_user, species_list)
        form = pages.load(NameImportForm, location="form_with_files")
        apply = form["apply"]
        upload = form["file"]
        rows = name_import.read_name_rows(upload.read(), upload.filename)
        report = name_import.import_names(
            current_user, species_list, rows, apply=apply, added_on=form["added_on"]
        )
    except InvalidInput as exc:
        db.session.rollback()
        page = render_template(
            "admin/species_import.html",
            species_list=species_list,
            report=None,
            error=exc.message,
            title=_("Import names"),
        )
        return page, 422
    if not apply:
        db.session.rollback()  # a preview: nothing it tried is kept
    return render_template(
        "admin/species_import.html",
        species_list=species_list,
        report=report,
        error=None,
        title=_("Import names"),
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _readings(text: str) -> dict[str, str]:
    """Lines of "长芒苋 = chang mang xian"; a line without "=" is refused naming the field."""
    readings: dict[str, str] = {}
    for line in _lines(text):
        chinese, sep, reading = line.partition("=")
        if not sep:
            raise InvalidInput.field("pinyin", _("write each reading as 名称 = pin yin"))
        readings[chinese.strip()] = reading.strip()
    return readings


@bp.route("/admin/species/<int:species_id>", methods=["GET", "POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def species_edit(species_id: int) -> str | tuple[str, int] | Response:
    """A species' names and the edits kept in the app: aliases, synonyms, English names, readings, bureaus."""
    species = services.get_species(species_id)
    may_edit = policy.may_edit_species_of(current_user, species.bureaus)
    error = None
    if request.method == "POST":
        editing.check_may_edit_species(current_user, species)
        try:
            form = pages.load(SpeciesEditForm, location="form")
            changes: dict[str, Any] = {
                "aliases": _lines(form["aliases"]),
                "synonyms": _lines(form["synonyms"]),
                "names_en": _lines(form["names_en"]),
                "pinyin": _readings(form["pinyin"]),
            }
            if form["bureaus_shown"]:
                changes["bureaus"] = form["bureaus"]
            editing.update_local(current_user, species, changes)
        except InvalidInput as exc:
            db.session.rollback()
            error = exc.message
            species = services.get_species(species_id)
        else:
            flash(_("Changes to %(name)s saved.", name=species.name_zh), "info")
            return redirect(url_for("species.species_edit", species_id=species.id))
    page = render_template(
        "admin/species_edit.html",
        species=species,
        may_edit=may_edit,
        bureaus=editing.bureau_codes(),
        editable_bureaus=_editable_bureaus(),
        categories=services.census_category_labels(),
        error=error,
        title=species.name_zh,
    )
    return (page, 422) if error else page


@bp.route("/admin/species/new", methods=["GET", "POST"])
@login_required
@roles_required(*policy.SPECIES_EDITORS)
def species_new() -> str | tuple[str, int] | Response:
    """A species found locally, its survey defaults copied from a similar species."""
    error = None
    form: dict[str, Any] = {}
    if request.method == "POST":
        form, errors = pages.read(SpeciesNewForm, location="form")
        try:
            if errors:
                raise InvalidInput(pages.describe(errors), errors)
            like = name_import.resolve_name(form["like"], "like")
            for name in ("name_zh", "name_sci"):
                if not form[name]:  # only spaces
                    raise InvalidInput.field(name, _("this is required"))
            args: dict[str, Any] = {
                "name_zh": form["name_zh"],
                "name_sci": form["name_sci"],
                "like": like.id,
                "aliases": _lines(form["aliases"]),
                "names_en": _lines(form["names_en"]),
                "bureaus": form["bureaus"] or None,
            }
            species = editing.create_species(current_user, args)
        except InvalidInput as exc:
            db.session.rollback()
            error = exc.message
        else:
            flash(_("%(name)s added to the registry.", name=species.name_zh), "info")
            return redirect(url_for("species.species_edit", species_id=species.id))
    page = render_template(
        "admin/species_new.html",
        form=form,
        bureaus=editing.bureau_codes(),
        editable_bureaus=_editable_bureaus(),
        error=error,
        title=_("New species"),
    )
    return (page, 422) if error else page
