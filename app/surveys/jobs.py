"""The surveys domain's scheduled work, run by the scheduler's table (app/scheduler/table.py) and by
`flask reminders survey-units`. Safe to run twice: a reminder is raised once per unit and day."""

from __future__ import annotations

from datetime import date

from app import uow
from app.surveys import reminders


@uow.transactional
def remind_survey_units(today: date | None = None) -> str:
    """Queue today's survey unit reminders (docs/surveys.md, Reminders); the sweep sends them."""
    return str(reminders.queue_unit_reminders(today))
