"""Census exports as the API and the pages ask for them: who may ask for which export, following and
downloading it, and importing a legacy census workbook.

What a workbook holds is writing.py (rows.py, summaries.py); writing it in the background is runner.py
and jobs.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import policy
from app.accounts.models import Organization, User
from app.accounts.organizations import acting_ids
from app.audit.services import record_event
from app.census.scope import DISTRICT, parse_statuses
from app.errors import InvalidInput, NotFound, PermissionDenied, TooLarge
from app.exports import imports
from app.exports.import_report import ImportReport
from app.exports.layouts import bureaus
from app.exports.models import Export, ExportKind, ExportStatus
from app.exports.reader import ReaderError, ReadLimits, WorkbookTooLarge
from app.exports.survey_routes import check_campaign
from app.extensions import db
from app.observations import services as observations
from app.storage import LocalStorage, Storage


def storage() -> Storage:
    """Where export files are kept (IAS_STORAGE_DIR)."""
    return LocalStorage(Path(current_app.config["IAS_STORAGE_DIR"]))


# ---------------------------------------------------------------------------------------------
# Asking for an export


def request_export(
    *,
    actor: User,
    kind: ExportKind,
    bureau: str,
    date_from: date | None,
    date_to: date | None,
    filters: dict[str, Any],
    statuses: Iterable[str] | None = None,
) -> Export:
    """Queue an export (bureau admins for their own bureau or a unit under it, admins for any, and
    for the district). Raises PermissionDenied, InvalidInput naming `bureau`, `to` or `statuses`.

    The export belongs to the exported bureau (None: the district), not to the requester."""
    if not policy.makes_exports(actor):
        raise PermissionDenied(_("Census exports are made by bureau admins."))
    chosen = parse_statuses(statuses)
    organization_id: int | None = None
    if bureau == DISTRICT:
        if not policy.may_export_for(actor, None):
            raise PermissionDenied(_("Only an administrator exports the district's census."))
    else:
        organization = db.session.scalar(sa.select(Organization).where(Organization.code == bureau))
        if organization is None:
            raise InvalidInput.field("bureau", _("No organization has the code %(code)s.", code=bureau))
        if not policy.may_export_for(actor, organization.id):
            raise PermissionDenied(_("You export your own bureau's census only."))
        organization_id = organization.id
    if date_from and date_to and date_from > date_to:
        raise InvalidInput.field("to", _("must not be before from"))
    observations.filtered(filters)  # InvalidInput for an unknown township or organization
    if filters.get("campaign_id") is not None:  # the bureau's own campaign (docs/census.md)
        check_campaign(int(filters["campaign_id"]), organization_id)
    export = Export(
        kind=kind,
        bureau=bureau,
        date_from=date_from,
        date_to=date_to,
        filters={**filters, "statuses": [status.value for status in chosen]},
        organization_id=organization_id,
        requested_by_id=actor.id,
        status=ExportStatus.QUEUED,
    )
    db.session.add(export)
    db.session.flush()
    record_event(
        "export_requested",
        "exports",
        export.id,
        {"kind": kind.value, "bureau": bureau, "statuses": [status.value for status in chosen]},
    )
    return export


def may_read(actor: User, export: Export) -> bool:
    """Whether the actor may see and download the export, by their role and organization now (a
    demotion or a move ends it): an admin any; a bureau admin those of their bureau or a unit under
    it; nobody else, not even the requester. The district census is for admins only."""
    return policy.may_read_export(actor, export)


def get_export(export_id: int, actor: User) -> Export:
    """The export, if the actor may see it now (`may_read`)."""
    export = db.session.get(Export, export_id)
    if export is None:
        raise NotFound(_("No export with id %(id)s.", id=export_id))
    if not may_read(actor, export):
        raise PermissionDenied(_("Only the exported bureau's admins and administrators may see this export."))
    return export


# ---------------------------------------------------------------------------------------------
# For the browser pages (the API has its own copies of these steps in app/exports/api.py)


def recent_exports(actor: User, *, limit: int = 20) -> list[Export]:
    """The exports the actor may follow, newest first: those `may_read` lets them see (an admin every
    export, a bureau admin those of their bureau and the units under it)."""
    stmt = (
        sa.select(Export)
        .options(sa.orm.selectinload(Export.requested_by), sa.orm.selectinload(Export.organization))
        .order_by(Export.id.desc())
        .limit(limit)
    )
    if not policy.makes_exports(actor):
        return []
    ids = acting_ids(actor)  # None: an admin's, every one (policy.may_read_export, as a query)
    if ids is not None:
        stmt = stmt.where(Export.organization_id.in_(sorted(ids)))
    return list(db.session.scalars(stmt))


def import_census_upload(source: BinaryIO, *, filename: str | None, actor: User, bureau: str) -> ImportReport:
    """Import an uploaded legacy census workbook (POST /api/v1/imports, the exports page), and log it.

    Raises PermissionDenied, InvalidInput naming `bureau` (no template) or `file` (not a workbook in
    the template's layout), and TooLarge naming `file` (more data rows than IAS_IMPORT_MAX_ROWS, or
    more cells, shared strings, text or unpacked bytes than the IAS_IMPORT_MAX_* limits, found before
    parsing). Rows read before the reader gave up may have been flushed: the error answer's unit of
    work rolls them back (app/uow.py).
    """
    if not policy.makes_imports(actor):
        raise PermissionDenied(_("Census workbooks are imported by bureau admins."))
    if bureau not in bureaus():
        raise InvalidInput.field("bureau", _("No template for %(bureau)s.", bureau=bureau))
    config = current_app.config
    limits = ReadLimits(
        inflated_bytes=config["IAS_IMPORT_MAX_INFLATED_MB"] * 1024 * 1024,
        cells=config["IAS_IMPORT_MAX_CELLS"],
        shared_strings=config["IAS_IMPORT_MAX_SHARED_STRINGS"],
        shared_string_chars=config["IAS_IMPORT_MAX_TEXT_CHARS"],
    )
    try:
        result = imports.import_census(
            source, actor=actor, bureau=bureau, max_rows=config["IAS_IMPORT_MAX_ROWS"], limits=limits
        )
    except WorkbookTooLarge as exc:
        message = workbook_too_large_message(exc)
        raise TooLarge(message, {"file": [message]}) from exc
    except ReaderError as exc:
        raise InvalidInput.field("file", reader_error_message(exc)) from exc
    record_event(
        "census_imported",
        "exports",
        None,
        {"file": filename, "imported": result.imported, "rejected": result.rejected},
    )
    return result


# What each read limit is, in the reader's language, and the setting that raises it.
_LIMIT_NAMES = {
    "cells": (_l("cells"), "IAS_IMPORT_MAX_CELLS"),
    "shared_strings": (_l("shared strings (distinct texts)"), "IAS_IMPORT_MAX_SHARED_STRINGS"),
    "shared_string_chars": (_l("characters of text"), "IAS_IMPORT_MAX_TEXT_CHARS"),
    "inflated_bytes": (_l("bytes once unpacked"), "IAS_IMPORT_MAX_INFLATED_MB"),
    "cells_per_row": (_l("cells in one row"), None),
    "text_length": (_l("characters in one cell"), None),
    "elements": (_l("formatting and other elements besides cells"), None),
}


def workbook_too_large_message(error: WorkbookTooLarge) -> str:
    """Which limit the workbook passed, how far, and (for a setting) how to raise it."""
    if error.limit == "compression":
        return _("The workbook is compressed in a way Excel does not use; save it again from Excel.")
    what, setting = _LIMIT_NAMES.get(error.limit, (error.limit, None))
    message = _(
        "The workbook holds more than %(allowed)s %(what)s (at least %(found)s), more than one upload "
        "imports; split it.",
        allowed=f"{error.allowed:,}",
        what=what,
        found=f"{error.found:,}",
    )
    if setting:
        message += " " + _("The limit is the setting %(setting)s.", setting=setting)
    return message


def reader_error_message(error: ReaderError) -> str:
    """A workbook that does not fit the template, said in the reader's language where it can be."""
    parts = []
    if error.missing_sheets:
        parts.append(_("No sheet named %(titles)s.", titles="、".join(error.missing_sheets)))
    for title, headers in error.missing_headers.items():
        parts.append(_("Sheet %(title)s has no column %(headers)s.", title=title, headers="、".join(headers)))
    if parts:
        return " ".join(parts)
    if error.not_xlsx:
        return _("Not an .xlsx workbook: an old .xls workbook or a CSV file must be saved as .xlsx first.")
    return _("Not a readable .xlsx workbook (%(detail)s).", detail="; ".join(error.problems))
