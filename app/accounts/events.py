"""What accounts tells the domains above it (app/events.py): frozen, ids and values only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UserLeft:
    """A user was moved to another organization or deactivated: work assigned to them for an
    organization they no longer work for (a pending re-inspection) must go back to that organization.
    Handlers return how many items they handed back (an int), which the answer reports."""

    user_id: int
    organization_id: int  # the organization they were in before the change
