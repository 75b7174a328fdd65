"""A census export whose runner is killed mid-run: taken over, but not for ever; and a runner whose lease
lapsed never overwrites what the runner that took over wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.exports import runner
from app.exports.models import Export, ExportKind, ExportStatus
from app.extensions import db
from app.notifications.messages import compose
from app.notifications.models import Notification, NotificationKind


@pytest.fixture
def export(make_user: Any) -> Export:
    clerk = make_user("bureau_admin")
    queued = Export(kind=ExportKind.CENSUS, bureau="forestry", requested_by_id=clerk.id, filters={})
    db.session.add(queued)
    db.session.commit()
    return queued


def _runner_dies() -> None:
    """The runner dies writing the workbook (out of memory, killed): its lease lapses."""
    db.session.execute(sa.update(Export).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()


def test_an_export_that_kills_its_runner_every_time_is_given_up(app: Flask, export: Export) -> None:
    takes = 0
    for attempt in range(20):
        taken = runner.claim_export(f"scheduler-{attempt}")
        if taken is None:
            break
        assert taken == export.id
        takes += 1
        _runner_dies()
    db.session.refresh(export)
    assert takes == runner.MAX_CLAIMS == 3
    assert export.status == ExportStatus.FAILED and export.claims == 3
    assert export.error is not None and "3" in export.error
    assert export.lease_owner is None and export.finished_at is not None
    assert "导出" in export.error  # written in the default language, Chinese, for the requester to read


def test_the_next_export_is_taken_after_one_given_up(export: Export, make_user: Any) -> None:
    for attempt in range(runner.MAX_CLAIMS):
        assert runner.claim_export(f"scheduler-{attempt}") == export.id
        _runner_dies()
    later = Export(
        kind=ExportKind.CONTROL, bureau="forestry", requested_by_id=export.requested_by_id, filters={}
    )
    db.session.add(later)
    db.session.commit()
    assert runner.claim_export("scheduler-next") == later.id
    db.session.refresh(export)
    assert export.status == ExportStatus.FAILED


def test_a_lapsed_runner_failing_late_leaves_the_newer_runners_workbook_done(
    export: Export, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.claim_export("runner-A") == export.id
    _runner_dies()  # A is slow, not dead: its lease lapses and B takes the export over
    assert runner.claim_export("runner-B") == export.id
    db.session.execute(  # B finishes the workbook
        sa.update(Export)
        .where(Export.id == export.id)
        .values(status=ExportStatus.DONE, file_key="exports/b.xlsx", lease_owner=None, lease_until=None)
    )
    db.session.commit()

    def runs_out_of_memory(*args: Any, **kwargs: Any) -> int:
        raise MemoryError("A at last")

    monkeypatch.setattr(runner, "write_export", runs_out_of_memory)
    runner.run_export(export.id, "runner-A")  # A fails, late
    db.session.commit()
    db.session.refresh(export)
    assert export.status == ExportStatus.DONE and export.error is None and export.file_key == "exports/b.xlsx"


def test_a_runner_that_fails_while_it_holds_the_export_records_the_failure(
    export: Export, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.claim_export("runner-A") == export.id

    def breaks(*args: Any, **kwargs: Any) -> int:
        raise ValueError("a broken layout")

    monkeypatch.setattr(runner, "write_export", breaks)
    runner.run_export(export.id, "runner-A")
    db.session.commit()
    db.session.refresh(export)
    assert export.status == ExportStatus.FAILED and "a broken layout" in (export.error or "")
    assert export.lease_owner is None


def _bureau_export(make_user: Any) -> Export:
    clerk = make_user("bureau_admin")
    queued = Export(
        kind=ExportKind.CENSUS,
        bureau="forestry",
        organization_id=clerk.organization_id,
        requested_by_id=clerk.id,
        filters={},
    )
    db.session.add(queued)
    db.session.commit()
    return queued


def _notices(user_id: int) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user_id)))


def test_a_failed_export_tells_its_requester(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clerk waiting on a census workbook heard nothing when it failed: the notice now says so."""
    export = _bureau_export(make_user)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "write_export", broken)
    assert runner.claim_export("scheduler-a") == export.id
    runner.run_export(export.id, "scheduler-a")
    db.session.commit()
    db.session.refresh(export)
    assert export.status == ExportStatus.FAILED
    [notice] = _notices(export.requested_by_id)
    assert notice.kind == NotificationKind.EXPORT_FAILED
    composed = compose(notice.message_key, notice.params)
    assert str(export.id) in composed.body and "管理员" in composed.body, composed.body


def test_an_export_given_up_after_its_runners_died_tells_its_requester(app: Flask, make_user: Any) -> None:
    export = _bureau_export(make_user)
    for attempt in range(runner.MAX_CLAIMS + 1):
        if runner.claim_export(f"scheduler-{attempt}") is None:
            break
        _runner_dies()
    [notice] = _notices(export.requested_by_id)
    assert notice.kind == NotificationKind.EXPORT_FAILED
    composed = compose(notice.message_key, notice.params)
    assert "3" in composed.body and "乡镇" in composed.body, composed.body
