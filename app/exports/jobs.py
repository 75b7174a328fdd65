"""The exports domain's scheduled work, run by the scheduler's table (app/scheduler/table.py)."""

from __future__ import annotations

from app import uow
from app.exports import runner


def run_export(export_id: int, owner: str) -> None:
    """Write one claimed export's workbook: one unit of work (its progress is committed as it goes)."""
    with uow.unit():
        runner.run_export(export_id, owner)


def run_pending_exports(owner: str, *, limit: int = 5) -> int:
    """Run queued exports one after another, each claimed for `owner` first; returns how many ran."""
    ran = 0
    while ran < limit:
        export_id = runner.claim_export(owner)
        if export_id is None:
            break
        run_export(export_id, owner)
        ran += 1
    return ran


@uow.transactional
def purge_expired() -> int:
    """Delete the files of exports past their time (the rows stay); returns how many."""
    return runner.purge_expired()
