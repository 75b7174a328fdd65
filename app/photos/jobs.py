"""The photos domain's scheduled work, run by the scheduler's table (app/scheduler/table.py)."""

from __future__ import annotations

from app import uow
from app.photos import services


@uow.transactional
def remove_stray_files() -> int:
    """Delete photo files left by uploads whose process died before the commit; returns how many."""
    return services.remove_stray_files()
