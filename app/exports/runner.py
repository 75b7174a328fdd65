"""The export runner: claim a queued export, write its workbook, store it, tell the requester.

Exports run in the scheduler process (app/exports/jobs.py), never in a web worker; the API only queues
them and reports progress. A runner takes an export with a lease (the "export claim" step, app/uow.py);
a runner that dies leaves a lease that lapses, and another takes the export over. Progress is written
as the rows stream (the "export progress" step), so the export page shows it while the runner works.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app import uow
from app.exports.models import Export, ExportStatus
from app.exports.services import storage
from app.exports.writing import write_export
from app.extensions import db
from app.notifications.services import notify_export_ready
from app.storage import new_key

log = logging.getLogger(__name__)


def claim_export(owner: str) -> int | None:
    """Take the oldest queued export (or one whose runner died) for `owner`, committed at once (a step
    of its own) so that no other runner takes it too."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_EXPORT_LEASE_SECONDS"]))
    with uow.step("export claim"):
        export_id = db.session.scalar(
            sa.select(Export.id)
            .where(
                sa.or_(
                    Export.status == ExportStatus.QUEUED,
                    sa.and_(Export.status == ExportStatus.RUNNING, Export.lease_until < now),
                )
            )
            .order_by(Export.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if export_id is not None:
            db.session.execute(
                sa.update(Export)
                .where(Export.id == export_id)
                .values(
                    status=ExportStatus.RUNNING,
                    lease_owner=owner,
                    lease_until=now + lease,
                    started_at=now,
                    progress=0.0,
                )
                .execution_options(synchronize_session=False)
            )
    return export_id


def _set_progress(export_id: int, owner: str, fraction: float) -> None:
    """Progress goes through a short transaction of its own, so a reader sees it while the export runs.

    It is on a connection of its own: the runner's session is streaming rows, which a commit would end."""
    lease = timedelta(seconds=int(current_app.config["IAS_EXPORT_LEASE_SECONDS"]))
    with Session(db.engine) as side, uow.step("export progress", side):
        side.execute(
            sa.update(Export.__table__)
            .where(Export.__table__.c.id == export_id, Export.__table__.c.lease_owner == owner)
            .values(progress=round(fraction, 3), lease_until=datetime.now(UTC) + lease)
        )


def run_export(export_id: int, owner: str) -> None:
    """Write the workbook for a claimed export, store it, and tell the requester; the caller commits
    (a failure is recorded on the export, the job's outcome all the same)."""
    export = db.session.get(Export, export_id)
    if export is None:
        return
    params = {
        "bureau": export.bureau,
        "kind": export.kind,
        "date_from": export.date_from,
        "date_to": export.date_to,
        "filters": dict(export.filters or {}),
        "generated_by": export.requested_by.display_name,
    }
    requester_id = export.requested_by_id
    db.session.rollback()  # read in a fresh transaction that does not hold SQLite's write lock
    db.session.connection(execution_options={"sqlite_deferred_begin": True})
    last = [0.0]

    def progress(fraction: float, rows: int) -> None:
        if fraction - last[0] >= 0.05:
            last[0] = fraction
            _set_progress(export_id, owner, fraction)

    store = storage()
    key = new_key("exports", ".xlsx")
    try:
        with tempfile.TemporaryFile() as buffer:
            rows = write_export(buffer, on_progress=progress, **params)  # type: ignore[arg-type]
            buffer.seek(0)
            data = buffer.read()
        db.session.rollback()
        store.put(key, data)
    except Exception as exc:
        db.session.rollback()
        log.exception("Export %s failed", export_id)
        db.session.execute(
            sa.update(Export)
            .where(Export.id == export_id)
            .values(
                status=ExportStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=datetime.now(UTC),
            )
            .execution_options(synchronize_session=False)
        )
        return  # the failure is the job's outcome, committed with it
    now = datetime.now(UTC)
    ttl = timedelta(hours=int(current_app.config["IAS_EXPORT_TTL_HOURS"]))
    export = db.session.get(Export, export_id)
    if export is None or export.lease_owner != owner:
        store.delete(key)  # another runner took it over; its file wins
        return
    export.status = ExportStatus.DONE
    export.progress = 1.0
    export.rows = rows
    export.file_key = key
    export.file_size = len(data)
    export.finished_at = now
    export.expires_at = now + ttl
    export.lease_owner = None
    export.lease_until = None
    notify_export_ready(
        requester_id=requester_id,
        export_id=export_id,
        bureau=export.bureau,
        rows=rows,
        expires_at=export.expires_at,
    )


def purge_expired() -> int:
    """Delete the files of exports past their time; the rows stay (history), marked without a file."""
    now = datetime.now(UTC)
    expired = db.session.scalars(
        sa.select(Export).where(Export.expires_at < now, Export.file_key.is_not(None))
    ).all()
    store = storage()
    for export in expired:
        store.delete(export.file_key)  # type: ignore[arg-type]
        export.file_key = None
    return len(expired)
