"""The export runner: claim a queued export, write its workbook, store it, tell the requester.

Exports run in the scheduler process (app/exports/jobs.py), never in a web worker; the API only queues
them and reports progress. A runner takes an export with a lease (the "export claim" step, app/uow.py);
a runner that dies leaves a lease that lapses, and another takes the export over. Progress is written
as the rows stream (the "export progress" step), so the export page shows it while the runner works.

An export that kills its runner each time (out of memory on a huge period) would be taken over every
lease, for ever, killing runner after runner: `claims` counts the runners that took it, and one that has
stopped MAX_CLAIMS runners is failed, with a reason that tells the requester what to ask for instead.
A runner writes its outcome (done or failed) only while the export is still its own, so one whose lease
lapsed never overwrites what the runner that took over wrote.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app import uow
from app.exports.models import Export, ExportStatus
from app.exports.services import storage
from app.exports.writing import write_export
from app.extensions import db
from app.notifications.services import notify_export_failed, notify_export_ready
from app.storage import new_key

log = logging.getLogger(__name__)


# Runners an export may stop (its lease lapsing while it ran) before it is failed instead of taken again.
MAX_CLAIMS = 3


def claim_export(owner: str) -> int | None:
    """Take the oldest queued export (or one whose runner died) for `owner`, committed at once (a step
    of its own) so that no other runner takes it too. One whose runners died MAX_CLAIMS times is failed
    here instead (it would only kill the next), and the next export is taken."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_EXPORT_LEASE_SECONDS"]))
    while True:
        with uow.step("export claim"):
            found = db.session.execute(
                sa.select(
                    Export.id, Export.claims, Export.requested_by_id, Export.organization_id, Export.bureau
                )
                .where(
                    sa.or_(
                        Export.status == ExportStatus.QUEUED,
                        sa.and_(Export.status == ExportStatus.RUNNING, Export.lease_until < now),
                    )
                )
                .order_by(Export.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if found is None:
                return None
            export_id, claims, requester_id, organization_id, bureau = found
            if claims >= MAX_CLAIMS:
                log.warning("Export %s stopped %s runners; failed instead of taken again", export_id, claims)
                db.session.execute(
                    sa.update(Export)
                    .where(Export.id == export_id)
                    .values(
                        status=ExportStatus.FAILED,
                        error=_(
                            "The export stopped %(count)s times before it was finished, perhaps for lack of "
                            "memory. Please request it again for a shorter period or with narrower filters "
                            "(one township or one species, for example).",
                            count=claims,
                        ),
                        finished_at=now,
                        lease_owner=None,
                        lease_until=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                notify_export_failed(
                    requester_id=requester_id,
                    export_id=export_id,
                    organization_id=organization_id,
                    bureau=bureau,
                    stopped=claims,
                )
                continue
            db.session.execute(
                sa.update(Export)
                .where(Export.id == export_id)
                .values(
                    status=ExportStatus.RUNNING,
                    lease_owner=owner,
                    lease_until=now + lease,
                    started_at=now,
                    progress=0.0,
                    claims=Export.claims + 1,
                )
                .execution_options(synchronize_session=False)
            )
        return int(export_id)


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
    requester_id, organization_id = export.requested_by_id, export.organization_id
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
        # Only while the export is still this runner's: one whose lease lapsed mid-run must not turn the
        # workbook that the runner which took over has finished since into a failure.
        failed = db.session.execute(
            sa.update(Export)
            .where(
                Export.id == export_id,
                Export.lease_owner == owner,
                Export.status == ExportStatus.RUNNING,
            )
            .values(
                status=ExportStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=datetime.now(UTC),
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        if failed.rowcount == 1:  # type: ignore[attr-defined]
            notify_export_failed(
                requester_id=requester_id,
                export_id=export_id,
                organization_id=organization_id,
                bureau=str(params["bureau"]),
            )
        return  # the failure (and its notice) is the job's outcome, committed with it
    now = datetime.now(UTC)
    ttl = timedelta(hours=int(current_app.config["IAS_EXPORT_TTL_HOURS"]))
    export = db.session.get(Export, export_id)
    if export is None or export.lease_owner != owner or export.status != ExportStatus.RUNNING:
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
        organization_id=export.organization_id,
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
