"""What observations tells the domains above it (app/events.py): frozen, ids and values only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ObservationReviewed:
    """A verifier decided on a record: `decision` is the ReviewStatus value (verified, returned, rejected)."""

    observation_id: int
    decision: str


@dataclass(frozen=True)
class ObservationResubmitted:
    """The surveyor edited a returned record, now submitted again (`returned_at`: when it was returned)."""

    observation_id: int
    returned_at: datetime
