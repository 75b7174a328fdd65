"""`flask scheduler run`: the scheduler process; `flask reminders send-due`: its sweep once, for cron."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit.services import set_actor_label
from app.notifications import jobs as notifications
from app.scheduler.process import SchedulerProcess
from app.surveys import jobs as surveys

scheduler_cli = AppGroup("scheduler", help="The scheduler process.")
reminders_cli = AppGroup("reminders", help="Follow-up reminders and the notification outbox.")


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler (reminder sweeps, daily digest, exports) until stopped. Run exactly one."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run
    SchedulerProcess(current_app._get_current_object()).run()  # type: ignore[attr-defined]


@reminders_cli.command("send-due")
def send_due_command() -> None:
    """One sweep: queue the reminders now due and send the outbox (for cron, instead of the scheduler).

    It claims deliveries as the scheduler does, and renews each claim before sending: a run that
    overlaps another (a slow mail server outlasting the cron interval) or a scheduler never sends what
    the other has taken over."""
    set_actor_label("cli")
    report = notifications.sweep()
    click.echo(str(report))


@reminders_cli.command("survey-units")
def survey_units_command() -> None:
    """Queue today's survey unit reminders (due soon, overdue) once; the sweep sends them."""
    set_actor_label("cli")
    click.echo(surveys.remind_survey_units() or "no survey unit reminders due")
