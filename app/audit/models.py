from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, intpk, timestamp
from app.extensions import db


class Audited:
    """Mixin: every insert, update and delete of this model is written to the audit log (by the flush
    listener in app/audit/services.py, in the same transaction)."""

    # Columns whose changes are not worth a row (bookkeeping such as last_login_at).
    __audit_ignore__: ClassVar[frozenset[str]] = frozenset()
    # Columns recorded as changed without their values (password hashes).
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()


class AuditLog(db.Model):  # type: ignore[name-defined]
    """One change or event. Never updated, never deleted by the app."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # Sign-in throttling counts recent failures by username and by address.
        sa.Index("ix_audit_log_action_entity_occurred", "action", "entity_id", "occurred_at"),
        sa.Index("ix_audit_log_action_ip_occurred", "action", "ip", "occurred_at"),
        sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),
    )

    id: Mapped[intpk]
    occurred_at: Mapped[timestamp]
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The actor's username at the time, or "system" / "cli" for work nobody signed in to do.
    actor_label: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(40))  # create | update | delete | sign_in | ...
    entity_type: Mapped[str] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(120))
    # {field: [old, new]} for changes; free-form details for events.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    def __repr__(self) -> str:
        return f"<AuditLog {self.action} {self.entity_type}:{self.entity_id} by {self.actor_label}>"
