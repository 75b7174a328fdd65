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

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import pages, policy
from app.accounts import services as accounts
from app.accounts.auth import roles_required
from app.accounts.models import Organization
from app.accounts.organizations import acting_ids
from app.api import EARLIEST_DAY, LATEST_DAY
from app.census.scope import DISTRICT
from app.clock import local_today
from app.district.models import Township
from app.district.services import list_townships
from app.errors import FieldErrors, InvalidInput, TooLarge
from app.exports import services
from app.exports.import_report import ImportReport
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
# The export form's fields, as the page labels them.
FORM_LABELS = {
    "kind": _l("Workbook"),
    "bureau": _l("Bureau"),
    "date_from": _l("From"),
    "date_to": _l("To (inclusive)"),
    "species": _l("Species"),
    "township": _l("Township"),
    "campaign": _l("Survey campaign"),
    "statuses": _l("Records included"),
}
# The import form's: its inputs are named `import-…` (the page holds two forms).
IMPORT_LABELS = {"import-bureau": _l("Template"), "import-file": _l("Workbook (.xlsx)")}
IMPORT_FIELDS = {"bureau": "import-bureau", "file": "import-file"}  # service field → input
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


def _within_range(day: date) -> None:
    """The API's bounds for a day (app.api.WorkDay), so the page accepts exactly what the API does."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ma.ValidationError(
            _(
                "must be between %(first)s and %(last)s",
                first=EARLIEST_DAY.isoformat(),
                last=LATEST_DAY.isoformat(),
            )
        )


class Statuses(pages.OneOf):
    """Each review status ticked is one the form offered."""

    def __call__(self, value: Any) -> Any:
        for status in value:
            if status not in self.choices:
                raise ma.ValidationError(_("'%(value)s' is not a valid choice for this field.", value=status))
        return value


def _day() -> ma.fields.Date:
    return ma.fields.Date(
        load_default=None, validate=_within_range, error_messages={"invalid": _l("Not a valid date value.")}
    )


def _optional_choice() -> ma.fields.String:
    return ma.fields.String(load_default="", validate=pages.OneOf())


class ExportForm(pages.Form):
    """The export request (read by app/pages.py); the choices are the reader's (`_export_choices`)."""

    kind = ma.fields.String(
        required=True, validate=pages.OneOf(), error_messages={"required": pages.REQUIRED}
    )
    bureau = ma.fields.String(
        required=True, validate=pages.OneOf(), error_messages={"required": pages.REQUIRED}
    )
    date_from = _day()
    date_to = _day()
    species = _optional_choice()
    township = _optional_choice()
    campaign = _optional_choice()
    statuses = ma.fields.List(ma.fields.String(), load_default=list, validate=Statuses())


class ImportForm(pages.Form):
    """The legacy census import: a bureau's template and the workbook (inputs named `import-…`)."""

    bureau = ma.fields.String(
        required=True,
        data_key="import-bureau",
        validate=pages.OneOf(),
        error_messages={"required": pages.REQUIRED},
    )
    file = pages.FormFile(required=True, data_key="import-file", error_messages={"required": pages.REQUIRED})


Choices = list[tuple[str, str]]  # (value, label) of a select's options


def _organizations() -> list[Organization]:
    return list(db.session.scalars(accounts.list_organizations()))


def _campaigns() -> list[Campaign]:
    """The survey campaigns an export may name: the caller's bureau's and its units' (an admin's: all)."""
    stmt = sa.select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    ids = acting_ids(current_user)
    if ids is not None:
        stmt = stmt.where(Campaign.organization_id.in_(sorted(ids)))
    return list(db.session.scalars(stmt))


def _export_choices() -> dict[str, Choices]:
    """What the export form offers this reader, labelled in their language."""
    if policy.may_export_for(current_user, None):  # the district's census
        bureaus_offered = [(DISTRICT, _("The whole district (every record once)"))] + [
            (org.code, org.name) for org in _organizations()
        ]
    else:  # a bureau admin exports their own bureau's census, or a unit's under it (docs/contract.md §1)
        own = current_user.organization
        ids = acting_ids(current_user) or frozenset({own.id})
        units = [org for org in _organizations() if org.id in ids and org.id != own.id]
        bureaus_offered = [(own.code, own.name)] + [(org.code, org.name) for org in units]
    species: list[Species] = list(db.session.scalars(search_species()))
    townships: list[Township] = list(db.session.scalars(list_townships()))
    return {
        "kind": [(kind.value, str(label)) for kind, label in KIND_LABELS.items()],
        "bureau": bureaus_offered,
        "species": [("", _("All species"))] + [(str(s.id), f"{s.name_zh} {s.name_sci}") for s in species],
        "township": [("", _("All townships"))] + [(t.code, t.name_zh) for t in townships],
        "campaign": [("", _("All records (no campaign)"))] + [(str(c.id), c.name) for c in _campaigns()],
        "statuses": [(value.value, str(label)) for value, label in REVIEW_LABELS.items()],
    }


def _export_defaults() -> dict[str, Any]:
    today = local_today()
    return {
        "kind": ExportKind.CENSUS.value,
        "bureau": current_user.organization.code,
        "date_from": date(today.year, 1, 1).isoformat(),
        "date_to": today.isoformat(),
        "statuses": [ReviewStatus.VERIFIED.value],
    }


def _import_choices() -> dict[str, Choices]:
    names = {org.code: org.name for org in _organizations()}
    return {"bureau": [(code, names.get(code, code)) for code in bureaus()]}


def _import_defaults() -> dict[str, Any]:
    own = current_user.organization.code
    return {"import-bureau": own if own in bureaus() else ""}


def _as_sent() -> dict[str, Any]:
    """The export form drawn again as it was sent (a value refused included)."""
    sent = {name: request.form.get(name, "").strip() for name in FORM_LABELS if name != "statuses"}
    return {**sent, "statuses": request.form.getlist("statuses")}


def _page(
    *,
    export_form: dict[str, Any] | None = None,
    export_errors: FieldErrors | None = None,
    import_form: dict[str, Any] | None = None,
    import_errors: FieldErrors | None = None,
    status: int = 200,
    report: ImportReport | None = None,
) -> tuple[str, int]:
    exports = services.recent_exports(current_user)
    in_progress = any(e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports)
    choices = _export_choices()
    page = render_template(
        "exports/index.html",
        form=export_form or _export_defaults(),
        errors=export_errors or {},
        choices=choices,
        import_form=import_form or _import_defaults(),
        import_errors=import_errors or {},
        import_choices=_import_choices(),
        labels=FORM_LABELS,
        import_labels=IMPORT_LABELS,
        exports=exports,
        downloads={e.id: _download_url(e) for e in exports},
        refresh=in_progress,
        report=report,
        bureau_fixed=len(choices["bureau"]) == 1,
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
    return _page()


@bp.route("/exports", methods=["POST"])
@login_required
@roles_required(*policy.EXPORTERS)
def create() -> Response | tuple[str, int]:
    schema = ExportForm(
        **{name: [value for value, _label in offered] for name, offered in _export_choices().items()}
    )
    form, errors = pages.read(schema, location="form")
    if not errors:
        filters: dict[str, Any] = {}
        if form["species"]:
            filters["species_id"] = int(form["species"])
        if form["township"]:
            filters["township_code"] = form["township"]
        if form["campaign"]:
            filters["campaign_id"] = int(form["campaign"])
        try:
            export = services.request_export(
                actor=current_user,
                kind=ExportKind(form["kind"]),
                bureau=form["bureau"],
                date_from=form["date_from"],
                date_to=form["date_to"],
                filters=filters,
                statuses=form["statuses"] or None,
            )
        except InvalidInput as exc:
            pages.show_refusal(
                errors, exc, schema.fields, EXPORT_FIELDS
            )  # a 422 answer: nothing of it is kept
        else:
            flash(
                _(
                    "Export %(id)s is queued; this page shows its progress and then its download link.",
                    id=export.id,
                ),
                "info",
            )
            return redirect(url_for("exports.index"))
    return _page(export_form=_as_sent(), export_errors=errors, status=422)


@bp.route("/exports/import", methods=["POST"])
@login_required
@roles_required(*policy.EXPORTERS)
def import_census() -> tuple[str, int]:
    schema = ImportForm(bureau=[code for code, _name in _import_choices()["bureau"]])
    form, errors = pages.read(schema, location="form_with_files")
    sent = {"import-bureau": request.form.get("import-bureau", "")}
    if errors:
        return _page(import_form=sent, import_errors=errors, status=422)
    upload = form["file"]
    try:
        report = services.import_census_upload(
            io.BytesIO(upload.read()), filename=upload.filename, actor=current_user, bureau=form["bureau"]
        )
    except (InvalidInput, TooLarge) as exc:
        # A 4xx answer: the unit of work drops the rows imported before the reader gave up.
        refused = pages.show_refusal({}, exc, IMPORT_FIELDS.values(), IMPORT_FIELDS)
        return _page(import_form=sent, import_errors=refused, status=exc.status_code)
    return _page(report=report)
