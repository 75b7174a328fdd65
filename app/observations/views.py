"""Pages for observations: capture (works offline), my records, one record, the review queue."""

from __future__ import annotations

import math
import uuid
from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import metrics, pages, policy
from app.district.services import list_townships
from app.errors import Conflict, FieldErrors, InvalidInput, ServiceError
from app.extensions import db
from app.messages import invalid_fields_message
from app.observations import review as reviewing
from app.observations import services
from app.observations.checks import AREA_MISMATCH_RATIO
from app.observations.models import Flag, Observation, PositionSource, ReviewStatus
from app.observations.schemas import (
    ObservationUpdateArgs,
    RecordEditArgs,
    RecordEditForm,
    RecordFilterArgs,
    ReviewForm,
)
from app.paging import PAGE_SIZE, Page, empty, page_links, page_number, paginate
from app.species.services import list_habitats, search_species
from app.units import mu_exact

bp = Blueprint("observations", __name__)


@bp.context_processor
def _review_form_ids() -> dict[str, Any]:
    """Each review form gets its own id (a second tap on it, or a retry, is then the same review)."""
    return {"new_review_uuid": lambda: str(uuid.uuid4())}


@bp.route("/observations/new")
@login_required
def new() -> str:
    """The capture form. Everything it needs comes from the cached field data, so it opens offline."""
    return render_template("observations/new.html", title=_("New record"))


# ---------------------------------------------------------------------------------------------
# Records, one record, editing, the review queue

FLAG_LABELS = {
    Flag.LOW_ACCURACY: _l("low GPS accuracy"),
    Flag.PHOTO_GPS_FAR: _l("photo taken elsewhere"),
    Flag.POSSIBLE_DUPLICATE: _l("possible duplicate"),
    Flag.TOWNSHIP_MISMATCH: _l("township mismatch"),
    Flag.VILLAGE_MISMATCH: _l("village mismatch"),
    Flag.AREA_MISMATCH: _l("area mismatch"),
    Flag.SITE_TOWNSHIP_MISMATCH: _l("township differs from the site's"),
}
POSITION_SOURCES = {
    PositionSource.GPS: _l("the phone's GPS"),
    PositionSource.EXIF: _l("a photo's GPS (EXIF)"),
    PositionSource.MAP: _l("picked on the map"),
    PositionSource.TYPED: _l("typed coordinates"),
}
HISTORY_STEPS = {
    "recorded": _l("Recorded"),
    "resubmitted": _l("Edited and sent for review again"),
    **{status.value: label for status, label in reviewing.STATUS_LABELS.items()},
}


def _flag_help(observation: Observation) -> list[tuple[Flag, str]]:
    """Each flag in words, with the numbers behind it, so a reader knows what to look at."""
    config = current_app.config
    site_township = observation.site.township if observation.site else None
    explained = {
        Flag.LOW_ACCURACY: _(
            "The GPS fix was worse than %(limit)s m (%(accuracy)s m): the point may be off.",
            limit=f"{config['IAS_GPS_ACCURACY_LIMIT_M']:g}",
            accuracy=f"{observation.accuracy_m or 0:g}",
        ),
        Flag.PHOTO_GPS_FAR: _(
            "A photo's own GPS position is more than %(limit)s m from the recorded point.",
            limit=f"{config['IAS_PHOTO_GPS_MAX_DISTANCE_M']:g}",
        ),
        Flag.POSSIBLE_DUPLICATE: _(
            "Probably the same finding as an earlier record: same species, within %(metres)s m and "
            "%(hours)s hours.",
            metres=f"{config['IAS_DUPLICATE_RADIUS_M']:g}",
            hours=f"{config['IAS_DUPLICATE_HOURS']:g}",
        ),
        Flag.TOWNSHIP_MISMATCH: _("The point lies outside the township chosen for it."),
        Flag.VILLAGE_MISMATCH: _("The point lies outside the village chosen for it."),
        Flag.AREA_MISMATCH: _(
            "The typed area (%(typed)s 亩) differs from the drawn outline's (%(drawn)s 亩) by more than "
            "%(percent)s %%: one of them may be wrong.",
            typed=f"{mu_exact(observation.area_m2 or 0):.2f}",
            drawn=f"{mu_exact(observation.geometry_area_m2 or 0):.2f}",
            percent=f"{AREA_MISMATCH_RATIO * 100:g}",
        ),
        Flag.SITE_TOWNSHIP_MISMATCH: _(
            "The township chosen (%(chosen)s) is not that of the site the record joined (%(site)s, set by "
            "the record that opened it): one of them was probably picked wrong.",
            chosen=observation.township.name_zh if observation.township else "—",
            site=site_township.name_zh if site_township else "—",
        ),
    }
    return [(row.flag, explained[row.flag]) for row in sorted(observation.flag_rows, key=lambda r: r.flag)]


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("title", _("Records"))
    page = render_template(
        template,
        status_labels=reviewing.STATUS_LABELS,
        flag_labels=FLAG_LABELS,
        **context,
    )
    return page, status


@bp.route("/observations")
@login_required
def records() -> tuple[str, int]:
    """The signed-in user's records (desk roles: the district's with ?scope=all), newest first."""
    args, errors = pages.read(RecordFilterArgs)
    district = args.get("scope") == "all" and policy.may_widen_records(current_user)
    filters: dict[str, Any] = {} if district else {"surveyor_id": current_user.id}
    filters |= {name: args[name] for name in ("status", "species_id") if name in args}
    if args.get("township_code"):
        filters["township_code"] = args["township_code"].strip()[:50]
    result: Page = empty(PAGE_SIZE)
    if not errors:
        try:
            result = paginate(services.filtered(filters), page=args["page"], per_page=PAGE_SIZE)
        except InvalidInput as exc:
            errors.update(exc.errors)
    return _render(
        "observations/records.html",
        422 if errors else 200,
        page=result,
        page_url=page_links(args, RecordFilterArgs),
        args=args,
        filtered=bool(errors) or any(name != "page" for name in args),
        errors=errors,
        district=district,
        may_widen=policy.may_widen_records(current_user),
        statuses=list(ReviewStatus),
        species=db.session.scalars(search_species()).all(),
        townships=db.session.scalars(list_townships()).all(),
    )


@bp.route("/observations/<int:observation_id>")
@login_required
def detail(observation_id: int) -> tuple[str, int]:
    """Everything about one record, and why it was returned or rejected (the review history)."""
    observation = services.get_observation(observation_id)
    return _render(
        "observations/detail.html",
        o=observation,
        title=observation.species.name_zh,
        flag_help=_flag_help(observation),
        position_sources=POSITION_SOURCES,
        history=reviewing.review_history(observation),
        history_steps=HISTORY_STEPS,
        may_edit=policy.may_edit_record(current_user, observation)
        and observation.status in reviewing.EDITABLE,
        may_review=reviewing.can_review(current_user, observation),
    )


# The edit form: input name → (service field, species metric or None, number kind), from app/metrics.py.
NUMBER_INPUTS: dict[str, tuple[str, str | None, type[int] | type[float]]] = {
    **{m.input_name: (m.field, m.key, int if m.integer else float) for m in metrics.METRICS},
    "severity": ("severity", None, int),
}
METRIC_INPUTS = {m.input_name: m for m in metrics.METRICS}
METRIC_LABELS = {m.input_name: m.label for m in metrics.METRICS}
TEXT_INPUTS = ("place_name", "habitat", "notes")


def _number_text(value: float | None) -> str:
    return "" if value is None else f"{round(value, 4):f}".rstrip("0").rstrip(".")


def _form_values(observation: Observation) -> dict[str, str]:
    """What the edit form shows for the stored record (area in 亩, as people measure it)."""
    values = {"detected": "1" if observation.detected else "0"}
    for metric in metrics.METRICS:
        value = getattr(observation, metric.field)
        if value is None or not metric.integer:
            values[metric.input_name] = _number_text(None if value is None else metric.to_input(value))
        else:
            values[metric.input_name] = str(value)
    return values | {
        "severity": "" if observation.severity is None else str(observation.severity),
        "place_name": observation.place_name or "",
        "habitat": observation.habitat.code if observation.habitat else "",
        "notes": observation.notes or "",
    }


def _record_for_form(observation: Observation) -> dict[str, Any]:
    """The stored record as the capture form fills itself (the API's field names), for the full edit form."""
    return {
        "species_id": observation.species_id,
        "detected": observation.detected,
        "observed_at": observation.observed_at.isoformat(),
        "latitude": observation.latitude,
        "longitude": observation.longitude,
        "accuracy_m": observation.accuracy_m,
        "altitude_m": observation.altitude_m,
        "position_source": observation.position_source.value,
        "township_code": observation.township.code if observation.township else None,
        "village_code": observation.village.code if observation.village else None,
        "place_name": observation.place_name,
        "habitat": observation.habitat.code if observation.habitat else None,
        "notes": observation.notes,
        **{metric.field: getattr(observation, metric.field) for metric in metrics.METRICS},
        "severity": observation.severity,
        "geometry": observation.geometry,  # the area outline, shown and redrawn in the area tool
    }


def _metric_inputs(observation: Observation, values: dict[str, str]) -> list[str]:
    """The species' metrics, and any other that holds a value (so it can be cleared)."""
    metrics = set(observation.species.metrics)
    return [
        name
        for name, (_field, metric, _kind) in NUMBER_INPUTS.items()
        if metric is not None and (metric in metrics or values.get(name))
    ]


def _changes(submitted: dict[str, str], stored: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    """The fields the surveyor changed, as the API's PATCH would carry them, checked by its schema."""
    changes: dict[str, Any] = {}
    errors: FieldErrors = {}
    for name, text in submitted.items():
        if text == stored[name]:
            continue  # untouched: a number shown rounded must not be "changed" to its rounding
        if name == "detected":
            if text not in ("0", "1"):
                errors[name] = [_("Choose found or not found.")]
            changes["detected"] = text == "1"
        elif name in NUMBER_INPUTS:
            field, _metric, kind = NUMBER_INPUTS[name]
            try:
                number = None if text == "" else kind(text)
            except ValueError:
                errors[name] = [_("Enter a whole number.") if kind is int else _("Enter a number.")]
                continue
            if number is not None and not math.isfinite(number):
                errors[name] = [_("Enter a number.")]
                continue
            if name in METRIC_INPUTS and number is not None:
                number = METRIC_INPUTS[name].from_input(number)  # an area typed in 亩, stored in m²
            changes[field] = number
        else:
            changes[name] = text or None
    if not errors:
        try:
            ObservationUpdateArgs().load(changes)
        except ma.ValidationError as exc:
            errors.update(_schema_errors(exc.messages if isinstance(exc.messages, dict) else {}))
    return changes, errors


def _schema_errors(messages: dict[str, Any]) -> FieldErrors:
    """The schema's range errors in the reader's language and the form's units (area in 亩)."""
    fields = ObservationUpdateArgs().fields
    errors: dict[str, Any] = {}
    for field, found in messages.items():
        schema_field = fields.get(field)
        ranges = [v for v in getattr(schema_field, "validators", []) if isinstance(v, ma.validate.Range)]
        if not ranges or ranges[0].min is None or ranges[0].max is None:
            errors[field] = found
            continue
        scale = 1 / metrics.BY_FIELD[field].scale if field in metrics.BY_FIELD else 1
        low, high = ranges[0].min * scale, ranges[0].max * scale
        errors[field] = [_("must be between %(min)s and %(max)s.", min=f"{low:.10g}", max=f"{high:.10g}")]
    return _by_input(errors)


def _by_input(errors: dict[str, Any]) -> FieldErrors:
    """Service and schema errors under the form's input names."""
    inputs = {field: name for name, (field, _metric, _kind) in NUMBER_INPUTS.items()}
    return {
        inputs.get(field, field): [str(m) for m in (messages if isinstance(messages, list) else [messages])]
        for field, messages in errors.items()
    }


@bp.route("/observations/<int:observation_id>/edit", methods=["GET", "POST"])
@login_required
def edit(observation_id: int) -> tuple[str, int] | Response:
    """The surveyor corrects a record awaiting review; saving a returned record sends it back."""
    observation = services.get_observation(observation_id)
    try:
        reviewing.check_editable(actor=current_user, observation=observation)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for(".detail", observation_id=observation_id))
    if request.method == "GET" and not pages.load(RecordEditArgs).get("quick"):
        return _render(
            "observations/edit_full.html",
            200,
            o=observation,
            title=_("Edit record"),
            record=_record_for_form(observation),
        )
    stored = _form_values(observation)
    values, message = stored, None
    errors: FieldErrors = {}
    if request.method == "POST":
        sent, errors = pages.read(RecordEditForm, location="form_with_blanks")
        sent = {k: v.strip() for k, v in sent.items() if k in stored}
        values = {**stored, **sent}
        changes: dict[str, Any] = {}
        if not errors:
            changes, errors = _changes(sent, stored)
        if errors:
            message = invalid_fields_message(errors)
        else:
            try:
                services.update_observation(actor=current_user, observation=observation, changes=changes)
            except InvalidInput as exc:
                db.session.rollback()
                errors, message = _by_input(exc.errors), exc.message
            else:
                flash(_("Saved. The record is waiting for review."), "info")
                return redirect(url_for(".detail", observation_id=observation_id))
    return _render(
        "observations/edit.html",
        422 if errors else 200,
        o=observation,
        title=_("Edit record"),
        values=values,
        errors=errors,
        message=message,
        metric_inputs=_metric_inputs(observation, values),
        metric_labels=METRIC_LABELS,
        habitats=list_habitats(),
    )


@bp.route("/review")
@login_required
def review_queue() -> tuple[str, int]:
    """Records of the organizations the verifier acts for (a bureau: its units too; admin: all)
    waiting for review, longest waiting first."""
    stmt = reviewing.review_queue(current_user)
    return _render(
        "observations/review_queue.html",
        title=_("Review"),
        page=paginate(stmt, page=page_number(), per_page=PAGE_SIZE),
        page_url=page_links(),
    )


@bp.route("/observations/<int:observation_id>/review", methods=["POST"])
@login_required
def review(observation_id: int) -> Response:
    """Verify, return or reject (the API's rules); back to where the form was, with what happened."""
    args, errors = pages.read(ReviewForm, location="form")
    back = args.get("next") or url_for(".review_queue")
    if "next" in errors:  # another site's page: said, and the review goes on (back to the queue)
        flash(pages.describe({"next": errors.pop("next")}), "error")
    if errors:
        if "decision" in errors:
            flash(_("Choose verified, returned or rejected."), "error")
        elif "client_uuid" in errors:
            flash(_("The form was damaged: open the record and review it again."), "error")
        else:
            flash(_("The comment is too long: at most 2000 characters."), "error")
        return redirect(back)
    try:
        reviewing.review_observation(
            actor=current_user,
            observation=services.get_observation(observation_id),
            decision=args["decision"],
            comment=args.get("comment"),
            client_uuid=args.get("client_uuid"),
        )
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(
        _(
            "Record %(id)s: %(decision)s.",
            id=observation_id,
            decision=reviewing.STATUS_LABELS[args["decision"]],
        ),
        "info",
    )
    return redirect(back)
