"""Campaign progress on the supervisors' dashboard (issue 19 point 7, docs/surveys.md, Campaigns):
the running campaigns of the organizations shown, each with its units covered of total, by township and
by assignee. Coverage itself is app.surveys.coverage's (what "covered" means, how it is computed)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.accounts.models import Organization
from app.extensions import db
from app.surveys import coverage
from app.surveys.models import Campaign

MAX_CAMPAIGNS = 10  # the dashboard shows at most this many running campaigns (soonest ending first)


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    totals: coverage.Tally
    by_township: list[coverage.Group]
    by_assignee: list[coverage.Group]


def _with_bureaus(organization_ids: Collection[int]) -> list[int]:
    """The organizations and the bureaus they report to: a campaign is its bureau's, and a township
    station's staff work in their bureau's campaigns (docs/contract.md §2 Organization; takes_part)."""
    parents = db.session.scalars(
        sa.select(Organization.parent_id).where(
            Organization.id.in_(sorted(organization_ids)), Organization.parent_id.is_not(None)
        )
    )
    return sorted(set(organization_ids) | {p for p in parents if p is not None})


def running_campaigns(organization_ids: Collection[int] | None, today: date) -> list[Campaign]:
    """The campaigns running today (Asia/Shanghai) of these organizations and of the bureaus they report
    to (a station's dashboard shows its bureau's campaigns, in which its staff work); None: every one's."""
    stmt = sa.select(Campaign).where(Campaign.starts_on <= today, Campaign.ends_on >= today)
    if organization_ids is not None:
        stmt = stmt.where(Campaign.organization_id.in_(_with_bureaus(organization_ids)))
    return list(db.session.scalars(stmt.order_by(Campaign.ends_on, Campaign.id).limit(MAX_CAMPAIGNS)))


def campaign_progress(organization_ids: Collection[int] | None, today: date) -> list[CampaignProgress]:
    """Each running campaign's coverage tallies: in all, per township and per assignee."""
    found = []
    for campaign in running_campaigns(organization_ids, today):
        result = coverage.compute(campaign, today=today)
        found.append(CampaignProgress(campaign, result.totals, result.by_township, result.by_assignee))
    return found
