"""The one place census figures are counted: the workbook's summaries, the dashboard and
GET /api/v1/census/summary all call these functions (docs/census.md).

Occurrence (发生):
- 发生点数: distinct sites with a presence record in the scope (not visits: a site surveyed five times is
  one point). A site with only absence records is not an occurrence.
- 发生面积: over those sites, the area of each site's latest presence record in the scope that measured
  one, summed (a revisit replaces the site's area, it does not add to it; a revisit that gave no area,
  such as a re-inspection counting density only, leaves it as it was). `record_area_m2` is the area one record
  stands for: its polygon's geodesic area, else the typed area. A site whose presence records in the
  scope carry polygons counts the geodesic area of their union instead (`polygon_occurrence_areas`), so
  overlapping polygons of one site are never counted twice.
- 分布乡镇数: distinct townships of those sites. A site counts in the township of its latest presence
  record, so the township rows of a species add up to the species' figures.
- 最高危害程度: the highest severity of any presence record of the site in the scope.

Control (防治), by any of species, method and township:
- 防治次数: operations; 防治面积（亩次）: their treated areas summed (a site treated three times over 2 亩
  is 6 亩次); 用工（人·日）, 费用（元）: summed.
- 防治范围（亩）: the distinct extent treated, per site, summed over sites. With treated polygons, the
  geodesic area of the union of the site's treated polygons in the group (three overlapping treatments
  count their union once); without, the largest area any single operation in the group treated there
  (the same paddy treated three times over 2 亩 is 2 亩 of extent); with both, the larger. Two sites
  whose treated areas overlap on the ground are still counted apart.

By census category (类别汇总): per category of the census (the agriculture census's three, the 林草
census's three, the district's all six), the species found, 发生点数, 发生面积 and 分布乡镇数 rolled up
from the per-species figures. A species in two categories (福寿螺: 农作物外来入侵病虫害 and 外来入侵水生动物)
counts in each, so a total over categories means nothing and none is given.

Everything is aggregated in SQL: a handful of queries whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import sqlalchemy as sa

from app.accounts.organizations import lineage
from app.census.scope import DISTRICT, CensusScope
from app.control.models import ControlOperation, FollowUp, FollowUpStatus
from app.extensions import db
from app.geo import areas
from app.observations.models import Observation
from app.sites.models import Site
from app.species.models import CensusCategory, Species

OCCURRENCE_KEYS: Final = ("species", "township")
CONTROL_KEYS: Final = ("species", "method", "township")


def record_area_m2() -> sa.ColumnElement[Any]:
    """The area (m²) one presence record stands for: its polygon's geodesic area first, the typed area
    where there is none (docs/contract.md §2 Area). A site with polygons counts their union instead
    (`polygon_occurrence_areas`)."""
    table = Observation.__table__.c
    return sa.func.coalesce(table.geometry_area_m2, table.area_m2)


def operation_area_m2() -> sa.ColumnElement[Any]:
    """The area (m²) one control operation treated: its polygon's geodesic area, else the typed area."""
    return sa.func.coalesce(ControlOperation.geometry_area_m2, ControlOperation.area_m2)


def _has_polygon(column: Any) -> sa.ColumnElement[Any]:
    return sa.case((column.is_not(None), 1), else_=0)


def occurrence_sites(scope: CensusScope) -> sa.Subquery:
    """One row per occurrence site of the scope: `site_key`, `species_id`, `township_id` (of the site's
    latest presence record), `area_m2` (the area of its latest presence record that has one; null for a
    site with polygons, or when none of its records measured an area), `polygons`
    (1 when any of its presence records in the scope has a polygon), `max_severity`."""
    # A presence record always has a site; were one without, it stands for its own point.
    site_key = sa.func.coalesce(Observation.site_id, -Observation.id)
    latest_first = sa.func.row_number().over(
        partition_by=site_key, order_by=(Observation.observed_at.desc(), Observation.id.desc())
    )
    # The site's area: of its latest presence record that measured one. A visit that gave no area (a
    # re-inspection counting snails, a density check) did not measure the site: it leaves its area as
    # the last visit that did, never 0 (docs/census.md, 发生面积).
    area = record_area_m2()
    latest_measured = sa.func.first_value(area).over(
        partition_by=site_key,
        order_by=(
            sa.case((area.is_(None), 1), else_=0),
            Observation.observed_at.desc(),
            Observation.id.desc(),
        ),
    )
    ranked = (
        sa.select(
            site_key.label("site_key"),
            Observation.species_id.label("species_id"),
            Observation.township_id.label("township_id"),
            latest_measured.label("area_m2"),
            sa.func.max(_has_polygon(Observation.geometry)).over(partition_by=site_key).label("polygons"),
            sa.func.max(Observation.severity).over(partition_by=site_key).label("max_severity"),
            latest_first.label("rank"),
        )
        .where(Observation.detected.is_(True), *scope.observation_conditions())
        .subquery("ranked")
    )
    return (
        sa.select(
            ranked.c.site_key,
            ranked.c.species_id,
            ranked.c.township_id,
            # A site with polygons: their union's area, added by `occurrences` (not a row's area).
            sa.case((ranked.c.polygons == 1, None), else_=ranked.c.area_m2).label("area_m2"),
            ranked.c.polygons,
            ranked.c.max_severity,
        )
        .where(ranked.c.rank == 1)
        .subquery("occurrences")
    )


@dataclass(frozen=True)
class Occurrence:
    """Figures of one group (`species_id` / `township_id` None when not grouped by it)."""

    species_id: int | None
    township_id: int | None
    points: int  # 发生点数
    area_m2: float  # 发生面积
    townships: int  # 分布乡镇数 (sites outside any township are not a township)
    max_severity: int | None


def occurrences(scope: CensusScope, by: Sequence[str] = ("species",)) -> list[Occurrence]:
    """Occurrence figures grouped by `by` (a subset of OCCURRENCE_KEYS; empty: one total row)."""
    unknown = set(by) - set(OCCURRENCE_KEYS)
    if unknown:
        raise ValueError(f"cannot group occurrences by {sorted(unknown)}")
    sites = occurrence_sites(scope)
    keys = [sites.c.species_id if key == "species" else sites.c.township_id for key in by]
    stmt = sa.select(
        *keys,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sites.c.area_m2), 0.0),
        sa.func.count(sa.distinct(sites.c.township_id)),
        sa.func.max(sites.c.max_severity),
        sa.func.coalesce(sa.func.sum(sites.c.polygons), 0),
    ).group_by(*keys)
    found = db.session.execute(stmt).all()
    # Polygons are read only when some site has them: a census without costs no query more.
    polygon_areas = polygon_occurrence_areas(scope, sites, by) if any(row[-1] for row in found) else {}
    rows = []
    for row in found:
        values = dict(zip(by, row[: len(by)], strict=True))
        points, area, townships, severity, _polygons = row[len(by) :]
        if not by and not points:
            continue  # no occurrence at all: no total row
        rows.append(
            Occurrence(
                species_id=values.get("species"),
                township_id=values.get("township"),
                points=int(points),
                area_m2=float(area) + polygon_areas.get(tuple(row[: len(by)]), 0.0),
                townships=int(townships),
                max_severity=severity,
            )
        )
    return rows


def polygon_occurrence_areas(
    scope: CensusScope, sites: sa.Subquery, by: Sequence[str]
) -> dict[tuple[Any, ...], float]:
    """发生面积 of the sites with polygons, by the group keys of `by`: per site, the geodesic area of the
    union of its presence records' polygons in the scope (overlaps count once). Only the records that
    carry a polygon are read."""
    site_key = sa.func.coalesce(Observation.site_id, -Observation.id)
    polygons: dict[int, list[dict[str, Any]]] = {}
    for key, geometry in db.session.execute(
        sa.select(site_key, Observation.geometry).where(
            Observation.detected.is_(True), Observation.geometry.is_not(None), *scope.observation_conditions()
        )
    ):
        polygons.setdefault(key, []).append(geometry)
    if not polygons:
        return {}
    keys = [sites.c.species_id if key == "species" else sites.c.township_id for key in by]
    found: dict[tuple[Any, ...], float] = {}
    for row in db.session.execute(sa.select(sites.c.site_key, *keys).where(sites.c.polygons == 1)):
        group = tuple(row[1:])
        found[group] = found.get(group, 0.0) + areas.union_area_m2(polygons[row[0]])
    return found


def roll_up(rows: Sequence[Occurrence], by: Sequence[str]) -> list[Occurrence]:
    """Rows grouped by species and township, grouped again by fewer keys without another query. Exact:
    each site counts in one township only, so points and areas add up, and the townships of a group
    are the distinct townships of its rows."""
    groups: dict[tuple[int | None, int | None], list[Occurrence]] = {}
    for row in rows:
        key = (row.species_id if "species" in by else None, row.township_id if "township" in by else None)
        groups.setdefault(key, []).append(row)
    combined = []
    for (species_id, township_id), members in groups.items():
        severities = [m.max_severity for m in members if m.max_severity is not None]
        combined.append(
            Occurrence(
                species_id=species_id,
                township_id=township_id,
                points=sum(m.points for m in members),
                area_m2=sum(m.area_m2 for m in members),
                townships=len({m.township_id for m in members if m.township_id is not None}),
                max_severity=max(severities) if severities else None,
            )
        )
    return combined


def occurrence_total(scope: CensusScope) -> Occurrence:
    """The scope's figures over every species (a township with two species counts once)."""
    found = occurrences(scope, by=())
    return found[0] if found else Occurrence(None, None, 0, 0.0, 0, None)


@dataclass(frozen=True)
class CategoryOccurrence:
    """Figures of one census category; `category` None gathers the species found that have no category
    of this census (so nothing found is left out of the sheet)."""

    category: str | None
    species_ids: tuple[int, ...]  # the species found, each counted once in the row
    points: int  # 发生点数
    area_m2: float  # 发生面积
    townships: int  # 分布乡镇数: distinct townships of the rows' sites


def census_categories(bureau: str) -> tuple[CensusCategory, ...]:
    """The categories a census reports: the district's all of them; a bureau's (or a unit's under it)
    its bureau's (CensusCategory.bureau); an organization under neither bureau, all of them."""
    if bureau == DISTRICT:
        return tuple(CensusCategory)
    for code in lineage(bureau):
        own = tuple(c for c in CensusCategory if c.bureau == code)
        if own:
            return own
    return tuple(CensusCategory)


def species_categories() -> dict[int, list[str]]:
    """Species id → its census categories (the registry has a few hundred species: one query)."""
    rows = db.session.execute(sa.select(Species.id, Species.census_categories))
    return {species_id: list(categories or []) for species_id, categories in rows}


def by_category(
    rows: Sequence[Occurrence],
    categories: Sequence[str],
    categories_of: Mapping[int, Sequence[str]],
) -> list[CategoryOccurrence]:
    """Occurrence rows by species and township, rolled up per census category, in `categories` order
    (every category, found or not), then one row (category None) for species found that have none of
    these categories, when there are any. A species in two categories is in both rows. Exact: a site
    is of one species and counts in one township, so within a category points and areas add up and
    the townships are the distinct townships of its rows."""
    wanted = set(categories)
    groups: dict[str | None, list[Occurrence]] = {category: [] for category in categories}
    for row in rows:
        if row.species_id is None:
            raise ValueError("by_category needs rows grouped by species")
        own: list[str | None] = [c for c in categories_of.get(row.species_id, ()) if c in wanted]
        for category in own or [None]:
            groups.setdefault(category, []).append(row)
    return [
        CategoryOccurrence(
            category=category,
            species_ids=tuple(sorted({m.species_id for m in members if m.species_id is not None})),
            points=sum(m.points for m in members),
            area_m2=sum(m.area_m2 for m in members),
            townships=len({m.township_id for m in members if m.township_id is not None}),
        )
        for category, members in groups.items()
    ]


@dataclass(frozen=True)
class ControlTotals:
    species_id: int | None
    method_id: int | None
    township_id: int | None
    operations: int  # 防治次数
    area_m2: float  # 防治面积（亩次）: summed over operations
    extent_m2: float  # 防治范围（亩）: per site the union of treated polygons or the largest area (docstring)
    labour_person_days: float  # 用工（人·日）
    cost_yuan: float  # 费用（元）


def control_totals(scope: CensusScope, by: Sequence[str] = ("species", "method")) -> list[ControlTotals]:
    """Control figures grouped by `by` (a subset of CONTROL_KEYS; empty: one total row)."""
    unknown = set(by) - set(CONTROL_KEYS)
    if unknown:
        raise ValueError(f"cannot group control operations by {sorted(unknown)}")
    columns = {
        "species": ControlOperation.species_id,
        "method": ControlOperation.method_id,
        "township": Site.township_id,
    }
    keys = [columns[key].label(key) for key in by]
    has_polygon = sa.func.max(_has_polygon(ControlOperation.geometry))
    per_site = (
        sa.select(
            *keys,
            ControlOperation.site_id,
            sa.func.count().label("operations"),
            sa.func.sum(operation_area_m2()).label("area"),
            has_polygon.label("polygons"),
            # A site with treated polygons: its extent is added by `polygon_extents`.
            sa.case((has_polygon == 1, None), else_=sa.func.max(ControlOperation.area_m2)).label("extent"),
            sa.func.sum(ControlOperation.labour_person_days).label("labour"),
            sa.func.sum(ControlOperation.cost_yuan).label("cost"),
        )
        .join(Site, Site.id == ControlOperation.site_id)
        .where(*scope.operation_conditions())
        .group_by(*[columns[key] for key in by], ControlOperation.site_id)
        .subquery("per_site")
    )
    outer_keys = [per_site.c[key] for key in by]

    def total(column: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(column), 0)

    stmt = sa.select(
        *outer_keys,
        total(per_site.c.operations),
        total(per_site.c.area),
        total(per_site.c.extent),
        total(per_site.c.labour),
        total(per_site.c.cost),
        total(per_site.c.polygons),
    ).group_by(*outer_keys)
    found = db.session.execute(stmt).all()
    # Polygons are read only when some operation has one: a census without costs no query more.
    extents = polygon_extents(scope, [columns[key] for key in by]) if any(row[-1] for row in found) else {}
    rows = []
    for row in found:
        values = dict(zip(by, row[: len(by)], strict=True))
        operations, area, extent, labour, cost, _polygons = row[len(by) :]
        extent = float(extent) + extents.get(tuple(row[: len(by)]), 0.0)
        if not by and not operations:
            continue
        rows.append(
            ControlTotals(
                species_id=values.get("species"),
                method_id=values.get("method"),
                township_id=values.get("township"),
                operations=int(operations),
                area_m2=float(area),
                extent_m2=float(extent),
                labour_person_days=float(labour),
                cost_yuan=float(cost),
            )
        )
    return rows


def polygon_extents(scope: CensusScope, keys: Sequence[Any]) -> dict[tuple[Any, ...], float]:
    """防治范围 of the sites with treated polygons, by the group keys: per site and group, the geodesic
    area of the union of its operations' polygons, or the largest typed area of its operations without
    one when that is larger. Only the sites with a polygon in the scope are read."""
    with_polygon = (
        sa.select(ControlOperation.site_id)
        .where(ControlOperation.geometry.is_not(None), *scope.operation_conditions())
        .scalar_subquery()
    )
    groups: dict[tuple[Any, ...], tuple[list[dict[str, Any]], float]] = {}
    for row in db.session.execute(
        sa.select(*keys, ControlOperation.site_id, ControlOperation.geometry, ControlOperation.area_m2)
        .join(Site, Site.id == ControlOperation.site_id)
        .where(ControlOperation.site_id.in_(with_polygon), *scope.operation_conditions())
    ):
        group, geometry, typed = tuple(row[: len(keys) + 1]), row[-2], row[-1]
        polygons, largest = groups.get(group, ([], 0.0))
        if geometry is not None:
            polygons.append(geometry)
        elif typed is not None:
            largest = max(largest, typed)
        groups[group] = (polygons, largest)
    found: dict[tuple[Any, ...], float] = {}
    for group, (polygons, largest) in groups.items():
        if not polygons:
            continue  # no polygon in this group: the SQL counted its largest area
        outer = group[:-1]  # without the site
        found[outer] = found.get(outer, 0.0) + max(areas.union_area_m2(polygons), largest)
    return found


@dataclass(frozen=True)
class ReinspectionCounts:
    township_id: int | None
    due: int  # due in the period, not cancelled
    done: int
    overdue: int  # still pending after its due day


def reinspections_by_township(scope: CensusScope, *, today: date) -> list[ReinspectionCounts]:
    """Re-inspections due in the period, by the township of their site.

    A re-inspection due is a site and a due day: follow-ups of one site due on one day (two operations
    of the same day each scheduled theirs before scheduling joined a pending one; two units of one
    bureau) are one re-inspection, done when any of them is, overdue when none is done and one is still
    pending after that day, cancelled when all of them are (docs/census.md, Re-inspections due)."""
    active = sa.func.max(sa.case((FollowUp.status != FollowUpStatus.CANCELLED, 1), else_=0))
    done = sa.func.max(sa.case((FollowUp.status == FollowUpStatus.DONE, 1), else_=0))
    late = sa.func.max(sa.case((FollowUp.overdue_on(today), 1), else_=0))
    visits = (
        sa.select(
            Site.township_id.label("township_id"),
            active.label("active"),
            done.label("done"),
            late.label("late"),
        )
        .select_from(FollowUp)
        .join(Site, Site.id == FollowUp.site_id)
        .where(*scope.follow_up_conditions())
        .group_by(Site.township_id, FollowUp.site_id, FollowUp.due_on)
        .subquery()
    )
    overdue = sa.case((sa.and_(visits.c.late == 1, visits.c.done == 0), 1), else_=0)
    stmt = sa.select(
        visits.c.township_id,
        sa.func.coalesce(sa.func.sum(visits.c.active), 0),
        sa.func.coalesce(sa.func.sum(visits.c.done), 0),
        sa.func.coalesce(sa.func.sum(overdue), 0),
    ).group_by(visits.c.township_id)
    return [
        ReinspectionCounts(township_id=t, due=int(d), done=int(n), overdue=int(o))
        for t, d, n, o in db.session.execute(stmt)
    ]
