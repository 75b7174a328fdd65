"""An e-mail goes to its recipient as they are when it is sent, not as they were when it was queued: one
deactivated, or who switched e-mail off, since is not sent it (and it is not a failure to retry); the
"export ready" notice goes only to a requester who may still read the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import Organization, Role, User
from app.exports import runner
from app.exports.models import Export, ExportKind, ExportStatus
from app.extensions import db
from app.notifications import jobs
from app.notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Notification, NotificationKind
from tests.notifications.servers import SmtpServer


@pytest.fixture
def mail(app: Flask, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    return smtp_server


def _queue(user: User, key: str) -> None:
    db.session.add(
        Delivery(
            channel=DeliveryChannel.EMAIL,
            recipient=f"user:{user.id}",
            event_key=key,
            user_id=user.id,
            message={"subject": f"复查提醒 {key}", "body": "今日到期", "links": [], "data": {}},
        )
    )


def _delivery(key: str) -> Delivery:
    row = db.session.scalar(sa.select(Delivery).where(Delivery.event_key == key))
    assert row is not None
    return row


def test_no_e_mail_to_a_user_deactivated_or_with_e_mail_off_since_it_was_queued(
    mail: SmtpServer, make_user: Any
) -> None:
    gone = make_user("surveyor", email="gone@example.cn")
    quiet = make_user("surveyor", email="quiet@example.cn")
    still = make_user("supervisor", email="still@example.cn")
    _queue(gone, "gone")
    _queue(quiet, "quiet")
    _queue(still, "still")
    db.session.commit()
    gone.active = False
    quiet.notify_email = False
    db.session.commit()

    report = jobs.sweep()
    assert (report.sent.sent, report.sent.skipped, report.sent.failed, report.sent.retrying) == (1, 2, 0, 0)
    assert [str(m.message["To"]) for m in mail.messages] == ["still@example.cn"]
    assert _delivery("gone").status == DeliveryStatus.SKIPPED
    assert "deactivated" in (_delivery("gone").last_error or "")
    assert _delivery("quiet").status == DeliveryStatus.SKIPPED
    assert "switched e-mail notifications off" in (_delivery("quiet").last_error or "")
    assert jobs.sweep().sent.claimed == 0  # nothing to retry


@pytest.fixture
def finished_export(app: Flask, make_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A forestry census export asked for by a bureau admin, claimed; `finish()` writes it (a stand-in
    workbook) as the runner does, and returns the requester's export-ready notifications."""
    monkeypatch.setitem(app.config, "IAS_STORAGE_DIR", str(tmp_path / "storage"))

    def write(buffer: Any, **params: Any) -> int:
        buffer.write(b"PK stand-in workbook")
        return 12

    monkeypatch.setattr(runner, "write_export", write)
    clerk = make_user("bureau_admin", email="clerk@example.cn")
    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    assert forestry is not None and clerk.organization_id == forestry.id
    export = Export(
        kind=ExportKind.CENSUS,
        bureau="forestry",
        organization_id=forestry.id,
        requested_by_id=clerk.id,
        filters={},
    )
    db.session.add(export)
    db.session.commit()
    assert runner.claim_export("runner") == export.id

    def finish() -> tuple[list[Notification], list[Delivery]]:
        runner.run_export(export.id, "runner")
        db.session.commit()
        assert db.session.get(Export, export.id).status == ExportStatus.DONE  # type: ignore[union-attr]
        notices = db.session.scalars(
            sa.select(Notification).where(
                Notification.user_id == clerk.id, Notification.kind == NotificationKind.EXPORT_READY
            )
        ).all()
        mails = db.session.scalars(sa.select(Delivery).where(Delivery.user_id == clerk.id)).all()
        return list(notices), list(mails)

    return clerk, finish


def test_the_export_ready_notice_reaches_a_requester_who_may_read_it(finished_export: Any) -> None:
    _clerk, finish = finished_export
    notices, mails = finish()
    assert len(notices) == 1 and len(mails) == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"role": Role.SURVEYOR}, id="no longer a bureau admin"),
        pytest.param({"organization": "agriculture"}, id="moved to the other bureau"),
        pytest.param({"active": False}, id="deactivated"),
    ],
)
def test_no_export_ready_notice_to_a_requester_who_may_no_longer_read_it(
    finished_export: Any, change: dict[str, Any]
) -> None:
    clerk, finish = finished_export
    if "organization" in change:
        other = db.session.scalar(
            sa.select(Organization).where(Organization.code == change.pop("organization"))
        )
        assert other is not None
        clerk.organization_id = other.id
    for name, value in change.items():
        setattr(clerk, name, value)
    db.session.commit()
    notices, mails = finish()
    assert notices == [] and mails == []
