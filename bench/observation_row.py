"""The one `observations` row the bare endpoint and the floor insert for a request body (bench/bare_app.py,
bench/floor_app.py): the same columns the app writes, from the body alone."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from app.observations.models import PositionSource, ReviewStatus


def observation_row(
    body: dict[str, Any], raw: bytes, *, organization_id: int, surveyor_id: int, townships: dict[str, int]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "client_uuid": uuid.UUID(body["client_uuid"]),
        "payload_sha256": hashlib.sha256(raw).hexdigest(),
        "organization_id": organization_id,
        "surveyor_id": surveyor_id,
        "species_id": body["species_id"],
        "detected": body.get("detected", True),
        "observed_at": datetime.fromisoformat(body["observed_at"]).astimezone(UTC),
        "latitude": body["latitude"],
        "longitude": body["longitude"],
        "accuracy_m": body.get("accuracy_m"),
        "altitude_m": body.get("altitude_m"),
        "position_source": PositionSource(body.get("position_source", "gps")),
        "township_id": townships.get(body.get("township_code")),
        "place_name": body.get("place_name"),
        "notes": body.get("notes"),
        "status": ReviewStatus.SUBMITTED,
        "created_at": now,
        "updated_at": now,
    }
