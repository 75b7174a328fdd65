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


@dataclass(frozen=True)
class UnitMoving:
    """An admin is about to change the bureau an organization reports to (its `parent`: to another
    bureau, to none, or from none to one). A bureau's census is its organization tree as it is now, so
    the move would change the figures the bureaus have already counted and signed for the records of
    `organization_ids` (the organization and any unit under it). Handlers return how many records
    those organizations hold (an int); any makes accounts refuse the move (docs/census.md)."""

    organization_ids: tuple[int, ...]
