"""Pages for control operations and follow-ups.

Recording (a control operation, a follow-up's re-inspection) goes through the phone's outbox to the API,
like a new observation, so it works with no signal; these views draw the forms and the lists. Managing a
follow-up (reassign, reschedule, cancel) is a desk task and a plain form post.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app import metrics, pages, policy
from app.accounts.organizations import acting_ids, unit_ids
from app.accounts.services import get_organization
from app.clock import local_today
from app.control import assessment, staff
from app.control import follow_ups as follow_up_rules
from app.control.follow_ups import FOLLOW_UP_LABELS
from app.control.models import ControlOperation, FollowUp, FollowUpStatus
from app.control.schemas import FollowUpForm, FollowUpPageArgs, NewOperationArgs
from app.district.services import find_townships
from app.errors import InvalidInput, ServiceError
from app.extensions import db
from app.observations import services as observation_services
from app.paging import PAGE_SIZE, page_links, paginate
from app.sites import services as site_services
from app.sites.models import Site, SiteStatus

bp = Blueprint("control", __name__)

# Efficacy figures by the names control.services gives them.
METRIC_LABELS = {metric.key: metric.label for metric in metrics.EFFICACY}
SITE_CHOICES = 300  # the site picker lists this many of the organization's most recently seen sites


@bp.route("/control-operations/new")
@login_required
def new_operation() -> str:
    """The control operation form, for a site or from the record that found the species."""
    site = observation = None
    args = pages.load(NewOperationArgs)  # a malformed id: a 422 page naming it
    if (observation_id := args.get("observation_id")) is not None:
        observation = observation_services.get_observation(observation_id)
        site = observation.site
    elif (site_id := args.get("site_id")) is not None:
        site = site_services.get_site(site_id)
    sites: list[Site] = []
    if site is None:
        own_sites = acting_ids(current_user) or {current_user.organization_id}
        sites = list(
            db.session.scalars(
                sa.select(Site)
                .options(joinedload(Site.species), joinedload(Site.township))
                .where(
                    # The sites of the organizations the user acts for (a bureau's units' too).
                    Site.organization_id.in_(sorted(own_sites)),
                    Site.status != SiteStatus.CLEARED,
                )
                .order_by(Site.last_observed_at.desc(), Site.id.desc())
                .limit(SITE_CHOICES)
            )
        )
    return render_template(
        "control/new_operation.html",
        site=site,
        observation=observation,
        sites=sites,
        colleagues=staff.assignable_users(current_user.organization_id),
        title=_("Control operation"),
    )


def _follow_up_filters(args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Filters from the page's query. Everyone sees their own; managers may see those of the
    organizations they act for (a bureau's units' too)."""
    # A manager's list opens on the organization's (their work is everyone's re-inspections), a
    # surveyor's on their own; "mine" narrows a manager's.
    scope_all = policy.manages_follow_ups(current_user) and args.get("scope", "all") == "all"
    filters: dict[str, Any] = {}
    if args["status"] != "any":
        filters["status"] = FollowUpStatus(args["status"])
    if args.get("overdue") in {"1", "true"}:
        filters["overdue"] = True
    if scope_all:
        ids = acting_ids(current_user)
        code = args.get("organization", "").strip()
        if code:
            # One organization and its units, as the dashboard narrowed to it counts them; within what
            # the reader acts for.
            organization = get_organization(code)
            if organization is None:
                unknown = {"organization": [_("Unknown organization.")]}
                raise ServiceError(pages.describe(unknown), unknown)
            ids = unit_ids(organization.id) if ids is None else ids & unit_ids(organization.id)
        if ids is not None:
            filters["organization_ids"] = ids
        if "assignee_id" in args:
            filters["assignee_id"] = args["assignee_id"]
    else:
        filters["assignee_id"] = current_user.id
    return filters, scope_all


@bp.route("/follow-ups")
@login_required
def follow_ups() -> str:
    """Follow-ups, pending first, by due date: a surveyor's own; a manager's organization's (and its
    units'), or with scope=mine their own."""
    args, errors = pages.read(FollowUpPageArgs)
    if not policy.manages_follow_ups(current_user) or args.get("scope", "all") != "all":
        errors.pop("assignee_id", None)  # only a manager's wider list reads the assignee
    if errors:
        raise ServiceError(pages.describe(errors), errors)  # a 400 page naming the fields
    filters, scope_all = _follow_up_filters(args)
    stmt = follow_up_rules.filtered_follow_ups(filters).options(
        joinedload(FollowUp.site).joinedload(Site.species),
        joinedload(FollowUp.site).joinedload(Site.township),
        joinedload(FollowUp.assignee),
    )
    township_code = args.get("township_code", "").strip()
    if township_code:
        townships = find_townships(township_code)
        if not townships:
            unknown = {"township_code": [_("Unknown township %(code)s.", code=township_code)]}
            raise ServiceError(pages.describe(unknown), unknown)
        stmt = stmt.join(FollowUp.site).where(Site.township_id.in_([t.id for t in townships]))
    result = paginate(stmt, page=args["page"], per_page=PAGE_SIZE)
    return render_template(
        "control/follow_ups.html",
        page=result,
        page_url=page_links(args, FollowUpPageArgs),
        scope_all=scope_all,
        manager=policy.manages_follow_ups(current_user),
        args=args,
        today=local_today(),
        labels=FOLLOW_UP_LABELS,
        title=_("Follow-ups"),
    )


def _may_manage(follow_up: FollowUp) -> bool:
    return policy.may_manage_follow_up(current_user, follow_up)


@bp.route("/follow-ups/<int:follow_up_id>")
@login_required
def follow_up(follow_up_id: int) -> str:
    """One follow-up: what to re-inspect, the completion form while pending, the efficacy once done."""
    item = follow_up_rules.get_follow_up(follow_up_id)
    return _render_follow_up(item)


def _render_follow_up(item: FollowUp, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    manage = _may_manage(item) and item.status == FollowUpStatus.PENDING
    may_accept = _may_manage(item) and assessment.efficacy_withheld(item)
    may_complete = item.status == FollowUpStatus.PENDING and follow_up_rules.may_complete(current_user, item)
    operation: ControlOperation | None = item.control_operation
    return (
        render_template(
            "control/follow_up.html",
            item=item,
            operation=operation,
            manage=manage,
            may_complete=may_complete,
            may_accept=may_accept,
            far_limit_m=follow_up_rules.FAR_FROM_SITE_RADII * float(current_app.config["IAS_SITE_RADIUS_M"]),
            efficacy_gap=assessment.efficacy_gap_text(item.efficacy),
            efficacy_rose=assessment.efficacy_rose(item.efficacy),
            colleagues=staff.assignable_users(item.organization_id) if manage else [],
            errors=errors or {},
            today=local_today(),
            labels=FOLLOW_UP_LABELS,
            metric_labels=METRIC_LABELS,
            title=_("Follow-up"),
        ),
        status,
    )


@bp.route("/follow-ups/<int:follow_up_id>", methods=["POST"])
@login_required
def manage_follow_up(follow_up_id: int) -> Any:
    """Reassign, reschedule or cancel (supervisors), with the same rules as PATCH /api/v1/follow-ups."""
    item = follow_up_rules.get_follow_up(follow_up_id)
    form, errors = pages.read(FollowUpForm, location="form")
    action = form.get("action")
    changes: dict[str, Any] = {}
    if "action" in errors:
        raise InvalidInput.field("action", errors["action"][0])
    if action == "reassign":
        if "assignee_id" not in form and "assignee_id" not in errors:
            errors["assignee_id"] = [_("Choose who does the re-inspection.")]
        changes["assignee_id"] = form.get("assignee_id")
    elif action == "reschedule":
        if "due_on" not in form and "due_on" not in errors:
            errors["due_on"] = [_("Give the new date as YYYY-MM-DD.")]
        changes["due_on"] = form.get("due_on")
    elif action == "cancel":
        changes["status"] = FollowUpStatus.CANCELLED
        changes["cancelled_reason"] = form["cancelled_reason"]
    else:  # accept_far
        follow_up_rules.accept_far_follow_up(actor=current_user, follow_up=item)
        flash(_("The re-inspection was accepted; its efficacy now counts."), "info")
        return redirect(url_for("control.follow_up", follow_up_id=item.id))
    # Only what the action uses: a stray input of another action's is not its error.
    used = {"reassign": "assignee_id", "reschedule": "due_on", "cancel": "cancelled_reason"}[action]
    errors = {name: messages for name, messages in errors.items() if name == used}
    if errors:
        db.session.rollback()
        return _render_follow_up(item, errors, 422)
    try:
        follow_up_rules.update_follow_up(actor=current_user, follow_up=item, changes=changes)
    except InvalidInput as exc:
        db.session.rollback()
        item = follow_up_rules.get_follow_up(follow_up_id)
        return _render_follow_up(item, exc.errors, 422)
    except ServiceError:
        db.session.rollback()
        raise
    flash(
        {
            "reassign": _("The follow-up was reassigned."),
            "reschedule": _("The follow-up was rescheduled."),
            "cancel": _("The follow-up was cancelled."),
        }[action],
        "info",
    )
    return redirect(url_for("control.follow_up", follow_up_id=item.id))
