"""Pending re-inspections left twice on one site and day by versions before scheduling joined them
(docs/census.md, Re-inspections due): `flask control merge-duplicate-reinspections` keeps the oldest and
cancels the others, with a reason and an audit row each (`--dry-run` only lists them); the reminder sweep
meanwhile tells of such a site's day once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit.models import AuditLog
from app.clock import local_today
from app.control.models import FollowUp, FollowUpKind, FollowUpStatus
from app.extensions import db
from app.notifications import reminders
from app.notifications.models import Notification


@pytest.fixture
def cli(app: Flask) -> Any:
    return app.test_cli_runner()


def _twice(original: FollowUp, **fields: Any) -> FollowUp:
    """What an earlier version left: a second pending follow-up of the same site, day and organization."""
    values = {
        "site_id": original.site_id,
        "control_operation_id": original.control_operation_id,
        "organization_id": original.organization_id,
        "kind": FollowUpKind.SCHEDULED,
        "offset_days": original.offset_days,
        "due_on": original.due_on,
        "assignee_id": original.assignee_id,
        "supervisor_id": original.supervisor_id,
    }
    copy = FollowUp(**{**values, **fields})
    db.session.add(copy)
    db.session.flush()
    return copy


def _pending(operation: dict[str, Any]) -> list[FollowUp]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(FollowUp)
            .where(FollowUp.site_id == operation["site_id"], FollowUp.status == FollowUpStatus.PENDING)
            .order_by(FollowUp.due_on, FollowUp.id)
        )
    )


def test_the_command_keeps_the_oldest_and_cancels_the_others_with_a_reason(
    api_as: Any, treat: Any, cli: Any
) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="hand_collection", days_ago=2)  # +7, +14
    plus_seven = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert plus_seven is not None and plus_seven.offset_days == 7
    second, third = _twice(plus_seven), _twice(plus_seven)
    other_day = db.session.get(FollowUp, operation["follow_ups"][1]["id"])
    assert other_day is not None
    done = _twice(other_day)
    done.status = FollowUpStatus.DONE  # a completed one is no duplicate to cancel
    db.session.commit()
    pending_before = len(_pending(operation))

    listed = cli.invoke(args=["control", "merge-duplicate-reinspections", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert f"kept #{plus_seven.id}, would cancel #{second.id}, #{third.id}" in listed.output
    assert "nothing was changed" in listed.output
    assert len(_pending(operation)) == pending_before

    result = cli.invoke(args=["control", "merge-duplicate-reinspections"])
    assert result.exit_code == 0, result.output
    site_code = operation["site_code"]
    assert (
        f"site {site_code}, due {plus_seven.due_on.isoformat()}, forestry: kept #{plus_seven.id}"
        in result.output
    )
    assert "2 re-inspection(s) cancelled in 1 group(s)." in result.output
    assert [f.id for f in _pending(operation)].count(plus_seven.id) == 1
    for duplicate in (second, third):
        stored = db.session.get(FollowUp, duplicate.id)
        assert stored is not None and stored.status == FollowUpStatus.CANCELLED
        assert stored.cancelled_reason == f"与同一发生点同日的复查 {plus_seven.id} 重复，已并入该复查。"
        [entry] = db.session.scalars(
            sa.select(AuditLog).where(
                AuditLog.entity_type == "follow_ups",
                AuditLog.entity_id == str(duplicate.id),
                AuditLog.action == "update",
            )
        ).all()
        assert entry.actor_label == "cli"
        assert entry.changes["status"] == ["pending", "cancelled"]
        assert entry.changes["cancelled_reason"][1] == stored.cancelled_reason
    assert db.session.get(FollowUp, done.id).status == FollowUpStatus.DONE  # type: ignore[union-attr]

    again = cli.invoke(args=["control", "merge-duplicate-reinspections"])
    assert again.exit_code == 0 and "no duplicate pending re-inspections." in again.output


def test_another_organization_or_day_is_no_duplicate(api_as: Any, treat: Any, cli: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="hand_collection", days_ago=2)
    plus_seven = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert plus_seven is not None
    other = api_as("surveyor", "agriculture").user
    elsewhere = _twice(plus_seven)
    elsewhere.organization_id = other.organization_id  # another bureau's own work
    moved = _twice(plus_seven)
    moved.due_on = plus_seven.due_on + timedelta(days=1)
    db.session.commit()
    result = cli.invoke(args=["control", "merge-duplicate-reinspections"])
    assert result.exit_code == 0, result.output
    assert "no duplicate pending re-inspections." in result.output


def test_the_sweep_reminds_of_a_site_and_day_once(api_as: Any, make_user: Any, treat: Any) -> None:
    make_user("supervisor")
    api = api_as("surveyor")
    operation, _ = treat(api, method="hand_collection", days_ago=7)  # its +7 is due today
    due = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert due is not None and due.due_on == local_today()
    duplicate = _twice(due)
    db.session.commit()

    report = reminders.queue_follow_up_reminders()
    assert report.due == 1
    [letter] = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == api.user.id)  # type: ignore[attr-defined]
    ).all()
    assert [i["follow_up_id"] for i in letter.data["items"]] == [due.id]
    # Both are marked: the duplicate is not reminded by the next sweep either.
    db.session.expire_all()
    assert db.session.get(FollowUp, duplicate.id).reminded_due_on == local_today()  # type: ignore[union-attr]
    assert reminders.queue_follow_up_reminders().due == 0


def test_a_copy_assigned_to_someone_else_still_reaches_them(api_as: Any, make_user: Any, treat: Any) -> None:
    """Two teams' operations on one site and day (an earlier version made two re-inspections): each
    assignee is told of theirs; the organization's robots hear of the site's day once."""
    make_user("supervisor")
    api = api_as("surveyor")
    colleague = make_user("surveyor")
    operation, _ = treat(api, method="hand_collection", days_ago=7)
    due = db.session.get(FollowUp, operation["follow_ups"][0]["id"])
    assert due is not None and due.due_on == local_today()
    other = _twice(due, assignee_id=colleague.id)
    db.session.commit()

    report = reminders.queue_follow_up_reminders()
    assert report.due == 2

    def told(user_id: int) -> list[int]:
        letters = db.session.scalars(sa.select(Notification).where(Notification.user_id == user_id)).all()
        return [i["follow_up_id"] for letter in letters for i in letter.data["items"]]

    assert told(api.user.id) == [due.id]  # type: ignore[attr-defined]
    assert told(colleague.id) == [other.id]
