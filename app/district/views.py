"""The admin page for the district's boundaries: what is loaded, and an upload that checks a file and, when
asked, replaces a level with it (docs/contract.md §2, Boundaries). The same check as `flask district
boundaries`; the request's unit of work commits the load (app/uow.py), or nothing on a refusal."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app import pages, policy
from app.accounts.auth import roles_required
from app.district import boundaries
from app.district.models import BoundaryLevel
from app.district.schemas import BoundaryUploadForm
from app.geo.boundaries import Report, Text
from app.geo.crs import FILE_CRS_NAMES

bp = Blueprint("district", __name__)


def level_labels() -> dict[BoundaryLevel, str]:
    return {
        BoundaryLevel.DISTRICT: _("district"),
        BoundaryLevel.TOWNSHIP: _("townships"),
        BoundaryLevel.VILLAGE: _("villages"),
    }


def kind_labels() -> dict[str, str]:
    """The check's problem kinds in the reader's language (the details name codes, places and areas)."""
    return {
        "invalid_ring": _("invalid ring"),
        "not_degrees": _("not longitude/latitude"),
        "no_geometry": _("no polygon"),
        "no_code": _("no code"),
        "unknown_code": _("unknown code"),
        "repeated_code": _("code in several features"),
        "missing": _("units with no polygon"),
        "overlap": _("overlap"),
        "gap": _("gap"),
        "outside": _("outside the district"),
        "district_outline": _("the district's outline"),
        "placed": _("placed by their point"),
        "rechecked": _("mismatch flags re-checked"),
        "placed_flagged": _("township of their village, flagged"),
    }


def _say(text: Text) -> str:
    """A report's sentence in the reader's language (codes, places and areas are its values)."""
    return text.render(_)


def _page(report: Report | None = None, error: str | None = None, applied: bool = False) -> str:
    return render_template(
        "admin/boundaries.html",
        title=_("Boundaries"),
        status=boundaries.status(),
        history=boundaries.history(),
        has_outline=boundaries.has_outline(),
        some_townships=boundaries.locator().townships is not None,
        labels=level_labels(),
        kinds=kind_labels(),
        crs_names=FILE_CRS_NAMES,
        max_mb=f"{boundaries.max_bytes() / 2**20:g}",
        report=report,
        say=_say,
        error=error,
        applied=applied,
    )


@bp.route("/admin/boundaries")
@login_required
@roles_required(*policy.DISTRICT_MANAGERS)
def index() -> str:
    """What is loaded at each level; without polygons, that the district's rectangle stands."""
    return _page()


@bp.route("/admin/boundaries", methods=["POST"])
@login_required
@roles_required(*policy.DISTRICT_MANAGERS)
def upload() -> str | tuple[str, int]:
    """Check an uploaded file; unless "check only" is ticked and the check passes, replace the level."""
    # Uploads are also bounded by the app's IAS_MAX_UPLOAD_MB (the form is parsed, for its CSRF token,
    # before this view runs); the boundary cap is checked on the file itself.
    limit = boundaries.max_bytes()
    cap = f"{limit / 2**20:g}"
    too_large = _("The file is larger than %(mb)s MB, the most a boundary file may be.", mb=cap)
    try:
        form, errors = pages.read(BoundaryUploadForm, location="form_with_files")
    except RequestEntityTooLarge:
        return _page(error=too_large), 413
    if errors:
        return _page(error=pages.describe(errors)), 422
    upload = form["file"]
    data = upload.read(limit + 1)
    upload.close()  # a large upload is spooled to a temporary file: let it go now, not when collected
    if len(data) > limit:
        return _page(error=too_large), 413
    try:
        report = boundaries.load_boundaries(
            data,
            upload.filename,
            level=form["level"],
            code_field=(form["code_field"] or "").strip() or None,
            crs=form["crs"],
            dry_run=form["dry_run"],
        )
    except boundaries.BoundaryFileError as exc:
        return _page(error=exc.text.render(_)), 422
    except boundaries.BoundaryLoadError as exc:
        return _page(report=exc.report, error=_("The file has errors; nothing was loaded.")), 422
    return _page(report=report, applied=not form["dry_run"])
