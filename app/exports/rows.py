"""The detail rows of a census workbook: one row per record, operation or follow-up in the census.

`Scope` says what one export covers (app/census/scope.py: the bureau's records and its units', or the
district's, in a date range, of the chosen review statuses, narrowed by the observation filters). Rows
are plain columns streamed from the database (never all in memory, never an ORM entity each), with
display-ready values: names, not codes; local times; 亩 beside m²; Chinese labels for statuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import Organization, User
from app.census import counting
from app.census.scope import CensusScope, parse_statuses
from app.clock import local_today, local_zone
from app.control.models import ControlOperation, FollowUp
from app.district.models import Township, Village
from app.district.services import find_townships
from app.exports.labels import POSITION_SOURCE_ZH, flags_zh
from app.exports.survey_routes import campaign_condition
from app.extensions import db
from app.observations import services as observations
from app.observations.models import Observation, ObservationFlag, ReviewStatus
from app.sites.models import Site
from app.species.models import ControlMethod, Habitat, Species
from app.units import to_mu

STATUS_ZH = {"submitted": "待审核", "verified": "审核通过", "rejected": "驳回", "returned": "退回修改"}
FOLLOW_UP_ZH = {"pending": "待复查", "done": "已完成", "cancelled": "已取消"}
KIND_ZH = {"scheduled": "防治后复查", "next_spring": "翌年春季复查", "manual": "人工安排"}


def mu(area_m2: float | None) -> float | None:
    """m² as 亩, the unit the census reports (app/units.py)."""
    return to_mu(area_m2)


def local(moment: datetime | None) -> datetime | None:
    """A stored (UTC) moment in Asia/Shanghai, as the workbook shows it."""
    return None if moment is None else moment.astimezone(local_zone())


class Scope:
    """What one export covers: the bureau's (or the district's) records in a date range, of the chosen
    review statuses, narrowed by the observation filters (app/census/scope.py)."""

    def __init__(
        self,
        bureau: str,
        date_from: date | None,
        date_to: date | None,
        filters: dict[str, Any],
        statuses: tuple[ReviewStatus, ...] | None = None,
    ):
        self.bureau = bureau
        self.date_from = date_from
        self.date_to = date_to
        self.filters = {k: v for k, v in filters.items() if k != "statuses"}
        self.statuses = statuses or parse_statuses(filters.get("statuses"))
        extra = observations.filtered(self.filters).whereclause
        # An export for one survey campaign: its records only (app/exports/survey_routes.py).
        campaign = campaign_condition(self.filters)
        species = {self.filters["species_id"]} if "species_id" in self.filters else None
        self._occurrences: list[counting.Occurrence] | None = None
        census = CensusScope.for_bureau(
            bureau,
            date_from=date_from,
            date_to=date_to,
            statuses=self.statuses,
            species_ids=frozenset(species) if species is not None else None,
            township_ids=_township_ids(self.filters),
            observation_extra=((extra,) if extra is not None else ()) + tuple(campaign),
        )
        if "organization" in self.filters:
            # One unit of the bureau: its operations and re-inspections too, not only its records.
            unit = db.session.scalar(
                sa.select(Organization.id).where(Organization.code == self.filters["organization"])
            )
            # (an unknown code was refused by `observations.filtered` above)
            unit_set = frozenset() if unit is None else frozenset({unit})
            owned = unit_set if census.organization_ids is None else census.organization_ids & unit_set
            census = dataclasses.replace(census, organization_ids=owned)
        self.census = census

    def observation_ids(self) -> sa.Select[Any]:
        return sa.select(Observation.id).where(*self.census.observation_conditions())

    def occurrences(self, by: tuple[str, ...]) -> list[counting.Occurrence]:
        """Occurrence figures by species and township, counted once per export and rolled up for the
        coarser summaries (counting.roll_up is exact)."""
        if self._occurrences is None:
            self._occurrences = counting.occurrences(self.census, by=("species", "township"))
        return counting.roll_up(self._occurrences, by)

    def operation_where(self) -> list[sa.ColumnElement[bool]]:
        return self.census.operation_conditions()

    def follow_up_where(self) -> list[sa.ColumnElement[bool]]:
        return self.census.follow_up_conditions()


def _township_ids(filters: dict[str, Any]) -> frozenset[int] | None:
    """The townships an export's `township_code` filter names (a code, a name or a former name), as
    GET /observations reads it; None without the filter."""
    if not filters.get("township_code"):
        return None
    return frozenset(t.id for t in find_townships(filters["township_code"]))


def _flags_by_observation() -> Any:
    """Each flagged observation's flags, comma-joined: one grouped pass, joined, not a query per row."""
    if db.session.get_bind().dialect.name == "postgresql":
        joined = sa.func.string_agg(ObservationFlag.flag, sa.literal_column("','"))
    else:
        joined = sa.func.group_concat(ObservationFlag.flag, ",")
    return (
        sa.select(ObservationFlag.observation_id, joined.label("flags"))
        .group_by(ObservationFlag.observation_id)
        .subquery("flags")
    )


def observation_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """Plain columns, not ORM objects: 100 000 rows stream through without building an entity each."""
    place_type = aliased(Habitat)
    land_class = aliased(Habitat)
    flags = _flags_by_observation()
    o = Observation
    stmt = (
        sa.select(
            o.id,
            o.client_uuid,
            o.observed_at,
            Species.name_zh,
            Species.name_sci,
            o.detected,
            Township.code,
            Township.name_zh,
            Village.code,
            Village.short_name,
            o.place_name,
            o.latitude,
            o.longitude,
            o.accuracy_m,
            o.altitude_m,
            o.position_source,
            sa.func.coalesce(land_class.name_zh, place_type.name_zh),
            place_type.name_zh,
            # The area the census counts for the record (its polygon's first, counting.record_area_m2); an
            # absence has none (a polygon it carries is where it was searched).
            sa.case((o.detected.is_(True), counting.record_area_m2())),
            o.cover_pct,
            o.density_per_m2,
            o.egg_masses_per_m2,
            o.count,
            o.severity,
            o.status,
            Site.code,
            # The surveyor a legacy workbook named, when no colleague matched (the record is the importer's).
            sa.func.coalesce(o.legacy_surveyor, User.display_name),
            Organization.name,
            flags.c.flags,
            o.notes,
        )
        .join(Species, Species.id == o.species_id)
        .outerjoin(Township, Township.id == o.township_id)
        .outerjoin(Village, Village.id == o.village_id)
        .outerjoin(place_type, place_type.id == o.habitat_id)
        .outerjoin(land_class, land_class.id == place_type.parent_id)
        .outerjoin(Site, Site.id == o.site_id)
        .join(User, User.id == o.surveyor_id)
        .join(Organization, Organization.id == o.organization_id)
        .outerjoin(flags, flags.c.observation_id == o.id)
        .where(o.id.in_(scope.observation_ids()))
        .order_by(o.observed_at, o.id)
        .execution_options(yield_per=2000)
    )
    zone = local_zone()
    # On the session's connection (its transaction), as Core: the rows are plain columns, and the ORM's
    # result layer would cost ~20 % of the streaming for nothing (bench/census_export_db.py).
    for row in db.session.connection().execute(stmt):
        (
            id_, client_uuid, observed_at, name_zh, name_sci, detected, t_code, t_name, v_code, v_name,
            place_name, lat, lon,
            accuracy, altitude, source, habitat_class, habitat, area, cover, density, eggs, count, severity,
            status, site_code, surveyor, org, flags, notes,
        ) = row  # fmt: skip
        yield {
            "id": id_,
            "client_uuid": str(client_uuid),
            "observed_at": observed_at.astimezone(zone),
            "species_name_zh": name_zh,
            "species_name_sci": name_sci,
            "detected": detected,
            "township_code": t_code,
            "township_name": t_name,
            "village_code": v_code,
            "village_name": v_name,
            "place_name": place_name,
            "latitude": lat,
            "longitude": lon,
            "accuracy_m": accuracy,
            "altitude_m": altitude,
            "position_source": POSITION_SOURCE_ZH.get(source.value, source.value),
            "habitat_class": habitat_class,
            "habitat": habitat,
            "area_m2": area,
            "area_mu": mu(area),
            "cover_pct": cover,
            "density_per_m2": density,
            "egg_masses_per_m2": eggs,
            "count": count,
            "severity": severity,
            "status": STATUS_ZH.get(status.value, status.value),
            "site_code": site_code,
            "surveyor": surveyor,
            "organization": org,
            "flags": flags_zh(flags),
            "notes": notes,
        }


def _details_text(details: dict[str, Any], fields: list[dict[str, Any]]) -> str | None:
    labels = {f["name"]: (f.get("label_zh") or f["name"], f.get("unit") or "") for f in fields}
    parts = []
    for name, value in details.items():
        label, unit = labels.get(name, (name, ""))
        parts.append(f"{label}: {value}{(' ' + unit) if unit else ''}")
    return "；".join(parts) or None


def control_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    follow_up_count = (
        sa.select(sa.func.count())
        .where(FollowUp.control_operation_id == ControlOperation.id)
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            ControlOperation,
            Site.code,
            Species.name_zh,
            ControlMethod.code,
            ControlMethod.name_zh,
            ControlMethod.fields,
            Township.name_zh,
            User.display_name,
            Organization.name,
            follow_up_count,
        )
        .join(Site, Site.id == ControlOperation.site_id)
        .join(Species, Species.id == ControlOperation.species_id)
        .join(ControlMethod, ControlMethod.id == ControlOperation.method_id)
        .outerjoin(Township, Township.id == Site.township_id)
        .join(User, User.id == ControlOperation.operator_id)
        .join(Organization, Organization.id == ControlOperation.organization_id)
        .where(*scope.operation_where())
        .order_by(ControlOperation.performed_at, ControlOperation.id)
        .options(sa.orm.lazyload("*"))
        .execution_options(yield_per=1000)
    )
    for (
        op,
        site_code,
        species,
        m_code,
        m_name,
        m_fields,
        township,
        operator,
        org,
        count,
    ) in db.session.execute(stmt):
        treated = op.area_m2 if op.geometry_area_m2 is None else op.geometry_area_m2
        yield {
            "id": op.id,
            "client_uuid": str(op.client_uuid),
            "performed_at": local(op.performed_at),
            "site_code": site_code,
            "species_name_zh": species,
            "method_code": m_code,
            "method_name": m_name,
            "township_name": township,
            # The area the census counts for the operation: its treated polygon's first
            # (counting.operation_area_m2).
            "area_m2": treated,
            "area_mu": mu(treated),
            "labour_person_days": op.labour_person_days,
            "cost_yuan": op.cost_yuan,
            "team": op.team,
            "details": _details_text(op.details or {}, m_fields or []),
            "operator": operator,
            "organization": org,
            "follow_ups": count,
            "notes": op.notes,
        }


def follow_up_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    today = local_today()
    stmt = (
        sa.select(FollowUp, Site.code, Species.name_zh, Township.name_zh, User.display_name)
        .join(Site, Site.id == FollowUp.site_id)
        .join(Species, Species.id == Site.species_id)
        .outerjoin(Township, Township.id == Site.township_id)
        .outerjoin(User, User.id == FollowUp.assignee_id)
        .where(*scope.follow_up_where())
        .order_by(FollowUp.due_on, FollowUp.id)
        .options(sa.orm.lazyload("*"))
        .execution_options(yield_per=1000)
    )
    for f, site_code, species, township, assignee in db.session.execute(stmt):
        efficacy = f.efficacy or {}
        yield {
            "id": f.id,
            "site_code": site_code,
            "species_name_zh": species,
            "township_name": township,
            "kind": KIND_ZH.get(f.kind.value, f.kind.value),
            "offset_days": f.offset_days,
            "due_on": f.due_on,
            "status": FOLLOW_UP_ZH.get(f.status.value, f.status.value),
            "overdue": f.overdue_on(today),
            "assignee": assignee,
            "completed_at": local(f.completed_at),
            "density_reduction_pct": efficacy.get("density_reduction_pct"),
            "egg_mass_reduction_pct": efficacy.get("egg_mass_reduction_pct"),
            "cover_reduction_pct": efficacy.get("cover_reduction_pct"),
            "corrected_efficacy_pct": efficacy.get("corrected_efficacy_pct"),
        }
