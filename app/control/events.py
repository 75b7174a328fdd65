"""What control tells the domains above it (app/events.py): frozen, ids and values only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowUpAssigned:
    """A supervisor gave a pending follow-up to another assignee."""

    follow_up_id: int
    actor_id: int
