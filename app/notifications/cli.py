from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit.services import set_actor_label
from app.notifications import services

reminders_cli = AppGroup("reminders", help="Follow-up reminders and the notification outbox.")
scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


@reminders_cli.command("send-due")
def send_due_command() -> None:
    """One sweep: queue the reminders now due and send the outbox (for cron)."""
    set_actor_label("cli")
    report = services.sweep()
    click.echo(str(report))


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler (reminder sweeps, daily digest) until stopped. Run exactly one."""
    from app.scheduler import SchedulerProcess

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run
    SchedulerProcess(current_app._get_current_object()).run()  # type: ignore[attr-defined]
