"""The one table of scheduled jobs: what runs, and when.

Each entry names a domain's job (its jobs.py: a plain function that runs as one unit of work and is safe
to run twice) and its trigger, read from the configuration. The functions here only adapt a job to the
scheduler: they pass the process's owner name where a job claims work, and say in a log line what it did
(nothing for an idle run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.accounts import jobs as accounts
from app.exports import jobs as exports
from app.notifications import jobs as notifications
from app.photos import jobs as photos
from app.surveys import jobs as surveys

Job = Callable[[str], Any]  # takes the scheduler process's owner name; what it returns is logged if truthy


def sweep(owner: str) -> notifications.SweepReport:
    return notifications.sweep(owner)


def daily_digest(owner: str) -> str:
    count = notifications.daily_digest()
    return f"{count} digests queued" if count else ""


def run_exports(owner: str) -> str:
    ran = exports.run_pending_exports(owner)
    return f"{ran} exports written" if ran else ""


def purge_exports(owner: str) -> str:
    purged = exports.purge_expired()
    return f"{purged} expired export files deleted" if purged else ""


def prune_sign_ins(owner: str) -> str:
    return accounts.prune_sign_ins()


def survey_reminders(owner: str) -> str:
    return surveys.remind_survey_units()


def stray_photo_files(owner: str) -> str:
    removed = photos.remove_stray_files()
    return f"{removed} stray photo files deleted" if removed else ""


# Run once as soon as the scheduler starts, then by their trigger (the others wait for their first time).
RUN_AT_START = frozenset({"sweep"})


def jobs(config: Mapping[str, Any]) -> list[tuple[str, Job, BaseTrigger]]:
    """(name, job, trigger) for every scheduled job. The job ids ("exports" …) are the scheduler's names."""
    zone = config["IAS_TIMEZONE"]
    sweep_seconds = int(config["IAS_SWEEP_SECONDS"])
    hour, minute = (int(part) for part in config["IAS_DIGEST_AT"].split(":"))
    return [
        ("sweep", sweep, IntervalTrigger(seconds=sweep_seconds)),
        ("daily_digest", daily_digest, CronTrigger(hour=hour, minute=minute, timezone=zone)),
        ("exports", run_exports, IntervalTrigger(seconds=max(sweep_seconds // 4, 2))),
        ("purge_exports", purge_exports, CronTrigger(minute=17, timezone=zone)),
        ("prune_sign_ins", prune_sign_ins, CronTrigger(minute=41, timezone=zone)),
        # Hourly in the working day (before the 08:00 digest, and again as units change); once per unit a day.
        ("survey_reminders", survey_reminders, CronTrigger(hour="7-20", minute=7, timezone=zone)),
        # At night, when nobody uploads: reads every file name under photos/ and every photo's keys.
        ("stray_photo_files", stray_photo_files, CronTrigger(hour=3, minute=23, timezone=zone)),
    ]
