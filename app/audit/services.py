"""Recording the audit trail.

Changes to models that inherit `Audited` are recorded automatically when the session flushes, in the
same transaction, so a change and its audit row commit or roll back together. Events that change no row
(a sign-in, a failed sign-in, an export) are recorded with `record_event`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from app.audit.models import Audited, AuditLog
from app.extensions import db

REDACTED = "***"


def set_actor_label(label: str) -> None:
    """Name the non-person actor for this app context (e.g. "cli" inside a command)."""
    g.audit_actor_label = label


def current_actor() -> tuple[int | None, str]:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.username
    if has_app_context() and "audit_actor_label" in g:
        return None, g.audit_actor_label
    return None, "system"


def _client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def record_event(
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    details: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
) -> AuditLog:
    """Add an event row to the current unit of work (committed with it)."""
    default_id, default_label = current_actor()
    entry = AuditLog(
        actor_id=actor_id if actor_id is not None else default_id,
        actor_label=actor_label or default_label,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes={k: _jsonable(v) for k, v in (details or {}).items()},
        ip=_client_ip(),
    )
    db.session.add(entry)
    return entry


def _changes(obj: Audited, action: str) -> dict[str, list[Any]]:
    state = sa.inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in obj.__audit_ignore__:
            continue
        if action == "update":
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
        else:
            value = state.dict.get(key)
            if value is None:
                continue
            old, new = (None, value) if action == "create" else (value, None)
        if key in obj.__audit_redact__:
            old, new = (
                (REDACTED if old is not None else None),
                (REDACTED if new is not None else None),
            )
        changes[key] = [_jsonable(old), _jsonable(new)]
    return changes


def _row(
    obj: Audited, action: str, changes: dict[str, list[Any]], actor_id: int | None, actor_label: str
) -> dict[str, Any]:
    identity = sa.inspect(obj).mapper.primary_key_from_instance(obj)
    return {
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "entity_type": obj.__tablename__,  # type: ignore[attr-defined]
        "entity_id": "/".join(str(part) for part in identity),
        "changes": changes,
        "ip": _client_ip(),
    }


def _audit_after_flush(session: Session, flush_context: UOWTransaction) -> None:
    actor_id, actor_label = current_actor()
    rows = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not isinstance(obj, Audited):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, action)
            if action == "update" and not changes:
                continue
            rows.append(_row(obj, action, changes, actor_id, actor_label))
    rows.extend(session.info.pop(_HANDED, ()))
    if rows:
        # Core insert on the flush's own connection: same transaction, no second flush.
        session.connection().execute(sa.insert(AuditLog), rows)


_HANDED = "ias.audit.rows"  # rows handed to the next flush's listener (record_created)


def update_row(obj: Audited) -> dict[str, Any] | None:
    """The audit row the flush listener would write for `obj`'s changes not yet flushed (None when they
    change nothing audited), for a caller that writes them with a Core UPDATE (app/observations/create.py)
    and hands the row to `record_created`."""
    changes = _changes(obj, "update")
    if not changes:
        return None
    actor_id, actor_label = current_actor()
    return _row(obj, "update", changes, actor_id, actor_label)


def created_row(obj: Audited) -> dict[str, Any]:
    """The audit row of a new row not written yet, without what only its id tells (`entity_id`, and `id`
    in `changes`): for a caller that writes the row and its audit row in one statement and fills those in
    there from the id the INSERT makes (PostgreSQL, app/observations/create.py). Otherwise the row
    `record_created` writes."""
    actor_id, actor_label = current_actor()
    row = _row(obj, "create", _changes(obj, "create"), actor_id, actor_label)
    del row["entity_id"]
    return row


def record_created(obj: Audited, also: list[dict[str, Any]] | None = None) -> None:
    """The audit row of a row written with a Core insert instead of the unit of work's flush (a new
    record, app/observations/create.py): the same row the flush listener writes for a new object.
    `also`: audit rows of other changes the caller wrote itself (`update_row`), inserted with it.

    When the session has changes of its own waiting, they are flushed now and the row goes into the
    same INSERT as their audit rows; otherwise it is inserted at once."""
    actor_id, actor_label = current_actor()
    row = _row(obj, "create", _changes(obj, "create"), actor_id, actor_label)
    session = db.session()
    rows: list[dict[str, Any]] | None = [*(also or ()), row]  # in the order a flush writes them
    if session.dirty or session.new or session.deleted:
        session.info[_HANDED] = rows
        session.flush()
        rows = session.info.pop(_HANDED, None)  # still here: the flush wrote nothing, its listener never ran
    if rows:
        # One row as one execute: a list of one would be an executemany (psycopg's pipeline, for nothing).
        session.connection().execute(sa.insert(AuditLog), rows[0] if len(rows) == 1 else rows)


def register_audit_listener() -> None:
    if not event.contains(Session, "after_flush", _audit_after_flush):
        event.listen(Session, "after_flush", _audit_after_flush)
