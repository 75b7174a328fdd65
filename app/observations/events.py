"""What observations tells the domains above it (app/events.py): frozen, ids and values only."""

from __future__ import annotations

import uuid
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


@dataclass(frozen=True)
class ObservationEdited:
    """Its surveyor changed a record (figures, time, place, species, found or not): `site_ids` are the
    sites it was and is now at (one when it stayed), so what a higher domain worked out from the records
    of those sites (control's efficacy) can be worked out again."""

    observation_id: int
    site_ids: tuple[int, ...]


@dataclass(frozen=True)
class ObservationRecorded:
    """A new record passed its own checks and is about to be written (nothing is written yet, so a
    subscriber that refuses it with InvalidInput leaves nothing behind; the unit of work rolls back).
    Published once per record, not for a retry answered with the first record."""

    client_uuid: uuid.UUID
    organization_id: int
    surveyor_id: int
    species_id: int
    detected: bool
    observed_at: datetime
    campaign_id: int | None
    route_uuid: uuid.UUID | None


@dataclass(frozen=True)
class ObservationAdded:
    """A new record was written at a site that existed before it (`site_id`): what a higher domain
    worked out from that site's records (control's efficacy) may now read it too, when the phone sent it
    late. A record that opened its site, or is at none, is in nothing worked out before it. Published
    once per new record, not for a retry answered with the first record."""

    observation_id: int
    site_id: int
    species_id: int
    detected: bool
    observed_at: datetime
