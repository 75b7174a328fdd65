"""The audit trail: who changed what, when, from what to what; sign-ins too."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from tests.factories import PASSWORD


def entries(entity_type: str, entity_id: Any = None, action: str | None = None) -> list[AuditLog]:
    stmt = sa.select(AuditLog).where(AuditLog.entity_type == entity_type).order_by(AuditLog.id)
    if entity_id is not None:
        stmt = stmt.where(AuditLog.entity_id == str(entity_id))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return list(db.session.scalars(stmt))


def test_creating_and_changing_a_user_is_recorded_with_the_actor(api_as: Any) -> None:
    admin = api_as("admin")
    created = admin.post(
        "/api/v1/users",
        json={
            "username": "sunba",
            "password": "a-long-password",
            "display_name": "孙八",
            "role": "surveyor",
            "organization": "forestry",
        },
    ).json
    admin.patch(f"/api/v1/users/{created['id']}", json={"role": "verifier", "password": "another-password"})

    create, update = entries("users", created["id"])
    assert (create.action, create.actor_id, create.actor_label) == (
        "create",
        admin.user.id,
        admin.user.username,
    )
    assert create.changes["username"] == [None, "sunba"]
    assert create.changes["password_hash"] == [None, "***"]  # recorded, never revealed
    assert update.action == "update"
    assert update.changes["role"] == ["surveyor", "verifier"]
    assert update.changes["password_hash"] == ["***", "***"]
    assert create.occurred_at.tzinfo is not None


def test_sign_ins_and_failures_are_recorded(anonymous_api: Any, make_user: Any) -> None:
    user = make_user(username="qianjiu")
    anonymous_api.post("/api/v1/auth/tokens", json={"username": "qianjiu", "password": "wrong-one"})
    anonymous_api.post("/api/v1/auth/tokens", json={"username": "qianjiu", "password": PASSWORD})
    failed = entries("user", "qianjiu", "sign_in_failed")
    ok = entries("user", user.id, "sign_in")
    assert len(failed) == 1 and failed[0].ip == "127.0.0.1"
    assert len(ok) == 1 and ok[0].actor_id == user.id
    # last_login_at is bookkeeping: it does not produce an "update" row.
    assert entries("users", user.id, "update") == []


def test_a_rejected_change_leaves_no_audit_row(api_as: Any, make_user: Any) -> None:
    target = make_user()
    before = len(entries("users", target.id))
    response = api_as("bureau_admin", "agriculture").patch(
        f"/api/v1/users/{target.id}", json={"active": False}
    )
    assert response.status_code == 403
    assert len(entries("users", target.id)) == before


def test_deletes_are_recorded(make_user: Any) -> None:
    user = make_user()
    user_id = user.id
    db.session.delete(user)
    db.session.flush()
    (deleted,) = entries("users", user_id, "delete")
    assert deleted.changes["username"][0] == user.username
