"""Notification texts by name, written in whatever language is active when they are composed.

A notification is stored with its message key and values (`Notification.message_key`, `.params`), so
the inbox writes it in the reader's language each time it is read; e-mail is composed once, in the
recipient's language, when it is queued. Rows stored before keys existed keep their frozen text.

Values are plain JSON (names, codes, ISO dates), never translated text, so that they read the same in
either language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

MAX_LINKS = 10  # a grouped reminder links to this many follow-ups, then to the list


@dataclass
class Composed:
    subject: str
    body: str
    links: list[list[str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def as_message(self) -> dict[str, Any]:
        return {"subject": self.subject, "body": self.body, "links": self.links, "data": self.data}


def url(path: str) -> str:
    return f"{current_app.config['IAS_BASE_URL']}{path}"


# ---------------------------------------------------------------------------------------------
# Follow-up reminders: one message per person per sweep, listing every follow-up it reminds of.
# An item: {"kind": "follow_up_due" | "follow_up_overdue" | "follow_up_escalated", "follow_up_id",
# "site_id", "site", "species", "place", "due", "days", "assignee"}, and "supervised": true on the
# supervisor's copy of a due or overdue reminder.


def _one_reminder(kind: str, values: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a reminder about one follow-up."""
    if values.get("supervised"):  # the supervisor's copy of a due or overdue reminder
        if kind == "follow_up_due":
            subject = _("[Re-inspection due] %(species)s site %(site)s, assigned to %(assignee)s", **values)
            body = _(
                "%(name)s,\nthe re-inspection of %(species)s site %(site)s (%(place)s), assigned to "
                "%(assignee)s, is due today, %(due)s.",
                **values,
            )
        else:
            subject = _(
                "[Re-inspection overdue] %(species)s site %(site)s, assigned to %(assignee)s", **values
            )
            body = _(
                "%(name)s,\nthe re-inspection of %(species)s site %(site)s (%(place)s), assigned to "
                "%(assignee)s, was due on %(due)s and is %(days)s day(s) overdue.",
                **values,
            )
        return subject, body
    if kind == "follow_up_due":
        subject = _("[Re-inspection due] %(species)s site %(site)s is due today", **values)
        body = _(
            "%(name)s,\nthe re-inspection of %(species)s site %(site)s (%(place)s) is due today, %(due)s.\n"
            "Please survey the site and complete the follow-up.",
            **values,
        )
    elif kind == "follow_up_overdue":
        subject = _("[Re-inspection overdue] %(species)s site %(site)s was due %(due)s", **values)
        body = _(
            "%(name)s,\nthe re-inspection of %(species)s site %(site)s (%(place)s) was due on %(due)s "
            "and is %(days)s day(s) overdue.\nPlease survey the site and complete the follow-up.",
            **values,
        )
    else:
        subject = _("[Escalated] %(species)s site %(site)s re-inspection %(days)s days overdue", **values)
        body = _(
            "%(name)s,\nthe re-inspection of %(species)s site %(site)s (%(place)s), assigned to "
            "%(assignee)s, was due on %(due)s and is %(days)s days overdue.\n"
            "Please reassign or reschedule it if needed.",
            **values,
        )
    return subject, body


def _reminder_line(kind: str, values: dict[str, Any]) -> str:
    if values.get("supervised") and kind == "follow_up_due":
        return _(
            "%(species)s site %(site)s (%(place)s), assigned to %(assignee)s: due today, %(due)s", **values
        )
    if values.get("supervised"):
        return _(
            "%(species)s site %(site)s (%(place)s), assigned to %(assignee)s: due %(due)s, "
            "%(days)s day(s) overdue",
            **values,
        )
    if kind == "follow_up_due":
        return _("%(species)s site %(site)s (%(place)s): due today, %(due)s", **values)
    if kind == "follow_up_overdue":
        return _("%(species)s site %(site)s (%(place)s): due %(due)s, %(days)s day(s) overdue", **values)
    return _(
        "%(species)s site %(site)s (%(place)s), assigned to %(assignee)s: due %(due)s, "
        "%(days)s days overdue (escalated to you)",
        **values,
    )


def follow_up_reminders(params: dict[str, Any]) -> Composed:
    """One person's reminders from one sweep; a single one reads as it always did."""
    items: list[dict[str, Any]] = params["items"]
    name = params.get("name") or "-"
    if len(items) == 1:
        item = items[0]
        subject, body = _one_reminder(item["kind"], {**item, "name": name})
        links = [
            [_("Follow-up"), url(f"/follow-ups/{item['follow_up_id']}")],
            [_("Site"), url(f"/sites/{item['site_id']}")],
        ]
        return Composed(subject, body, links)
    count = len(items)
    sites = sorted({item["site"] for item in items})
    subject = ngettext(
        "[Re-inspections] %(num)d reminder, site %(sites)s",
        "[Re-inspections] %(num)d reminders, sites %(sites)s",
        count,
        sites="、".join(sites[:3]) + ("…" if len(sites) > 3 else ""),
    )
    lines = [_("%(name)s,", name=name)]
    lines += [f"- {_reminder_line(item['kind'], item)}" for item in items]
    lines.append(_("Please survey the sites and complete the follow-ups."))
    links = [
        [
            _("Follow-up %(site)s, due %(due)s", site=item["site"], due=item["due"]),
            url(f"/follow-ups/{item['follow_up_id']}"),
        ]
        for item in items[:MAX_LINKS]
    ]
    links.append([_("All follow-ups"), url("/follow-ups")])
    return Composed(subject, "\n".join(lines), links)


def follow_up_assigned(params: dict[str, Any]) -> Composed:
    """A follow-up was reassigned to the reader."""
    subject = _(
        "[Re-inspection assigned] %(species)s site %(site)s, due %(due)s",
        species=params["species"],
        site=params["site"],
        due=params["due"],
    )
    body = _(
        "%(name)s,\n%(by)s assigned you the re-inspection of %(species)s site %(site)s (%(place)s), "
        "due %(due)s.",
        **params,
    )
    links = [
        [_("Follow-up"), url(f"/follow-ups/{params['follow_up_id']}")],
        [_("Site"), url(f"/sites/{params['site_id']}")],
    ]
    return Composed(subject, body, links)


def observation_reviewed(params: dict[str, Any]) -> Composed:
    """The surveyor's record was returned for changes or rejected, with the verifier's comment."""
    returned = params["returned"]
    if returned:
        subject = _("[Returned] Your %(species)s record needs changes", species=params["species"])
    else:
        subject = _("[Rejected] Your %(species)s record was rejected", species=params["species"])
    body = _(
        "Record %(id)s (%(species)s, %(when)s) was %(decision)s by the verifier.\nComment: %(comment)s",
        id=params["id"],
        species=params["species"],
        when=params["when"],
        decision=_("returned for changes") if returned else _("rejected"),
        comment=params.get("comment") or "",
    )
    return Composed(subject, body, [[_("Open the record"), url(f"/observations/{params['id']}")]])


def _bureau(params: dict[str, Any]) -> str:
    """The exported bureau as a reader knows it: its name (notices stored before names were kept give
    only its code), or the district."""
    if params.get("bureau_name"):
        return str(params["bureau_name"])
    if params.get("bureau") == "district":
        return _("the whole district")
    return str(params["bureau"])


def export_ready(params: dict[str, Any]) -> Composed:
    """A census workbook the reader asked for is ready to download."""
    subject = _(
        "[Export ready] %(bureau)s census workbook, %(rows)s rows",
        bureau=_bureau(params),
        rows=params["rows"],
    )
    body = _(
        "Your export %(id)s is ready: %(rows)s rows. The file can be downloaded until %(until)s.",
        id=params["id"],
        rows=params["rows"],
        until=params["until"],
    )
    return Composed(subject, body, [[_("Download"), url(f"/api/v1/exports/{params['id']}/download")]])


# ---------------------------------------------------------------------------------------------
# Survey unit reminders (docs/surveys.md, Reminders): one message per person per pass. An item:
# {"kind": "survey_unit_due" | "survey_unit_overdue", "unit_id", "campaign_id", "campaign", "unit",
# "township", "due", "days", "assignee"}.


def _survey_line(item: dict[str, Any]) -> str:
    if item["kind"] == "survey_unit_due":
        return _("%(unit)s (%(township)s), %(campaign)s: not started, due %(due)s", **item)
    return _(
        "%(unit)s (%(township)s), %(campaign)s, assigned to %(assignee)s: not covered, due %(due)s, "
        "%(days)s day(s) overdue",
        **item,
    )


def survey_unit_reminders(params: dict[str, Any]) -> Composed:
    """Survey units not started as their due day nears (to the assignee), or overdue (to supervisors)."""
    items: list[dict[str, Any]] = params["items"]
    name = params.get("name") or "-"
    campaigns = sorted({(item["campaign_id"], item["campaign"]) for item in items})
    links = [
        [_("Coverage of %(campaign)s", campaign=title), url(f"/campaigns/{cid}/coverage")]
        for cid, title in campaigns[:MAX_LINKS]
    ]
    if len(items) == 1:
        item = {**items[0], "name": name}
        if item["kind"] == "survey_unit_due":
            subject = _("[Survey unit due] %(unit)s of %(campaign)s is due %(due)s", **item)
            body = _(
                "%(name)s,\nsurvey unit %(unit)s (%(township)s) of %(campaign)s is due on %(due)s and "
                "nothing has been recorded in it yet.\nPlease walk it and record what you find, and what "
                "you searched for and did not find.",
                **item,
            )
        else:
            subject = _("[Survey unit overdue] %(unit)s of %(campaign)s was due %(due)s", **item)
            body = _(
                "%(name)s,\nsurvey unit %(unit)s (%(township)s) of %(campaign)s, assigned to %(assignee)s, "
                "was due on %(due)s and is %(days)s day(s) overdue without coverage.\n"
                "Please reassign it or change its due date if needed.",
                **item,
            )
        return Composed(subject, body, links)
    subject = ngettext(
        "[Survey units] %(num)d reminder, %(campaigns)s",
        "[Survey units] %(num)d reminders, %(campaigns)s",
        len(items),
        campaigns="、".join(title for _cid, title in campaigns[:3]) + ("…" if len(campaigns) > 3 else ""),
    )
    lines = [_("%(name)s,", name=name)]
    lines += [f"- {_survey_line(item)}" for item in items]
    lines.append(_("Please see the campaigns' coverage."))
    return Composed(subject, "\n".join(lines), links)


def export_failed(params: dict[str, Any]) -> Composed:
    """A census workbook the reader asked for could not be made: say so, and how to try again."""
    subject = _("[Export failed] %(bureau)s census workbook", bureau=_bureau(params))
    if params.get("stopped"):
        reason = _(
            "It stopped %(count)s times before it was finished, perhaps for lack of memory: request it "
            "again for a shorter period or with narrower filters (one township or one species, for example).",
            count=params["stopped"],
        )
    else:
        reason = _("An error stopped it; request it again, and tell an administrator if it fails again.")
    body = _("Your export %(id)s could not be made.", id=params["id"]) + " " + reason
    return Composed(subject, body, [[_("Exports"), url("/exports")]])


MESSAGES: dict[str, Callable[[dict[str, Any]], Composed]] = {
    "follow_up_reminders": follow_up_reminders,
    "follow_up_assigned": follow_up_assigned,
    "observation_reviewed": observation_reviewed,
    "export_ready": export_ready,
    "export_failed": export_failed,
    "survey_unit_reminders": survey_unit_reminders,
}


def compose(key: str, params: dict[str, Any]) -> Composed:
    """The message `key` with `params`, in the active language. Raises KeyError for an unknown key."""
    return MESSAGES[key](params)


def render(message_key: str | None, params: dict[str, Any] | None) -> Composed | None:
    """The message in the active language, or None when it has to be read as stored (no key, a key
    this version does not know, or values it cannot fill)."""
    if not message_key or params is None or message_key not in MESSAGES:
        return None
    try:
        return compose(message_key, params)
    except (KeyError, TypeError, ValueError):
        return None
