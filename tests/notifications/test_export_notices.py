"""The notices of an export (ready, failed) name the exported bureau as its readers know it: 梁平区林业局,
not its code "forestry" (found by tests/test_crawl.py in the inbox of a bureau admin)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization
from app.exports import runner
from app.exports.models import Export, ExportKind
from app.extensions import db
from app.notifications import messages
from app.notifications.services import notify_export_failed, notify_export_ready


def _forestry() -> Organization:
    organization = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    assert organization is not None
    return organization


def _inbox(web: Any) -> str:
    return web.get("/notifications").get_data(as_text=True)  # type: ignore[no-any-return]


def test_an_export_ready_notice_names_the_bureau(web_as: Any) -> None:
    web = web_as("bureau_admin")
    notify_export_ready(
        requester_id=web.user.id,
        export_id=7,
        organization_id=_forestry().id,
        bureau="forestry",
        rows=14,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    db.session.commit()
    page = _inbox(web)
    assert "【导出完成】梁平区林业局 普查表，共 14 行" in page
    assert "forestry" not in page


def test_an_export_given_up_names_the_bureau(web_as: Any) -> None:
    web = web_as("bureau_admin")
    db.session.add(
        Export(
            kind=ExportKind.CENSUS,
            bureau="forestry",
            organization_id=_forestry().id,
            requested_by_id=web.user.id,
            filters={},
        )
    )
    db.session.commit()
    for attempt in range(runner.MAX_CLAIMS):
        assert runner.claim_export(f"runner-{attempt}") is not None
        db.session.execute(sa.update(Export).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert runner.claim_export("runner-last") is None
    db.session.commit()
    page = _inbox(web)
    assert "［导出失败］梁平区林业局 普查工作簿" in page
    assert "forestry" not in page


def test_the_district_census_is_named_as_the_district(web_as: Any) -> None:
    web = web_as("admin")
    notify_export_failed(requester_id=web.user.id, export_id=8, organization_id=None, bureau="district")
    db.session.commit()
    page = _inbox(web)
    assert "［导出失败］全区 普查工作簿" in page


def test_a_notice_stored_before_names_were_kept_still_reads() -> None:
    composed = messages.MESSAGES["export_failed"]({"id": 3, "bureau": "forestry", "stopped": 0})
    assert "forestry" in composed.subject
