"""Pages of the exports domain (browser UI): ask for a census workbook, follow it, download it.

Asking goes through the same service as POST /api/v1/exports, which only queues the export: the
scheduler process writes the workbook. While one is queued or running the page reloads itself
(a meta refresh, allowed by the CSP, no script). Downloads use the API's endpoint, which accepts the
session cookie.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import DateField, Field, RadioField, SelectChoice, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app import policy
from app.accounts import services as accounts
from app.accounts.auth import roles_required
from app.accounts.forms import has_errors, show_refusal
from app.accounts.models import Organization
from app.accounts.organizations import acting_ids
from app.api import EARLIEST_DAY, LATEST_DAY
from app.census.scope import DISTRICT
from app.clock import local_today
from app.district.models import Township
from app.district.services import list_townships
from app.errors import InvalidInput, TooLarge
from app.exports import services
from app.exports.imports import ImportReport
from app.exports.layouts import bureaus
from app.exports.models import Export, ExportKind, ExportStatus
from app.extensions import db
from app.observations import review
from app.observations.models import ReviewStatus
from app.species.models import Species
from app.species.services import search_species
from app.surveys.models import Campaign

bp = Blueprint("exports", __name__)

# Service field names → this page's form fields.
EXPORT_FIELDS = {
    "from": "date_from",
    "to": "date_to",
    "species_id": "species",
    "township_code": "township",
    "campaign_id": "campaign",
}
# The review statuses an export may include, in the order the form offers them (labels: the review's own).
INCLUDABLE = (ReviewStatus.VERIFIED, ReviewStatus.SUBMITTED, ReviewStatus.RETURNED, ReviewStatus.REJECTED)
REVIEW_LABELS = {status: review.STATUS_LABELS[status] for status in INCLUDABLE}
KIND_LABELS = {
    ExportKind.CENSUS: _l("Census (all sheets)"),
    ExportKind.CONTROL: _l("Control operations"),
    ExportKind.FOLLOW_UPS: _l("Follow-ups"),
}
STATUS_LABELS = {
    ExportStatus.QUEUED: _l("queued"),
    ExportStatus.RUNNING: _l("running"),
    ExportStatus.DONE: _l("done"),
    ExportStatus.FAILED: _l("failed"),
}
STATUS_BADGES = {
    ExportStatus.QUEUED: "pending",
    ExportStatus.RUNNING: "warn",
    ExportStatus.DONE: "done",
    ExportStatus.FAILED: "failed",
}


def _within_range(form: FlaskForm, field: Field) -> None:
    """The API's bounds for a day (app.api.WorkDay), so the page accepts exactly what the API does."""
    if field.data is not None and not EARLIEST_DAY <= field.data <= LATEST_DAY:
        raise ValidationError(
            _(
                "must be between %(first)s and %(last)s",
                first=EARLIEST_DAY.isoformat(),
                last=LATEST_DAY.isoformat(),
            )
        )


class ExportForm(FlaskForm):
    class Meta:
        csrf = False  # every browser POST is CSRF-checked before any view (app.accounts.auth)

    kind = RadioField(
        _l("Workbook"),
        choices=[SelectChoice(kind.value, str(label)) for kind, label in KIND_LABELS.items()],
        default=ExportKind.CENSUS.value,
        validators=[InputRequired()],
    )
    bureau = SelectField(_l("Bureau"), validators=[InputRequired()])
    date_from = DateField(_l("From"), validators=[Optional(), _within_range])
    date_to = DateField(_l("To (inclusive)"), validators=[Optional(), _within_range])
    species = SelectField(_l("Species"), validators=[Optional()])
    township = SelectField(_l("Township"), validators=[Optional()])
    campaign = SelectField(_l("Survey campaign"), validators=[Optional()])
    statuses = SelectMultipleField(
        _l("Records included"),
        choices=[],  # filled per request, in the reader's language (_export_form)
        default=[ReviewStatus.VERIFIED.value],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
    )


class ImportForm(FlaskForm):
    class Meta:
        csrf = False  # as above

    bureau = SelectField(_l("Template"), validators=[InputRequired()])
    file = FileField(_l("Workbook (.xlsx)"), validators=[FileRequired()])


def _organizations() -> list[Organization]:
    return list(db.session.scalars(accounts.list_organizations()))


def _campaigns() -> list[Campaign]:
    """The survey campaigns an export may name: the caller's bureau's and its units' (an admin's: all)."""
    stmt = sa.select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    ids = acting_ids(current_user)
    if ids is not None:
        stmt = stmt.where(Campaign.organization_id.in_(sorted(ids)))
    return list(db.session.scalars(stmt))


def _export_form(*, submitted: bool = False) -> ExportForm:
    """The export form, read from this request when `submitted`, else blank with today's defaults."""
    form = ExportForm() if submitted else ExportForm(formdata=None)
    form.statuses.choices = [SelectChoice(value.value, str(label)) for value, label in REVIEW_LABELS.items()]
    # Labelled per request, in the reader's language (the class body runs once, at import).
    form.kind.choices = [SelectChoice(kind.value, str(label)) for kind, label in KIND_LABELS.items()]
    if policy.may_export_for(current_user, None):  # the district's census
        form.bureau.choices = [SelectChoice(DISTRICT, _("The whole district (every record once)"))] + [
            SelectChoice(org.code, org.name) for org in _organizations()
        ]
    else:  # a bureau admin exports their own bureau's census, or a unit's under it (docs/contract.md §1)
        own = current_user.organization
        ids = acting_ids(current_user) or frozenset({own.id})
        units = [org for org in _organizations() if org.id in ids and org.id != own.id]
        form.bureau.choices = [SelectChoice(own.code, own.name)] + [
            SelectChoice(org.code, org.name) for org in units
        ]
    species: list[Species] = list(db.session.scalars(search_species()))
    form.species.choices = [SelectChoice("", _("All species"))] + [
        SelectChoice(str(s.id), f"{s.name_zh} {s.name_sci}") for s in species
    ]
    townships: list[Township] = list(db.session.scalars(list_townships()))
    form.township.choices = [SelectChoice("", _("All townships"))] + [
        SelectChoice(t.code, t.name_zh) for t in townships
    ]
    form.campaign.choices = [SelectChoice("", _("All records (no campaign)"))] + [
        SelectChoice(str(c.id), c.name) for c in _campaigns()
    ]
    if not submitted:
        today = local_today()
        form.bureau.data = current_user.organization.code
        form.date_from.data = date(today.year, 1, 1)
        form.date_to.data = today
        form.statuses.data = [ReviewStatus.VERIFIED.value]
    return form


def _import_form(*, submitted: bool = False) -> ImportForm:
    form = ImportForm(prefix="import") if submitted else ImportForm(prefix="import", formdata=None)
    names = {org.code: org.name for org in _organizations()}
    form.bureau.choices = [SelectChoice(code, names.get(code, code)) for code in bureaus()]
    if not submitted and current_user.organization.code in bureaus():
        form.bureau.data = current_user.organization.code
    return form


def _page(
    export_form: ExportForm,
    import_form: ImportForm,
    status: int = 200,
    report: ImportReport | None = None,
) -> tuple[str, int]:
    exports = services.recent_exports(current_user)
    in_progress = any(e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports)
    page = render_template(
        "exports/index.html",
        form=export_form,
        import_form=import_form,
        exports=exports,
        downloads={e.id: _download_url(e) for e in exports},
        refresh=in_progress,
        report=report,
        bureau_fixed=len(export_form.bureau.choices) == 1,
        district_label=_("The whole district (every record once)"),
        kinds=KIND_LABELS,
        bureau_names={org.code: org.name for org in _organizations()},
        statuses=STATUS_LABELS,
        badges=STATUS_BADGES,
        title=_("Exports"),
    )
    return page, status


def _download_url(export: Export) -> str | None:
    if export.status != ExportStatus.DONE or not export.file_key:
        return None
    return url_for("Exports.ExportDownload", export_id=export.id)


@bp.route("/exports", methods=["GET"])
@login_required
@roles_required(*policy.EXPORTERS)
def index() -> tuple[str, int]:
    return _page(_export_form(), _import_form())


@bp.route("/exports", methods=["POST"])
@login_required
@roles_required(*policy.EXPORTERS)
def create() -> Response | tuple[str, int]:
    form = _export_form(submitted=True)
    if form.validate_on_submit():
        filters: dict[str, Any] = {}
        if form.species.data:
            filters["species_id"] = int(form.species.data)
        if form.township.data:
            filters["township_code"] = form.township.data
        if form.campaign.data:
            filters["campaign_id"] = int(form.campaign.data)
        try:
            export = services.request_export(
                actor=current_user,
                kind=ExportKind(form.kind.data),
                bureau=form.bureau.data or "",
                date_from=form.date_from.data,
                date_to=form.date_to.data,
                filters=filters,
                statuses=form.statuses.data or None,
            )
        except InvalidInput as exc:
            show_refusal(form, exc, EXPORT_FIELDS)  # a 422 answer: nothing of it is kept
        else:
            flash(
                _(
                    "Export %(id)s is queued; this page shows its progress and then its download link.",
                    id=export.id,
                ),
                "info",
            )
            return redirect(url_for("exports.index"))
    return _page(form, _import_form(), 422 if has_errors(form) else 200)


@bp.route("/exports/import", methods=["POST"])
@login_required
@roles_required(*policy.EXPORTERS)
def import_census() -> tuple[str, int]:
    form = _import_form(submitted=True)
    if form.validate_on_submit():
        upload = form.file.data
        try:
            report = services.import_census_upload(
                io.BytesIO(upload.read()),
                filename=upload.filename,
                actor=current_user,
                bureau=form.bureau.data or "",
            )
        except (InvalidInput, TooLarge) as exc:
            # A 4xx answer: the unit of work drops the rows imported before the reader gave up.
            show_refusal(form, exc)
            return _page(_export_form(), form, exc.status_code)
        return _page(_export_form(), _import_form(), report=report)
    return _page(_export_form(), form, 422 if has_errors(form) else 200)
