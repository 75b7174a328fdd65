"""A re-inspection's visit as a phone sends it: a record at the paddy of tests/conftest.py, now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.conftest import PADDY

LAT, LON = PADDY


def visit(**fields: Any) -> dict[str, Any]:
    """A record's body at the paddy (township 500155001), observed now; `fields` add to it or replace."""
    return {
        "client_uuid": str(uuid.uuid4()),
        "observed_at": datetime.now(UTC).isoformat(),
        "latitude": LAT,
        "longitude": LON,
        "accuracy_m": 5,
        "township_code": "500155001",
        **fields,
    }


def complete(api: Any, follow_up_id: int, **observation: Any) -> Any:
    """POST the re-inspection's completion with a visit; the response."""
    return api.post(f"/api/v1/follow-ups/{follow_up_id}/complete", json={"observation": visit(**observation)})
