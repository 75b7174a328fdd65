"""Pages of the dashboard domain (browser UI): the supervisor dashboard."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import pages, policy
from app.accounts.models import Organization
from app.accounts.services import get_organization, list_organizations
from app.census import counting
from app.census.scope import CensusScope, unit_ids
from app.clock import local_today
from app.dashboard import charts, services
from app.dashboard.campaigns import campaign_progress
from app.dashboard.schemas import DashboardArgs
from app.errors import PermissionDenied
from app.extensions import db
from app.species.models import Species
from app.species.services import get_species
from app.units import mu_exact

bp = Blueprint("dashboard", __name__)


def _organization(code: str) -> Organization | None:
    """The organization whose follow-ups and operations are shown; None: all of them (admin only)."""
    if policy.may_view_dashboard(current_user, None):  # every organization's (admin)
        return get_organization(code) if code else None
    organization: Organization = get_organization(code) if code else current_user.organization
    # A bureau's viewers may look at a unit's alone.
    if not policy.may_view_dashboard(current_user, organization.id):
        raise PermissionDenied(_("You see the dashboard of your own organization and its units only."))
    return organization


def _months_axis(months: list[date]) -> tuple[list[tuple[str, str]], list[str]]:
    """Axis labels (short month name, with the year under each January, and under the first month
    unless a January follows at once: two years side by side would collide) and full month names."""
    labels = []
    for i, month in enumerate(months):
        first = i == 0 and not (len(months) > 1 and months[1].month == 1)
        labels.append((format_date(month, "MMM"), str(month.year) if first or month.month == 1 else ""))
    return labels, [month.strftime("%Y-%m") for month in months]


def _whole(value: float) -> str:
    return format_decimal(value, "#,##0")


def _mu(value: float) -> str:
    return format_decimal(value, "#,##0.##")


@bp.route("/dashboard")
@login_required
def index() -> str:
    """Overdue re-inspections by township and assignee, and the monthly trend of records and treatments."""
    if not policy.sees_dashboard(current_user):
        raise PermissionDenied(_("The dashboard is for supervisors and administrators."))
    args = pages.load(DashboardArgs)
    organization = _organization(args.get("organization", "").strip())
    species_id = args.get("species_id")
    species = get_species(species_id) if species_id is not None else None
    # A bureau's dashboard includes the units under it (township stations …), as its census does.
    organization_ids = unit_ids(organization.id) if organization is not None else None

    today = local_today()
    months = services.month_starts(today)
    due = services.due_counts(organization_ids=organization_ids, today=today)
    by_township = services.overdue_by_township(organization_ids=organization_ids, today=today)
    by_assignee = services.overdue_by_assignee(organization_ids=organization_ids, today=today)
    observations = services.observations_by_month(months=months, species_id=species_id)
    areas = services.treated_area_by_month(months=months, organization_ids=organization_ids)
    species_choices = services.observed_species(months=months)
    # The year's census figures, counted as the census workbook counts them (app/census/counting.py).
    census_scope = CensusScope(organization_ids, date_from=date(today.year, 1, 1))
    census_rows = counting.occurrences(census_scope, by=("species", "township"))
    [census_total] = counting.roll_up(census_rows, ()) or [counting.Occurrence(None, None, 0, 0.0, 0, None)]
    census_species = counting.roll_up(census_rows, ("species",))
    census_control = counting.control_totals(census_scope, by=())
    species_names = {sid: name for sid, name in species_choices}
    missing = {o.species_id for o in census_species} - set(species_names)
    if missing:
        species_names.update(
            db.session.execute(sa.select(Species.id, Species.name_zh).where(Species.id.in_(missing))).tuples()
        )
    if species is not None and species.id not in {sid for sid, _name in species_choices}:
        species_choices.append((species.id, species.name_zh))
    organizations = (
        list(db.session.scalars(list_organizations()))
        if policy.may_view_dashboard(current_user, None)
        else []
    )

    axis, month_names = _months_axis(months)
    observation_chart = charts.column_chart(
        axis,
        [
            charts.Series(_("Presence"), "bar-fill", [m.presence for m in observations]),
            charts.Series(_("Absence"), "bar-alt", [m.absence for m in observations]),
        ],
        whole=True,
        number=_whole,
        category_titles=month_names,
    )
    area_chart = charts.column_chart(
        axis,
        [charts.Series(_("Treated area (mu-times)"), "bar-fill", [mu_exact(m.area_m2) for m in areas])],
        whole=False,
        number=_mu,
        category_titles=month_names,
    )
    return render_template(
        "dashboard/index.html",
        title=_("Dashboard"),
        today=today,
        organization=organization,
        organizations=organizations,
        species=species,
        species_choices=species_choices,
        due=due,
        by_township=by_township,
        by_assignee=by_assignee,
        township_peak=max((row.count for row in by_township), default=0),
        assignee_peak=max((row.count for row in by_assignee), default=0),
        share=charts.share,
        observations=list(zip(month_names, observations, strict=True)),
        areas=list(zip(month_names, areas, strict=True)),
        observation_chart=observation_chart,
        area_chart=area_chart,
        census_total=census_total,
        census_species=sorted(census_species, key=lambda o: (-o.points, species_names.get(o.species_id, ""))),
        census_treated_m2=census_control[0].area_m2 if census_control else 0.0,
        species_names=species_names,
        year=today.year,
        campaigns=campaign_progress(organization_ids, today),
    )
