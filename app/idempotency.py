"""Telling a retry from a clash: records sent with a client-made `client_uuid` keep a fingerprint of
what was sent, so the same request again returns the first result and different content is a 409."""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | enum.Enum):
        return str(value.value if isinstance(value, enum.Enum) else value)
    return value


def fingerprint(args: dict[str, Any], *, sender_id: int) -> str:
    """SHA-256 of the loaded request (defaults filled in, absent and null alike) and who sent it."""
    body = {key: _plain(value) for key, value in sorted(args.items()) if value is not None}
    body["_sender"] = sender_id
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
