"""Survey pages: the plot form on the phone (from a site's page, or a campaign's) and a plot's page
(docs/surveys.md, Plots). The form saves to the phone's outbox and sends to POST /api/v1/plots."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import marshmallow as ma
import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import pages
from app.clock import local_today, local_zone
from app.errors import FieldErrors, InvalidInput
from app.extensions import db
from app.messages import translated
from app.sites import services as sites
from app.species.models import Habitat
from app.species.name_import import resolve_name
from app.surveys import plot_checks, plots
from app.surveys.campaign_queries import filtered_campaigns, takes_part
from app.surveys.models import Campaign, Plot, PlotShape
from app.surveys.plot_figures import figures_of
from app.surveys.schemas.plots import (
    DENSITY_AGAINST_COUNT,
    MAX_QUADRATS,
    MAX_SPECIES_PER_QUADRAT,
    PlotFormArgs,
    PlotUpdateArgs,
    flatten_errors,
)
from app.surveys.views import bp

SHAPE_LABELS = {
    PlotShape.SQUARE: _l("Square"),
    PlotShape.RECTANGLE: _l("Rectangle"),
    PlotShape.CIRCLE: _l("Circle"),
    PlotShape.STRIP: _l("Strip (belt transect)"),
}


def _campaign_arg() -> Campaign | None:
    """?campaign_id= from a campaign's page: chosen in the form when the user takes part in it.
    A malformed id is a 422 page naming the field; a campaign unknown or not the user's leaves the
    form without it and says so (one message for both, so that it tells nothing of others' campaigns),
    rather than let the surveyor believe the plot counts for it."""
    campaign_id = pages.load(PlotFormArgs).get("campaign_id")
    if campaign_id is None:
        return None
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is not None and plot_checks.may_survey_for(current_user, campaign):
        return campaign
    flash(_("You do not survey for that campaign: the plot is laid without it."), "error")
    return None


# The running campaigns a plot form offers (the latest first): enough for any bureau's season.
CAMPAIGN_CHOICES = 50


def _running_campaigns() -> list[Campaign]:
    """The campaigns running today that the user takes part in: the form offers them."""
    stmt = filtered_campaigns({"active_on": local_today()}).limit(CAMPAIGN_CHOICES)
    running = cast("list[Campaign]", list(db.session.scalars(stmt).unique()))
    return [c for c in running if takes_part(current_user, c)]


@bp.route("/sites/<int:site_id>/plots/new")
@login_required
def new_plot(site_id: int) -> str:
    """The plot form: size, shape and habitat, then the quadrats one by one with each species' figures."""
    site = sites.get_site(site_id)
    return render_template(
        "surveys/plot_new.html",
        site=site,
        campaign=_campaign_arg(),
        campaigns=_running_campaigns(),
        shapes=[(shape.value, str(label)) for shape, label in SHAPE_LABELS.items()],
        max_quadrats=MAX_QUADRATS,
        max_species=MAX_SPECIES_PER_QUADRAT,
        density_against_count=str(DENSITY_AGAINST_COUNT),  # filled in by the form (plot.js)
        title=_("Lay a plot"),
    )


@bp.route("/plots/<int:plot_id>")
@login_required
def plot_detail(plot_id: int) -> str:
    """A plot: its size, quadrats, figures per species and photos."""
    plot = plots.get_plot(plot_id)
    return render_template(
        "surveys/plot_detail.html",
        plot=plot,
        figures=figures_of(plot),
        shape_label=SHAPE_LABELS[plot.shape],
        may_edit=plots.may_edit(current_user, plot),
        title=_("Plot %(id)s", id=plot.id),
    )


# ---------------------------------------------------------------------------------------------------
# Editing a plot already sent (docs/surveys.md, Plots: "Editing on a page"): a plain form, no script
# needed, posting the whole plot; checked by PATCH /api/v1/plots/{id}'s schema and service, so the rules
# and the fields named are the same. Blank rows are left out; a quadrat or a species ticked "remove" goes.

RECORD_INPUTS = ("cover_pct", "density_per_m2", "height_cm", "count")
PLOT_INPUTS = ("surveyed_at", "shape", "length_m", "width_m", "radius_m", "area_m2", "habitat", "notes")
BLANK_QUADRATS = 1  # blank quadrat rows offered under the plot's (more: "save and add rows")
# The rows a form can hold: the plot's quadrats, the blank ones offered, and a blank species row each.
MAX_QUADRAT_ROWS = MAX_QUADRATS + BLANK_QUADRATS + 1
MAX_RECORD_ROWS = MAX_SPECIES_PER_QUADRAT + 2
ROW = re.compile(r"^quadrats-(\d{1,4})-(?:records-(\d{1,4})-)?(\w+)$")
QUADRAT_FIELDS = ("number", "size_m2", "notes", "remove", "new")
RECORD_FIELDS = ("species", *RECORD_INPUTS, "remove")


class PlotEditForm(ma.Schema):
    """The edit form's plot fields (read by app/pages.py), as typed: the API's schema checks them
    (PlotUpdateArgs), so that a page post meets the same rules and messages as a PATCH."""

    action = ma.fields.String(load_default="save")
    surveyed_at = ma.fields.String(load_default="")
    shape = ma.fields.String(load_default="")
    length_m = ma.fields.String(load_default="")
    width_m = ma.fields.String(load_default="")
    radius_m = ma.fields.String(load_default="")
    area_m2 = ma.fields.String(load_default="")
    habitat = ma.fields.String(load_default="")
    notes = ma.fields.String(load_default="")

    @ma.post_load
    def _stripped(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {name: value.strip() for name, value in data.items()}


class RecordRowForm(ma.Schema):
    """One species row of a quadrat, as typed (a ticked box sends "1"; any value ticks it)."""

    species = ma.fields.String(load_default="")
    cover_pct = ma.fields.String(load_default="")
    density_per_m2 = ma.fields.String(load_default="")
    height_cm = ma.fields.String(load_default="")
    count = ma.fields.String(load_default="")
    remove = pages.Ticked(load_default=False)


class QuadratRowForm(ma.Schema):
    number = ma.fields.String(load_default="")
    size_m2 = ma.fields.String(load_default="")
    notes = ma.fields.String(load_default="")
    remove = pages.Ticked(load_default=False)
    new = pages.Ticked(load_default=False)  # a row the page offered blank (a hidden input says so)
    records = ma.fields.List(ma.fields.Nested(RecordRowForm), load_default=list)


def _grouped(data: Any) -> list[dict[str, Any]]:
    """`quadrats-<i>-<field>` and `quadrats-<i>-records-<j>-<field>` inputs as quadrat rows in the order
    of i, each with its species rows in the order of j (renumbered from 0, as the form draws them
    again); inputs past the rows a form holds, or of no field of a row, are ignored."""
    quadrats: dict[int, dict[str, Any]] = {}
    for key in data:
        match = ROW.match(key)
        if not match or int(match[1]) >= MAX_QUADRAT_ROWS:
            continue
        row = quadrats.setdefault(int(match[1]), {"records": {}})
        value = str(data[key]).strip()
        if match[2] is None and match[3] in QUADRAT_FIELDS:
            row[match[3]] = value
        elif match[2] is not None and int(match[2]) < MAX_RECORD_ROWS and match[3] in RECORD_FIELDS:
            row["records"].setdefault(int(match[2]), {})[match[3]] = value
    return [
        {**row, "records": [record for _j, record in sorted(row["records"].items())]}
        for _i, row in sorted(quadrats.items())
    ]


class QuadratRowsForm(ma.Schema):
    """The edit form's quadrat rows (read by app/pages.py with the blanks kept, so that a row left blank
    is drawn again as it was): `quadrats` in their order, each with its species rows. Every value is
    text as typed; the API's schema types and checks them, and names a bad one by its path, which
    `_form_name` turns back into the row's input (`quadrats-2-records-0-cover_pct`)."""

    quadrats = ma.fields.List(ma.fields.Nested(QuadratRowForm), load_default=list)

    @ma.pre_load
    def _rows(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        return {"quadrats": _grouped(data)}


def _number(text: str, *, whole: bool = False) -> Any:
    """A typed number: None when blank; as typed when not a number, so the schema names the field."""
    if not text:
        return None
    try:
        return int(text) if whole else float(text)
    except ValueError:
        return text


@dataclass
class _Rows:
    """The form's rows as typed, and which row each entry of the API body came from."""

    quadrats: list[dict[str, Any]]  # each: number, size_m2, notes, remove, new, records: [{species, ...}]
    body: list[dict[str, Any]]
    origin: list[tuple[int, list[int]]]  # body quadrat k → (form row, [form record row per body record])


def _body_of(rows: list[dict[str, Any]], errors: FieldErrors, own: dict[str, int] | None = None) -> _Rows:
    """The API body of the rows typed (the species named resolved), left out: removed rows and those
    left blank. `own`: the plot's own species by name, found first (one retired from the registry since
    is no longer found by name, but the plot keeps it, as the API does)."""
    body: list[dict[str, Any]] = []
    origin: list[tuple[int, list[int]]] = []
    for qi, row in enumerate(rows):
        records_body: list[dict[str, Any]] = []
        record_rows: list[int] = []
        for rj, record in enumerate(row["records"]):
            if record["remove"] or not (record["species"] or any(record[n] for n in RECORD_INPUTS)):
                continue
            name = f"quadrats-{qi}-records-{rj}-species"
            species_id = None
            if not record["species"]:
                errors[name] = [_("choose the species")]
            else:
                species_id = (own or {}).get(" ".join(record["species"].split()).lower())
                try:
                    species_id = species_id or resolve_name(record["species"], name).id
                except InvalidInput as exc:
                    errors.update(exc.errors)
            records_body.append(
                {
                    "species_id": species_id or 0,
                    **{n: _number(record[n], whole=n == "count") for n in RECORD_INPUTS},
                }
            )
            record_rows.append(rj)
        # A new row left as offered (its number and size filled in for convenience) is not a quadrat.
        blank = row["new"] and not (row["notes"] or records_body)
        if row["remove"] or blank:
            continue
        body.append(
            {
                "number": _number(row["number"], whole=True),
                "size_m2": _number(row["size_m2"]),
                "notes": row["notes"] or None,
                "records": records_body,
            }
        )
        origin.append((qi, record_rows))
    return _Rows(rows, body, origin)


def _form_name(path: str, origin: list[tuple[int, list[int]]]) -> str:
    """An API path (quadrats.2.records.1.cover_pct) as the form's input name (quadrats-3-records-0-…)."""
    parts = path.split(".")
    if len(parts) >= 3 and parts[0] == "quadrats" and parts[1].isdigit() and int(parts[1]) < len(origin):
        qi, record_rows = origin[int(parts[1])]
        rest = parts[2:]
        if len(rest) >= 3 and rest[0] == "records" and rest[1].isdigit() and int(rest[1]) < len(record_rows):
            field = "species" if rest[2] == "species_id" else rest[2]
            return f"quadrats-{qi}-records-{record_rows[int(rest[1])]}-{field}"
        return f"quadrats-{qi}-{'-'.join(rest)}"
    return path


def _rows_of(plot: Plot) -> list[dict[str, Any]]:
    return [
        {
            "number": str(q.number),
            "size_m2": f"{q.size_m2:g}",
            "notes": q.notes or "",
            "remove": False,
            "new": False,
            "records": [
                {
                    "species": r.species.name_zh,
                    "remove": False,
                    **{n: "" if getattr(r, n) is None else f"{getattr(r, n):g}" for n in RECORD_INPUTS},
                }
                for r in q.records
            ],
        }
        for q in plot.quadrats
    ]


def _with_blanks(rows: list[dict[str, Any]], quadrats: int = BLANK_QUADRATS) -> list[dict[str, Any]]:
    blank_record = {"species": "", "remove": False, **{n: "" for n in RECORD_INPUTS}}
    for row in rows:
        row["records"].append(dict(blank_record))
    numbers = [int(r["number"]) for r in rows if r["number"].isdigit()]
    for i in range(quadrats):
        size = rows[-1]["size_m2"] if rows else "1"
        rows.append(
            {
                "number": str(max(numbers, default=0) + 1 + i),
                "size_m2": size,
                "notes": "",
                "remove": False,
                "records": [dict(blank_record)],
                "new": True,
            }
        )
    return rows


def _plot_fields_of(plot: Plot) -> dict[str, str]:
    def num(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    irregular = plot.length_m is None and plot.width_m is None and plot.radius_m is None
    return {
        "surveyed_at": plot.surveyed_at.astimezone(local_zone()).strftime("%Y-%m-%dT%H:%M"),
        "shape": plot.shape.value,
        "length_m": num(plot.length_m),
        "width_m": "" if plot.shape is PlotShape.SQUARE else num(plot.width_m),  # a square's is its length
        "radius_m": num(plot.radius_m),
        "area_m2": num(plot.area_m2) if irregular else "",
        "habitat": plot.habitat.code if plot.habitat else "",
        "notes": plot.notes or "",
    }


def _render_edit(
    plot: Plot, fields: dict[str, str], rows: list[dict[str, Any]], errors: FieldErrors, status: int = 200
) -> tuple[str, int]:
    known = {plot.site.species_id: plot.site.species}
    for q in plot.quadrats:
        for r in q.records:
            known[r.species_id] = r.species
    if plot.campaign is not None:
        for s in plot.campaign.species:
            known[s.id] = s
    # The plot's own habitat is offered even when retired since: not offered, the form would save the
    # site's in its place without a word.
    own_habitat = plot.habitat.id if plot.habitat is not None else 0
    habitats = db.session.scalars(
        sa.select(Habitat)
        .where(sa.or_(Habitat.retired.is_(False), Habitat.id == own_habitat))
        .order_by(Habitat.position, Habitat.id)
    )
    return (
        render_template(
            "surveys/plot_edit.html",
            plot=plot,
            fields=fields,
            rows=rows,
            errors=errors,
            shapes=[(shape.value, str(label)) for shape, label in SHAPE_LABELS.items()],
            habitats=list(habitats),
            species_choices=sorted(known.values(), key=lambda s: s.name_zh),
            record_inputs=RECORD_INPUTS,
            title=_("Edit plot %(id)s", id=plot.id),
        ),
        status,
    )


def _editable(plot_id: int) -> Plot:
    plot = plots.get_plot(plot_id)
    plots.check_editable(current_user, plot)
    return plot


@bp.route("/plots/<int:plot_id>/edit")
@login_required
def edit_plot(plot_id: int) -> tuple[str, int]:
    """The plot's edit page: its size, shape, habitat, quadrats and their species' figures."""
    plot = _editable(plot_id)
    return _render_edit(plot, _plot_fields_of(plot), _with_blanks(_rows_of(plot)), {})


@bp.route("/plots/<int:plot_id>/edit", methods=["POST"])
@login_required
def save_plot(plot_id: int) -> Any:
    plot = _editable(plot_id)
    sent = pages.load(PlotEditForm, location="form_with_blanks")
    fields = {name: sent[name] for name in PLOT_INPUTS}
    errors: FieldErrors = {}
    own = {
        name.lower(): r.species_id
        for q in plot.quadrats
        for r in q.records
        for name in (r.species.name_zh, r.species.name_sci)
        if r.species.retired_on is not None
    }
    rows = _body_of(pages.load(QuadratRowsForm, location="form_with_blanks")["quadrats"], errors, own)
    if sent["action"] == "more":
        kept = [
            r
            for r in rows.quadrats
            if not r["remove"]
            and not (r["new"] and not r["notes"] and not any(x["species"] for x in r["records"]))
        ]
        for r in kept:
            r["records"] = [
                x
                for x in r["records"]
                if not x["remove"] and (x["species"] or any(x[n] for n in RECORD_INPUTS))
            ]
        return _render_edit(plot, fields, _with_blanks(kept), errors, 422 if errors else 200)
    raw: dict[str, Any] = {
        "surveyed_at": fields["surveyed_at"] or None,
        "shape": fields["shape"] or None,
        "length_m": _number(fields["length_m"]),
        "width_m": _number(fields["width_m"]),
        "radius_m": _number(fields["radius_m"]),
        "area_m2": _number(fields["area_m2"]),
        "habitat": fields["habitat"] or None,
        "notes": fields["notes"] or None,
        "quadrats": rows.body,
    }
    if raw["surveyed_at"] is None:
        errors["surveyed_at"] = [_("required")]
    if raw["shape"] is None:
        errors["shape"] = [_("required")]
    changes: dict[str, Any] | None = None
    try:
        changes = PlotUpdateArgs(
            more_checks=lambda values, faulted: plots.edit_faults(current_user, plot, values, faulted)
        ).load({k: v for k, v in raw.items() if v is not None or k not in ("surveyed_at", "shape")})
    except ma.ValidationError as exc:
        for path, messages in flatten_errors(exc.messages).items():
            errors.setdefault(_form_name(path, rows.origin), []).extend(translated(m) for m in messages)
    if changes is not None and not errors:
        try:
            plots.update_plot(actor=current_user, plot=plot, changes=changes)
        except InvalidInput as exc:
            for path, messages in exc.errors.items():
                errors.setdefault(_form_name(path, rows.origin), []).extend(messages)
        else:
            flash(_("Plot %(id)s saved.", id=plot.id), "info")
            return redirect(url_for("surveys.plot_detail", plot_id=plot.id))
    db.session.rollback()
    return _render_edit(plots.get_plot(plot_id), fields, rows.quadrats, errors, 422)
