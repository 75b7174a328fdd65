"""What the district domain tells the domains above it (app/events.py): frozen, values only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BoundariesLoaded:
    """A level's polygons (`level`: "township" or "village", as BoundaryLevel's value) were loaded or
    replaced in this unit of work. What was recorded before them without a township or a village may now
    be given the one its point lies in: handlers do that and return `Placed`."""

    level: str


@dataclass(frozen=True)
class Placed:
    """What a handler of `BoundariesLoaded` placed: records and sites that had no unit of that level and
    now have the one their point lies in (the load's report says how many)."""

    records: int = 0
    sites: int = 0
    # Of the records a village load gave their village's township too: those the township polygons
    # disagree with, flagged township_mismatch at the load (as an edit would flag them).
    township_flagged: int = 0


@dataclass(frozen=True)
class Rechecked:
    """What a handler of `BoundariesLoaded` re-checked: records whose named unit of that level (a township,
    or a village) the new polygons now disagree with, newly flagged (`township_mismatch`,
    `village_mismatch`), and records flagged before that the new polygons agree with (or no longer have a
    polygon for), no longer flagged. The unit itself is never changed; the load's report says how many."""

    flagged: int = 0
    unflagged: int = 0
