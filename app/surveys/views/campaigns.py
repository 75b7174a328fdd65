"""Survey pages: campaigns (docs/surveys.md, Campaigns).

The list and a campaign's page are every signed-in user's; the plan form (new and edit) is for the
supervisors and bureau admins of the campaign's bureau (app/policy.py). The form works without
JavaScript: picking units (townships, then their villages), giving the picked ones an assignee and a due
date, and assigning or removing several rows at once are form posts that draw the form again with the
rows changed (nothing is saved until "save"); the page's script only adds the species search and "every
village of this township" ticks. A district has hundreds of villages (343 in Liangping): the rows list
only the units chosen, the picker lists every township's villages folded under it.

Unit rows are posted as `units-<n>-code`, `units-<n>-assignee_id`, `units-<n>-due_on`, `units-<n>-selected`;
a refused save names them as the API does (`units.<n>.assignee_id`) and the form shows each message on
its row.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import pages, policy
from app.accounts.auth import roles_required
from app.api import MAX_ID
from app.clock import local_today
from app.district.models import Township
from app.errors import Conflict, FieldErrors, InvalidInput, PermissionDenied
from app.extensions import db
from app.paging import PAGE_SIZE, page_number, paginate
from app.species.models import Species
from app.species.name_import import resolve_name
from app.surveys import campaign_queries as queries
from app.surveys import campaigns as services
from app.surveys.models import Campaign, CampaignKind, SurveyUnit
from app.surveys.views import bp

ROW = re.compile(r"^units-(\d{1,4})-(code|assignee_id|due_on|selected)$")
MAX_ROWS = 2000


class CampaignForm(ma.Schema):
    """The plan form's own fields (a page's input, read by app/pages.py); the unit rows are read beside
    it (UnitRowsForm)."""

    action = ma.fields.String(load_default="save")
    name = ma.fields.String(load_default="")
    kind = ma.fields.Enum(
        CampaignKind, by_value=True, error_messages={"unknown": _l("choose the kind of campaign")}
    )
    bureau = ma.fields.String()
    starts_on = ma.fields.Date(error_messages={"invalid": _l("use a date such as 2026-05-01")})
    ends_on = ma.fields.Date(error_messages={"invalid": _l("use a date such as 2026-05-01")})
    notes = ma.fields.String(load_default=None)
    species_id = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1)), load_default=list
    )
    add_species = ma.fields.String(load_default="")
    pick_unit = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=20)), load_default=list)
    pick_assignee_id = ma.fields.Integer(load_default=None)
    pick_due_on = ma.fields.Date(
        load_default=None, error_messages={"invalid": _l("use a date such as 2026-05-01")}
    )
    bulk_assignee_id = ma.fields.Integer(load_default=None)
    bulk_due_on = ma.fields.Date(
        load_default=None, error_messages={"invalid": _l("use a date such as 2026-05-01")}
    )
    # The campaign as the edit form was opened on it (services.version_tag), carried through the form's
    # redraws: a save made from it after someone else changed the campaign is refused (409).
    version = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))


class UnitRowForm(ma.Schema):
    """One unit row of the plan form; a blank value is "not given" (app/pages.py leaves it out)."""

    code = ma.fields.String(required=True)
    assignee_id = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(min=1, max=MAX_ID, error=_l("choose someone from the list")),
        error_messages={"invalid": _l("choose someone from the list")},
    )
    due_on = ma.fields.Date(
        load_default=None, error_messages={"invalid": _l("use a date such as 2026-05-01")}
    )
    selected = ma.fields.String(load_default="")  # a ticked box sends "1"; any value ticks it

    @ma.post_load
    def _ticked(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "selected": bool(data["selected"])}


def _grouped(data: Any) -> list[dict[str, Any]]:
    """`units-<n>-<field>` inputs as rows in the order of n; a row without a unit code is no row."""
    found: dict[int, dict[str, Any]] = {}
    for key in data:
        match = ROW.match(key)
        if match and int(match[1]) < MAX_ROWS:
            found.setdefault(int(match[1]), {})[match[2]] = str(data[key]).strip()
    return [raw for _n, raw in sorted(found.items()) if raw.get("code")]


class UnitRowsForm(ma.Schema):
    """The plan form's unit rows (read by app/pages.py): `units` in their order, renumbered from 0 as the
    form draws them again, so that a malformed value is named `units.<i>.<field>`, the row drawn with
    inputs `units-<i>-…` (as the service names what it refuses). With errors, every row still loads,
    the malformed values left out, so that the form shows the rows as they were."""

    units = ma.fields.List(ma.fields.Nested(UnitRowForm), load_default=list)

    @ma.pre_load
    def _rows(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        return {"units": _grouped(data)}

    def handle_error(self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        messages = error.normalized_messages().get("units", {})  # type: ignore[no-untyped-call]
        flat: dict[str, list[str]] = {}
        rows = []
        for index, raw in enumerate(_grouped(data)):
            row_errors = messages.get(index, {}) if isinstance(messages, dict) else {}
            for field, texts in row_errors.items():
                flat[f"units.{index}.{field}"] = [str(t) for t in texts]
            rows.append(UnitRowForm().load({k: v for k, v in raw.items() if k not in row_errors}))
        raise ma.ValidationError(flat or {"units": [str(m) for m in messages]}, valid_data={"units": rows})


# ---------------------------------------------------------------------------------------------------
# Reading the form


def _species_ids(form: dict[str, Any], errors: FieldErrors) -> list[int]:
    """The species ticked, and those typed by name in `add_species` (Chinese, alias, Latin …)."""
    ids = list(dict.fromkeys(form.get("species_id") or []))
    for name in re.split(r"[,，、;；\n]+", form.get("add_species") or ""):
        if not name.strip():
            continue
        try:
            species = resolve_name(name)
        except InvalidInput as exc:
            errors.setdefault("add_species", []).append(
                f"{name.strip()}: {next(iter(exc.errors.values()))[0]}"
            )
            continue
        if species.id not in ids:
            ids.append(species.id)
    return ids


def _unit_args(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            ("village_code" if len(r["code"]) == 12 else "township_code"): r["code"],
            "assignee_id": r["assignee_id"],
            "due_on": r["due_on"],
        }
        for r in rows
    ]


def _apply(
    action: str, form: dict[str, Any], rows: list[dict[str, Any]], errors: FieldErrors
) -> list[dict[str, Any]]:
    """The rows after "add the picked units", "assign the ticked rows" or "remove the ticked rows"."""
    if action == "add_units":
        if not form["pick_unit"]:
            errors["pick_unit"] = [_("tick the townships or villages to add")]
        have = {r["code"] for r in rows}
        for code in form["pick_unit"]:
            code = code.strip()
            if code and code not in have:
                have.add(code)
                rows.append(
                    {
                        "code": code,
                        "assignee_id": form["pick_assignee_id"],
                        "due_on": form["pick_due_on"],
                        "selected": False,
                    }
                )
    elif action == "assign_selected":
        if not any(r["selected"] for r in rows):
            errors["bulk"] = [_("tick the rows to change")]
        for row in rows:
            if row["selected"]:
                if form["bulk_assignee_id"] is not None:
                    row["assignee_id"] = form["bulk_assignee_id"]
                if form["bulk_due_on"] is not None:
                    row["due_on"] = form["bulk_due_on"]
    elif action == "remove_selected":
        rows = [r for r in rows if not r["selected"]]
    return rows


# ---------------------------------------------------------------------------------------------------
# Drawing the form


def _villages_by_township() -> dict[int, list[Any]]:
    from app.district.models import Village

    grouped: dict[int, list[Any]] = {}
    for village in db.session.scalars(sa.select(Village).order_by(Village.code)):
        grouped.setdefault(village.township_id, []).append(village)
    return grouped


def _unit_names() -> dict[str, str]:
    """Every township's and village's name by code, for the rows (a village as 镇 · 村)."""
    from app.district.models import Village

    names = {code: name for code, name in db.session.execute(sa.select(Township.code, Township.name_zh))}
    for code, short, township_code in db.session.execute(
        sa.select(Village.code, Village.short_name, Township.code).join(Village.township)
    ):
        names[code] = f"{names.get(township_code, township_code)} · {short}"
    return names


def _render_form(
    *,
    campaign: Campaign | None,
    form: dict[str, Any],
    rows: list[dict[str, Any]],
    errors: FieldErrors,
    status: int = 200,
) -> tuple[str, int]:
    bureaus = queries.managed_bureaus(current_user)
    bureau_code = form.get("bureau") or (campaign.organization.code if campaign else None)
    if bureau_code is None and bureaus:
        default = (
            current_user.organization
            if current_user.organization.is_bureau
            else current_user.organization.parent
        )
        bureau_code = default.code if default is not None and default in bureaus else bureaus[0].code
    bureau = next((b for b in bureaus if b.code == bureau_code), None)
    species_ids = form.get("species_ids") or []
    species = (
        list(db.session.scalars(sa.select(Species).where(Species.id.in_(species_ids)))) if species_ids else []
    )
    return (
        render_template(
            "surveys/campaign_form.html",
            campaign=campaign,
            form=form,
            rows=rows,
            errors=errors,
            bureaus=bureaus,
            bureau_code=bureau_code,
            people=queries.assignable_users(bureau.id) if bureau else [],
            species=sorted(species, key=lambda s: species_ids.index(s.id)),
            townships=list(db.session.scalars(sa.select(Township).order_by(Township.code))),
            villages=_villages_by_township(),
            names=_unit_names(),
            kinds=queries.KIND_LABELS,
            title=_("Edit campaign") if campaign else _("New campaign"),
        ),
        status,
    )


def _form_from(campaign: Campaign) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    form = {
        "name": campaign.name,
        "kind": campaign.kind,
        "bureau": campaign.organization.code,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "notes": campaign.notes,
        "species_ids": [s.id for s in campaign.species],
        "version": services.version_tag(campaign),
    }
    rows = [
        {"code": u.unit_code, "assignee_id": u.assignee_id, "due_on": u.due_on, "selected": False}
        for u in queries.units_of(campaign)
    ]
    return form, rows


def _post(campaign: Campaign | None) -> Any:
    """One post of the plan form: change the rows and draw it again, or save."""
    form, errors = pages.read(CampaignForm, location="form")
    read_rows, row_errors = pages.read(UnitRowsForm, location="form")
    rows: list[dict[str, Any]] = read_rows.get("units", [])
    errors.update(row_errors)
    form["species_ids"] = _species_ids(form, errors)
    action = form.get("action", "save")
    if action != "save":
        rows = _apply(
            action,
            {
                **{
                    "pick_unit": [],
                    "pick_assignee_id": None,
                    "pick_due_on": None,
                    "bulk_assignee_id": None,
                    "bulk_due_on": None,
                },
                **form,
            },
            rows,
            errors,
        )
        for row in rows:
            row["selected"] = False if not errors else row["selected"]
        return _render_form(
            campaign=campaign, form=form, rows=rows, errors=errors, status=422 if errors else 200
        )
    args: dict[str, Any] = {
        "name": form.get("name", ""),
        "kind": form.get("kind"),
        "bureau": form.get("bureau"),
        "starts_on": form.get("starts_on"),
        "ends_on": form.get("ends_on"),
        "notes": form.get("notes"),
        "species_ids": form["species_ids"],
        "units": _unit_args(rows),
    }
    for field in ("kind", "starts_on", "ends_on"):
        if args[field] is None and field not in errors:
            errors[field] = [_("required")]
    if not args["species_ids"] and "add_species" not in errors:
        errors["species_ids"] = [_("choose at least one target species")]
    if not args["name"].strip():
        errors["name"] = [_("give the campaign a name")]
    if campaign is not None and form.get("version"):
        # Two planners at once: saved only over the campaign as this form was opened on it.
        try:
            if form["version"] != services.version_tag(campaign):
                services.refuse_stale(campaign, field="version")
            services.hold_unchanged(campaign, campaign.updated_at, field="version")
        except Conflict as exc:
            db.session.rollback()
            errors = {"version": [exc.message]}
            return _render_form(
                campaign=queries.get_campaign(campaign.id), form=form, rows=rows, errors=errors, status=409
            )
    # The service checks what it can even when the form found problems, so every message shows at once.
    if all(args[f] is not None for f in ("kind", "starts_on", "ends_on")) and args["name"].strip():
        try:
            if campaign is None:
                saved = services.create_campaign(actor=current_user, args=args)
            else:
                saved = services.update_campaign(actor=current_user, campaign=campaign, changes=args)
        except InvalidInput as exc:
            errors.update(
                {k: v for k, v in exc.errors.items() if not (k == "species_ids" and "add_species" in errors)}
            )
        else:
            if not errors:
                flash(_("Campaign %(name)s saved.", name=saved.name), "info")
                return redirect(url_for("surveys.campaign", campaign_id=saved.id))
    db.session.rollback()
    if campaign is not None:
        campaign = queries.get_campaign(campaign.id)
    return _render_form(campaign=campaign, form=form, rows=rows, errors=errors, status=422)


# ---------------------------------------------------------------------------------------------------
# Pages


@bp.route("/campaigns")
@login_required
def campaigns() -> str:
    """Every campaign, the latest first; a planner's "new campaign" button."""
    result = paginate(queries.filtered_campaigns({}), page=page_number(), per_page=PAGE_SIZE)
    return render_template(
        "surveys/campaigns.html",
        page=result,
        page_url=lambda n: url_for("surveys.campaigns", page=n),
        kinds=queries.KIND_LABELS,
        may_plan=policy.manages_campaigns(current_user),
        today=local_today(),
        title=_("Survey campaigns"),
    )


@bp.route("/campaigns/new")
@login_required
@roles_required(*policy.CAMPAIGN_MANAGERS)
def new_campaign() -> tuple[str, int]:
    return _render_form(campaign=None, form={}, rows=[], errors={})


@bp.route("/campaigns/new", methods=["POST"])
@login_required
@roles_required(*policy.CAMPAIGN_MANAGERS)
def create_campaign() -> Any:
    return _post(None)


@bp.route("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int) -> str:
    """A campaign: its plan, its units (assignee, due date, coverage), its coverage section."""
    item = queries.get_campaign(campaign_id)
    units = queries.units_of(item)
    return render_template(
        "surveys/campaign.html",
        campaign=item,
        units=units,
        kinds=queries.KIND_LABELS,
        may_manage=policy.may_manage_campaign(current_user, item),
        today=local_today(),
        title=item.name,
    )


def _managed(campaign_id: int) -> Campaign:
    item = queries.get_campaign(campaign_id)
    if not policy.may_manage_campaign(current_user, item):
        raise PermissionDenied(_("This campaign belongs to another bureau."))
    return item


@bp.route("/campaigns/<int:campaign_id>/edit")
@login_required
@roles_required(*policy.CAMPAIGN_MANAGERS)
def edit_campaign(campaign_id: int) -> tuple[str, int]:
    item = _managed(campaign_id)
    form, rows = _form_from(item)
    return _render_form(campaign=item, form=form, rows=rows, errors={})


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["POST"])
@login_required
@roles_required(*policy.CAMPAIGN_MANAGERS)
def update_campaign(campaign_id: int) -> Any:
    return _post(_managed(campaign_id))


# ---------------------------------------------------------------------------------------------------
# "My survey units" on the home page (app/templates/main/home.html includes surveys/_my_units.html)


@bp.app_template_global()
def my_survey_units() -> list[SurveyUnit]:
    """The signed-in user's units in campaigns that have not ended (queries.my_units)."""
    if not current_user.is_authenticated:
        return []
    return queries.my_units(current_user)


@bp.app_template_global()
def survey_unit_outlines(units: list[SurveyUnit]) -> dict[str, Any]:
    """The units' outlines as GeoJSON, simplified, when boundaries are loaded (else an empty collection):
    drawn inline in the home page so the saved copy shows them with no signal."""
    return queries.unit_outlines(units)
