"""Scheduled work of the accounts domain: the scheduler (app/scheduler) runs each as a unit of work."""

from __future__ import annotations

from app import uow
from app.accounts import services


@uow.transactional
def prune_sign_ins() -> str:
    """Delete sessions ended over a day ago and sign-in counts a window past their last attempt."""
    pruned = services.prune_sign_in_records()
    return f"{pruned} ended sessions and old sign-in counts deleted" if pruned else ""
