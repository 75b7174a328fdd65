"""Raising notifications: the verbs other domains call when something happens that someone must hear of.

Each puts the event in a person's inbox (app/notifications/inbox.py) and, by their choice, in the e-mail
outbox (app/notifications/outbox.py), in the same transaction as the change that caused it: nothing is
sent from a request, and a change rolled back raises nothing. The scheduler's sweep sends the outbox
(app/notifications/jobs.py). An event has a key; raising the same event twice reaches a person once.

Follow-up reminders and the daily digest are raised by the scheduler, not by other domains
(reminders.py, digest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from app import policy
from app.accounts.models import Organization, User
from app.clock import local_zone
from app.control.models import FollowUp
from app.extensions import db
from app.notifications import messages
from app.notifications.letters import Letters
from app.notifications.messages import Composed
from app.notifications.models import NotificationKind
from app.sites.models import Site


def notify(
    user: User,
    kind: NotificationKind,
    event_key: str,
    composed: Composed,
    *,
    message_key: str | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Put an event in a person's inbox and, by their choice, the e-mail outbox (once per event).

    With `message_key` and `params` (app/notifications/messages.py) the inbox writes the message in
    the reader's language when it is read; `composed` is its text in the recipient's language now.
    """
    letters = Letters()
    letters.composed_to(
        user,
        user_id=user.id,
        kind=kind,
        key=event_key,
        composed=composed,
        message_key=message_key,
        params=params,
    )
    letters.insert()


def notify_message(
    user: User,
    kind: NotificationKind,
    event_key: str,
    message_key: str,
    params: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """`notify` with a named message, composed in the recipient's language for the e-mail (the one
    composition of app/notifications/letters.py, which the reminder passes use too)."""
    letters = Letters()
    letters.to_person(
        user, user_id=user.id, kind=kind, key=event_key, message_key=message_key, params=params, data=data
    )
    letters.insert()


def notify_review(observation: Any) -> None:
    """Tell the surveyor their record was returned or rejected, with the verifier's comment."""
    returned = observation.status.value == "returned"
    kind = NotificationKind.OBSERVATION_RETURNED if returned else NotificationKind.OBSERVATION_REJECTED
    params = {
        "returned": returned,
        "id": observation.id,
        "species": observation.species.name_zh,
        "when": observation.observed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
        "comment": observation.review_comment or "",
    }
    key = f"{kind.value}:{observation.id}:{observation.reviewed_at.isoformat()}"
    data = {"kind": kind.value, "observation_id": observation.id}
    notify_message(observation.surveyor, kind, key, "observation_reviewed", params, data)


def _place(site: Site) -> str:
    township = site.township.name_zh if site.township is not None else None
    return "".join(p for p in (township, site.place_name) if p) or "-"


def notify_assigned(follow_up: FollowUp, *, actor: User) -> None:
    """Tell the new assignee of a reassigned follow-up (in-app, and e-mail by their settings)."""
    assignee = db.session.get(User, follow_up.assignee_id) if follow_up.assignee_id else None
    if assignee is None or assignee.id == actor.id:
        return
    site = follow_up.site
    params = {
        "follow_up_id": follow_up.id,
        "site_id": site.id,
        "site": site.code,
        "species": site.species.name_zh,
        "place": _place(site),
        "due": follow_up.due_on.isoformat(),
        "name": assignee.display_name,
        "by": actor.display_name,
    }
    # One event per assignment: a later reassignment back to the same person is news again.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    key = f"follow_up_assigned:{follow_up.id}:{assignee.id}:{stamp}"
    data = {"kind": "follow_up_assigned", "follow_up_id": follow_up.id, "site_id": site.id}
    notify_message(assignee, NotificationKind.FOLLOW_UP_ASSIGNED, key, "follow_up_assigned", params, data)


def notify_resubmitted(observation: Any, returned_at: datetime) -> None:
    """Tell the verifier who returned a record that its surveyor has changed it and sent it back."""
    verifier = db.session.get(User, observation.reviewed_by_id) if observation.reviewed_by_id else None
    if verifier is None or not verifier.active:
        return
    with force_locale(verifier.locale or "zh"):
        subject = _(
            "[Resubmitted] The %(species)s record you returned was changed",
            species=observation.species.name_zh,
        )
        body = _(
            "Record %(id)s (%(species)s, %(when)s) was changed by %(surveyor)s "
            "and waits for your review again.",
            id=observation.id,
            species=observation.species.name_zh,
            when=observation.observed_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"),
            surveyor=observation.surveyor.display_name,
        )
        links = [[_("Open the record"), messages.url(f"/observations/{observation.id}")]]
    kind = NotificationKind.OBSERVATION_RESUBMITTED
    # One per return: the same changes sent twice (a retry) notify once.
    key = f"{kind.value}:{observation.id}:{returned_at.isoformat()}"
    notify(
        verifier,
        kind,
        key,
        Composed(subject, body, links, {"kind": kind.value, "observation_id": observation.id}),
    )


@dataclass(frozen=True)
class _ExportOf:
    """An export as policy.may_read_export reads it: whose it is (None: the district's)."""

    organization_id: int | None


def _organization_name(organization_id: int | None) -> str | None:
    """The exported bureau's name, as its notices name it (None: the district's census)."""
    organization = db.session.get(Organization, organization_id) if organization_id is not None else None
    return organization.name if organization is not None else None


def notify_export_ready(
    *,
    requester_id: int,
    export_id: int,
    organization_id: int | None,
    bureau: str,
    rows: int,
    expires_at: datetime,
) -> None:
    """Tell whoever asked for an export that its workbook can be downloaded until `expires_at`.

    Only while they may still read it: a large export can finish hours after it was asked for, and a
    requester moved to another bureau, made a surveyor or deactivated meanwhile must not be sent a
    bureau's census (the download refuses them too; the notice would name its figures and its link)."""
    requester = db.session.get(User, requester_id)
    if requester is None or not requester.active:
        return
    if not policy.may_read_export(requester, _ExportOf(organization_id)):
        return
    until = expires_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
    params: dict[str, Any] = {
        "id": export_id,
        "bureau": bureau,
        "bureau_name": _organization_name(organization_id),
        "rows": rows,
        "until": until,
    }
    data: dict[str, Any] = {"kind": "export_ready", "export_id": export_id, "rows": rows}
    key = f"export_ready:{export_id}"
    notify_message(requester, NotificationKind.EXPORT_READY, key, "export_ready", params, data)


def notify_export_failed(
    *, requester_id: int, export_id: int, organization_id: int | None, bureau: str, stopped: int = 0
) -> None:
    """Tell whoever asked for an export that it failed (`stopped`: its runners died that many times), so
    that a clerk waiting on a census workbook hears of it instead of finding it failed days later. Only
    while they may still read the bureau's exports, as for `notify_export_ready`."""
    requester = db.session.get(User, requester_id)
    if requester is None or not requester.active:
        return
    if not policy.may_read_export(requester, _ExportOf(organization_id)):
        return
    params: dict[str, Any] = {
        "id": export_id,
        "bureau": bureau,
        "bureau_name": _organization_name(organization_id),
        "stopped": stopped,
    }
    data: dict[str, Any] = {"kind": "export_failed", "export_id": export_id}
    key = f"export_failed:{export_id}"
    notify_message(requester, NotificationKind.EXPORT_FAILED, key, "export_failed", params, data)
