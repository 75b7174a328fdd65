"""Census exports: who may ask for which, the rows each sheet is written from, and the background job.

A bureau's census covers the records, control operations and re-inspections of its organization and
the units under it; an admin's district census (`bureau` = "district") covers every record once
(app/census/scope.py). Observations are the verified ones unless the request names other review
statuses. Summary figures come from app/census/counting.py, the one place they are counted. Rows are
streamed from the database (never all in memory) into the bureau's template (app/exports/templates/)
by app.exports.workbook. Exports run in the scheduler process, never in a web worker; the API only
queues them and reports progress.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app import policy
from app.accounts.models import Organization, Role, User
from app.accounts.organizations import acting_ids
from app.audit.services import record_event
from app.census import counting
from app.census.scope import DISTRICT, CensusScope, parse_statuses
from app.clock import local_today, local_zone
from app.control.models import ControlOperation, FollowUp
from app.district.models import Township
from app.district.services import find_townships, get_district
from app.errors import InvalidInput, NotFound, PermissionDenied, TooLarge
from app.exports import imports
from app.exports.labels import POSITION_SOURCE_ZH, flags_zh
from app.exports.models import Export, ExportKind, ExportStatus
from app.exports.reader import ReaderError, ReadLimits, WorkbookTooLarge
from app.exports.templates import Template, bureaus, load_template
from app.exports.workbook import write_census
from app.extensions import db
from app.notifications.models import NotificationKind
from app.notifications.services import notify_message
from app.observations import services as observations
from app.observations.models import Observation, ObservationFlag, ReviewStatus
from app.sites.models import Site
from app.species.models import CensusCategory, ControlMethod, Habitat, Species
from app.storage import LocalStorage, Storage, new_key
from app.units import SQUARE_METRES_PER_MU, to_mu

log = logging.getLogger(__name__)

SOURCES_BY_KIND = {
    ExportKind.CENSUS: None,  # every sheet
    ExportKind.CONTROL: {"control_operations", "control_by_method", "control_by_township"},
    ExportKind.FOLLOW_UPS: {"follow_ups", "follow_up_summary"},
}
STATUS_ZH = {"submitted": "待审核", "verified": "审核通过", "rejected": "驳回", "returned": "退回修改"}
FOLLOW_UP_ZH = {"pending": "待复查", "done": "已完成", "cancelled": "已取消"}
KIND_ZH = {"scheduled": "防治后复查", "next_spring": "翌年春季复查", "manual": "人工安排"}


def storage() -> Storage:
    return LocalStorage(Path(current_app.config["IAS_STORAGE_DIR"]))


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(local_zone())


# ---------------------------------------------------------------------------------------------
# Asking for an export


def request_export(
    *,
    actor: User,
    kind: ExportKind,
    bureau: str,
    date_from: date | None,
    date_to: date | None,
    filters: dict[str, Any],
    statuses: Iterable[str] | None = None,
) -> Export:
    """Queue an export (bureau admins for their own bureau or a unit under it, admins for any, and
    for the district). Raises PermissionDenied, InvalidInput naming `bureau`, `to` or `statuses`.

    The export belongs to the exported bureau (None: the district), not to the requester."""
    if not policy.makes_exports(actor):
        raise PermissionDenied(_("Census exports are made by bureau admins."))
    chosen = parse_statuses(statuses)
    organization_id: int | None = None
    if bureau == DISTRICT:
        if not policy.may_export_for(actor, None):
            raise PermissionDenied(_("Only an administrator exports the district's census."))
    else:
        organization = db.session.scalar(sa.select(Organization).where(Organization.code == bureau))
        if organization is None:
            raise InvalidInput.field("bureau", _("No organization has the code %(code)s.", code=bureau))
        if not policy.may_export_for(actor, organization.id):
            raise PermissionDenied(_("You export your own bureau's census only."))
        organization_id = organization.id
    if date_from and date_to and date_from > date_to:
        raise InvalidInput.field("to", _("must not be before from"))
    observations.filtered(filters)  # InvalidInput for an unknown township or organization
    export = Export(
        kind=kind,
        bureau=bureau,
        date_from=date_from,
        date_to=date_to,
        filters={**filters, "statuses": [status.value for status in chosen]},
        organization_id=organization_id,
        requested_by_id=actor.id,
        status=ExportStatus.QUEUED,
    )
    db.session.add(export)
    db.session.flush()
    record_event(
        "export_requested",
        "exports",
        export.id,
        {"kind": kind.value, "bureau": bureau, "statuses": [status.value for status in chosen]},
    )
    return export


def may_read(actor: User, export: Export) -> bool:
    """Whether the actor may see and download the export, by their role and organization now (a
    demotion or a move ends it): an admin any; a bureau admin those of their bureau or a unit under
    it; nobody else, not even the requester. The district census is for admins only."""
    return policy.may_read_export(actor, export)


def get_export(export_id: int, actor: User) -> Export:
    """The export, if the actor may see it now (`may_read`)."""
    export = db.session.get(Export, export_id)
    if export is None:
        raise NotFound(_("No export with id %(id)s.", id=export_id))
    if not may_read(actor, export):
        raise PermissionDenied(_("Only the exported bureau's admins and administrators may see this export."))
    return export


# ---------------------------------------------------------------------------------------------
# Scope and rows


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
        species = {self.filters["species_id"]} if "species_id" in self.filters else None
        self._occurrences: list[counting.Occurrence] | None = None
        self.census = CensusScope.for_bureau(
            bureau,
            date_from=date_from,
            date_to=date_to,
            statuses=self.statuses,
            species_ids=frozenset(species) if species is not None else None,
            observation_extra=(extra,) if extra is not None else (),
        )

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
            o.place_name,
            o.latitude,
            o.longitude,
            o.accuracy_m,
            o.altitude_m,
            o.position_source,
            sa.func.coalesce(land_class.name_zh, place_type.name_zh),
            place_type.name_zh,
            o.area_m2,
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
            id_, client_uuid, observed_at, name_zh, name_sci, detected, t_code, t_name, place_name, lat, lon,
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
            "place_name": place_name,
            "latitude": lat,
            "longitude": lon,
            "accuracy_m": accuracy,
            "altitude_m": altitude,
            "position_source": POSITION_SOURCE_ZH.get(source.value, source.value),
            "habitat_class": habitat_class,
            "habitat": habitat,
            "area_m2": area,
            "area_mu": to_mu(area),
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
        yield {
            "id": op.id,
            "client_uuid": str(op.client_uuid),
            "performed_at": _local(op.performed_at),
            "site_code": site_code,
            "species_name_zh": species,
            "method_code": m_code,
            "method_name": m_name,
            "township_name": township,
            "area_m2": op.area_m2,
            "area_mu": to_mu(op.area_m2),
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
            "completed_at": _local(f.completed_at),
            "density_reduction_pct": efficacy.get("density_reduction_pct"),
            "egg_mass_reduction_pct": efficacy.get("egg_mass_reduction_pct"),
            "cover_reduction_pct": efficacy.get("cover_reduction_pct"),
            "corrected_efficacy_pct": efficacy.get("corrected_efficacy_pct"),
        }


def _names(model: Any, *columns: Any) -> dict[int, tuple[Any, ...]]:
    """Id → the columns, for the few hundred species, townships or methods a summary names."""
    return {row[0]: tuple(row[1:]) for row in db.session.execute(sa.select(model.id, *columns))}


def _township_order(names: Mapping[int, tuple[Any, ...]]) -> Callable[[int | None], tuple[Any, ...]]:
    """Townships by code, records outside any township last."""
    return lambda township_id: ("~",) if township_id is None else (names[township_id][0],)


def species_township_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    species = _names(Species, Species.pinyin, Species.name_zh, Species.name_sci)
    townships = _names(Township, Township.code, Township.name_zh)
    township_key = _township_order(townships)
    found = scope.occurrences(("species", "township"))
    found.sort(key=lambda o: (species[o.species_id][0] or "", township_key(o.township_id)))  # type: ignore[index]
    for o in found:
        _pinyin, name_zh, name_sci = species[o.species_id]  # type: ignore[index]
        yield {
            "species_name_zh": name_zh,
            "species_name_sci": name_sci,
            "township_name": townships[o.township_id][1] if o.township_id is not None else None,
            "points": o.points,
            "area_mu": to_mu(o.area_m2),
            "max_severity": o.max_severity,
        }


def species_summary_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    species = _names(Species, Species.pinyin, Species.name_zh, Species.name_sci)
    found = scope.occurrences(("species",))
    found.sort(key=lambda o: species[o.species_id][0] or "")  # type: ignore[index]
    for o in found:
        _pinyin, name_zh, name_sci = species[o.species_id]  # type: ignore[index]
        yield {
            "species_name_zh": name_zh,
            "species_name_sci": name_sci,
            "townships": o.townships,
            "points": o.points,
            "area_mu": to_mu(o.area_m2),
            "max_severity": o.max_severity,
        }


def category_summary_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """类别汇总: per census category of the census (counting.by_category). A species in two categories
    is in both rows, so the sheet has no total over categories."""
    species = _names(Species, Species.pinyin, Species.name_zh)
    categories = [c.value for c in counting.census_categories(scope.bureau)]
    found = counting.by_category(
        scope.occurrences(("species", "township")), categories, counting.species_categories()
    )
    for row in found:
        names = sorted((species[s] for s in row.species_ids), key=lambda s: s[0] or "")
        yield {
            "category_name": CensusCategory(row.category).name_zh if row.category else "未归入本普查类别",
            "category_code": row.category,
            "species": len(row.species_ids),
            "species_names": "、".join(name for _pinyin, name in names) or None,
            "points": row.points,
            "area_mu": to_mu(row.area_m2),
            "townships": row.townships,
        }


def _control_fields(totals: counting.ControlTotals) -> dict[str, Any]:
    return {
        "operations": totals.operations,
        "area_mu": to_mu(totals.area_m2),
        "extent_mu": to_mu(totals.extent_m2),
        "labour_person_days": totals.labour_person_days,
        "cost_yuan": totals.cost_yuan,
    }


def control_by_method_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """Control totals by species × method (counting.control_totals)."""
    species = _names(Species, Species.pinyin, Species.name_zh)
    methods = _names(ControlMethod, ControlMethod.position, ControlMethod.name_zh)
    found = counting.control_totals(scope.census, by=("species", "method"))
    found.sort(key=lambda t: (species[t.species_id][0] or "", methods[t.method_id][0]))  # type: ignore[index]
    for totals in found:
        yield {
            "species_name_zh": species[totals.species_id][1],  # type: ignore[index]
            "method_name": methods[totals.method_id][1],  # type: ignore[index]
            **_control_fields(totals),
        }


def control_by_township_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """Control totals by the township of the treated site (counting.control_totals)."""
    townships = _names(Township, Township.code, Township.name_zh)
    found = counting.control_totals(scope.census, by=("township",))
    found.sort(key=lambda t: _township_order(townships)(t.township_id))
    for totals in found:
        code, name = townships[totals.township_id] if totals.township_id is not None else (None, None)
        yield {"township_name": name, "township_code": code, **_control_fields(totals)}


def township_summary_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """乡镇汇总: per township, the species found, occurrences, treated area and re-inspections."""
    townships = _names(Township, Township.code, Township.name_zh)
    species = _names(Species, Species.pinyin, Species.name_zh)
    by_township: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {
            "species": [],
            "points": 0,
            "area_m2": 0.0,
            "control_area_m2": 0.0,
            "due": 0,
            "done": 0,
            "overdue": 0,
        }
    )
    for o in scope.occurrences(("species", "township")):
        entry = by_township[o.township_id]
        entry["species"].append(species[o.species_id])  # type: ignore[index]
        entry["points"] += o.points
        entry["area_m2"] += o.area_m2
    for totals in counting.control_totals(scope.census, by=("township",)):
        by_township[totals.township_id]["control_area_m2"] += totals.area_m2
    for counts in counting.reinspections_by_township(scope.census, today=local_today()):
        entry = by_township[counts.township_id]
        entry["due"] += counts.due
        entry["done"] += counts.done
        entry["overdue"] += counts.overdue
    for township_id in sorted(by_township, key=_township_order(townships)):
        entry = by_township[township_id]
        code, name = townships[township_id] if township_id is not None else (None, None)
        yield {
            "township_name": name,
            "township_code": code,
            "species": "、".join(n for _p, n in sorted(entry["species"], key=lambda s: s[0] or "")) or None,
            "points": entry["points"],
            "area_mu": to_mu(entry["area_m2"]),
            "control_area_mu": to_mu(entry["control_area_m2"]),
            "reinspections_due": entry["due"],
            "reinspections_done": entry["done"],
            "reinspections_overdue": entry["overdue"],
        }


def follow_up_summary_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"total": 0, "done": 0, "pending": 0, "overdue": 0, "cancelled": 0, "reductions": []}
    )
    for row in follow_up_rows(scope):
        entry = totals[row["species_name_zh"]]
        entry["total"] += 1
        status = {v: k for k, v in FOLLOW_UP_ZH.items()}[row["status"]]
        entry[status] += 1
        entry["overdue"] += 1 if row["overdue"] else 0
        if row["density_reduction_pct"] is not None:
            entry["reductions"].append(row["density_reduction_pct"])
    for species, entry in sorted(totals.items()):
        reductions = entry.pop("reductions")
        active = entry["total"] - entry["cancelled"]
        yield {
            "species_name_zh": species,
            **entry,
            "completion_pct": round(entry["done"] / active * 100, 1) if active else None,
            "mean_density_reduction_pct": round(sum(reductions) / len(reductions), 2) if reductions else None,
        }


ROW_SOURCES: dict[str, Callable[[Scope], Iterator[dict[str, Any]]]] = {
    "observations": observation_rows,
    "control_operations": control_rows,
    "follow_ups": follow_up_rows,
    "species_township": species_township_rows,
    "species_summary": species_summary_rows,
    "category_summary": category_summary_rows,
    "control_by_method": control_by_method_rows,
    "control_by_township": control_by_township_rows,
    "township_summary": township_summary_rows,
    "follow_up_summary": follow_up_summary_rows,
}


# ---------------------------------------------------------------------------------------------
# Writing


def template_for(bureau: str, kind: ExportKind) -> Template:
    """The bureau's template (agriculture's for an organization without one), narrowed to the kind."""
    template = load_template(bureau if bureau in bureaus() else "agriculture")
    sources = SOURCES_BY_KIND[kind]
    return template if sources is None else template.restricted_to(sources)


class LazyRows(Mapping[str, Iterable[dict[str, Any]]]):
    """Rows by source, each query started only when its sheet is written (and afresh for each sheet)."""

    def __init__(self, scope: Scope, sources: Iterable[str]):
        self.scope = scope
        self.sources = sorted(set(sources))

    def __getitem__(self, source: str) -> Iterable[dict[str, Any]]:
        if source not in self.sources:
            raise KeyError(source)
        return ROW_SOURCES[source](self.scope)

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


FILTER_ZH = {
    "species_id": "物种",
    "township_code": "乡镇",
    "status": "审核状态",
    "detected": "是否发现",
    "organization": "调查单位",
}


def _filter_text(name: str, value: Any) -> str:
    """One observation filter as the cover shows it: by name, not by code or id."""
    shown: Any = value
    if name == "species_id":
        shown = db.session.scalar(sa.select(Species.name_zh).where(Species.id == value)) or value
    elif name == "township_code":
        shown = "、".join(t.name_zh for t in find_townships(str(value))) or value
    elif name == "status":
        shown = STATUS_ZH.get(str(value), value)
    elif name == "detected":
        shown = "是" if value else "否"
    elif name == "organization":
        shown = db.session.scalar(sa.select(Organization.name).where(Organization.code == value)) or value
    return f"{FILTER_ZH.get(name, name)}：{shown}"


def cover_lines(
    *, bureau: str, kind: ExportKind, scope: Scope, generated_by: str, generated_at: datetime
) -> list[tuple[str, Any]]:
    district = get_district()
    district_name = f"{district.name}（{district.code}）" if district else "—"
    period = "—".join(d.isoformat() if d else "…" for d in (scope.date_from, scope.date_to))
    filters = "；".join(_filter_text(k, v) for k, v in sorted(scope.filters.items())) or "无"
    kinds = {
        ExportKind.CENSUS: "外来入侵物种普查表",
        ExportKind.CONTROL: "防治作业表",
        ExportKind.FOLLOW_UPS: "复查表",
    }
    if scope.census.organization_ids is None:
        unit = district.name if district else bureau
        coverage = "全区各单位的记录（每条记录计一次）"
    else:
        names = dict(
            db.session.execute(
                sa.select(Organization.code, Organization.name).where(
                    Organization.id.in_(sorted(scope.census.organization_ids))
                )
            ).all()
        )
        unit = names.pop(bureau, bureau)
        units = f"及下属单位（{'、'.join(sorted(names.values()))}）" if names else ""
        coverage = f"本单位{units}的记录"
    statuses = "、".join(STATUS_ZH[status.value] for status in scope.statuses)
    only = "仅" if len(scope.statuses) == 1 else ""
    return [
        ("表名", kinds[kind]),
        ("行政区", district_name),
        ("填报单位", unit),
        ("统计范围", coverage),
        ("统计时段", period),
        ("审核状态", f"{only}{statuses}的调查记录"),
        ("筛选条件", filters),
        ("坐标系", "EPSG:4490（CGCS2000）/ WGS-84，十进制度"),
        ("面积单位", f"亩（1 亩 = {SQUARE_METRES_PER_MU:.2f} 平方米）"),
        ("生成时间", _local(generated_at)),
        ("生成人", generated_by),
    ]


def write_export(
    target: BinaryIO | Path,
    *,
    bureau: str,
    kind: ExportKind,
    date_from: date | None,
    date_to: date | None,
    filters: dict[str, Any],
    generated_by: str,
    on_progress: Callable[[float, int], None] | None = None,
) -> int:
    """Write one workbook; returns the number of detail rows. `on_progress(fraction, rows)`."""
    scope = Scope(bureau, date_from, date_to, filters)
    template = template_for(bureau, kind)
    sources = {sheet.source for sheet in template.sheets}
    expected = 0
    if "observations" in sources:
        expected += (
            db.session.scalar(sa.select(sa.func.count()).select_from(scope.observation_ids().subquery())) or 0
        )
    if "control_operations" in sources:
        expected += (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(ControlOperation).where(*scope.operation_where())
            )
            or 0
        )
    rows = LazyRows(scope, sources)

    def progress(done: int) -> None:
        if on_progress is not None:
            on_progress(min(done / expected, 0.99) if expected else 0.5, done)

    counts = write_census(
        target,
        template,
        cover=cover_lines(
            bureau=bureau, kind=kind, scope=scope, generated_by=generated_by, generated_at=datetime.now(UTC)
        ),
        rows=rows,
        on_progress=progress,
    )
    detail = {"observations", "control_operations", "follow_ups"}
    return sum(n for key, n in counts.items() if _source_of(template, key) in detail)


def _source_of(template: Template, sheet_key: str) -> str | None:
    return next((s.source for s in template.sheets if s.key == sheet_key), None)


# ---------------------------------------------------------------------------------------------
# The background job


def claim_export(owner: str) -> int | None:
    """Take the oldest queued export (or one whose runner died) for `owner`; commits."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=int(current_app.config["IAS_EXPORT_LEASE_SECONDS"]))
    export_id = db.session.scalar(
        sa.select(Export.id)
        .where(
            sa.or_(
                Export.status == ExportStatus.QUEUED,
                sa.and_(Export.status == ExportStatus.RUNNING, Export.lease_until < now),
            )
        )
        .order_by(Export.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if export_id is not None:
        db.session.execute(
            sa.update(Export)
            .where(Export.id == export_id)
            .values(
                status=ExportStatus.RUNNING,
                lease_owner=owner,
                lease_until=now + lease,
                started_at=now,
                progress=0.0,
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return export_id


def _set_progress(export_id: int, owner: str, fraction: float) -> None:
    """Progress goes through its own short transaction, so a reader sees it while the export runs."""
    lease = timedelta(seconds=int(current_app.config["IAS_EXPORT_LEASE_SECONDS"]))
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(Export.__table__)
            .where(Export.__table__.c.id == export_id, Export.__table__.c.lease_owner == owner)
            .values(progress=round(fraction, 3), lease_until=datetime.now(UTC) + lease)
        )


def run_export(export_id: int, owner: str) -> None:
    """Write the workbook for a claimed export, store it, and tell the requester."""
    export = db.session.get(Export, export_id)
    if export is None:
        return
    params = {
        "bureau": export.bureau,
        "kind": export.kind,
        "date_from": export.date_from,
        "date_to": export.date_to,
        "filters": dict(export.filters or {}),
        "generated_by": export.requested_by.display_name,
    }
    requester_id = export.requested_by_id
    db.session.rollback()  # read in a fresh transaction that does not hold SQLite's write lock
    db.session.connection(execution_options={"sqlite_deferred_begin": True})
    last = [0.0]

    def progress(fraction: float, rows: int) -> None:
        if fraction - last[0] >= 0.05:
            last[0] = fraction
            _set_progress(export_id, owner, fraction)

    store = storage()
    key = new_key("exports", ".xlsx")
    try:
        with tempfile.TemporaryFile() as buffer:
            rows = write_export(buffer, on_progress=progress, **params)  # type: ignore[arg-type]
            buffer.seek(0)
            data = buffer.read()
        db.session.rollback()
        store.put(key, data)
    except Exception as exc:
        db.session.rollback()
        log.exception("Export %s failed", export_id)
        db.session.execute(
            sa.update(Export)
            .where(Export.id == export_id)
            .values(
                status=ExportStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=datetime.now(UTC),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return
    now = datetime.now(UTC)
    ttl = timedelta(hours=int(current_app.config["IAS_EXPORT_TTL_HOURS"]))
    export = db.session.get(Export, export_id)
    if export is None or export.lease_owner != owner:
        store.delete(key)  # another runner took it over; its file wins
        return
    export.status = ExportStatus.DONE
    export.progress = 1.0
    export.rows = rows
    export.file_key = key
    export.file_size = len(data)
    export.finished_at = now
    export.expires_at = now + ttl
    export.lease_owner = None
    export.lease_until = None
    requester = db.session.get(User, requester_id)
    if requester is not None:
        until = export.expires_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
        values: dict[str, Any] = {"id": export_id, "bureau": export.bureau, "rows": rows, "until": until}
        facts: dict[str, Any] = {"kind": "export_ready", "export_id": export_id, "rows": rows}
        key = f"export_ready:{export_id}"
        notify_message(requester, NotificationKind.EXPORT_READY, key, "export_ready", values, facts)
    db.session.commit()


def run_pending_exports(owner: str, *, limit: int = 5) -> int:
    """Run queued exports one after another (the scheduler's job); returns how many ran."""
    ran = 0
    while ran < limit:
        export_id = claim_export(owner)
        if export_id is None:
            break
        run_export(export_id, owner)
        ran += 1
    return ran


def purge_expired() -> int:
    """Delete the files of exports past their time; the rows stay (history), marked without a file."""
    now = datetime.now(UTC)
    expired = db.session.scalars(
        sa.select(Export).where(Export.expires_at < now, Export.file_key.is_not(None))
    ).all()
    store = storage()
    for export in expired:
        store.delete(export.file_key)  # type: ignore[arg-type]
        export.file_key = None
    db.session.commit()
    return len(expired)


# ---------------------------------------------------------------------------------------------
# For the browser pages (the API has its own copies of these steps in app/exports/api.py)


def recent_exports(actor: User, *, limit: int = 20) -> list[Export]:
    """The exports the actor may follow, newest first: those `may_read` lets them see (an admin every
    export, a bureau admin those of their bureau and the units under it)."""
    stmt = (
        sa.select(Export)
        .options(sa.orm.selectinload(Export.requested_by), sa.orm.selectinload(Export.organization))
        .order_by(Export.id.desc())
        .limit(limit)
    )
    if actor.role == Role.BUREAU_ADMIN:
        stmt = stmt.where(Export.organization_id.in_(sorted(acting_ids(actor) or ())))
    elif actor.role != Role.ADMIN:
        return []
    return list(db.session.scalars(stmt))


def import_census_upload(
    source: BinaryIO, *, filename: str | None, actor: User, bureau: str
) -> imports.ImportReport:
    """Import an uploaded legacy census workbook (POST /api/v1/imports, the exports page), and log it.

    Raises PermissionDenied, InvalidInput naming `bureau` (no template) or `file` (not a workbook in
    the template's layout), and TooLarge naming `file` (more data rows than IAS_IMPORT_MAX_ROWS, or
    more cells, shared strings, text or unpacked bytes than the IAS_IMPORT_MAX_* limits, found before
    parsing). The caller must roll back on error: rows read before the reader gave up may have been
    flushed.
    """
    if not policy.makes_imports(actor):
        raise PermissionDenied(_("Census workbooks are imported by bureau admins."))
    if bureau not in bureaus():
        raise InvalidInput.field("bureau", _("No template for %(bureau)s.", bureau=bureau))
    config = current_app.config
    limits = ReadLimits(
        inflated_bytes=config["IAS_IMPORT_MAX_INFLATED_MB"] * 1024 * 1024,
        cells=config["IAS_IMPORT_MAX_CELLS"],
        shared_strings=config["IAS_IMPORT_MAX_SHARED_STRINGS"],
        shared_string_chars=config["IAS_IMPORT_MAX_TEXT_CHARS"],
    )
    try:
        result = imports.import_census(
            source, actor=actor, bureau=bureau, max_rows=config["IAS_IMPORT_MAX_ROWS"], limits=limits
        )
    except WorkbookTooLarge as exc:
        message = workbook_too_large_message(exc)
        raise TooLarge(message, {"file": [message]}) from exc
    except ReaderError as exc:
        raise InvalidInput.field("file", reader_error_message(exc)) from exc
    record_event(
        "census_imported",
        "exports",
        None,
        {"file": filename, "imported": result.imported, "rejected": result.rejected},
    )
    return result


# What each read limit is, in the reader's language, and the setting that raises it.
_LIMIT_NAMES = {
    "cells": (_l("cells"), "IAS_IMPORT_MAX_CELLS"),
    "shared_strings": (_l("shared strings (distinct texts)"), "IAS_IMPORT_MAX_SHARED_STRINGS"),
    "shared_string_chars": (_l("characters of text"), "IAS_IMPORT_MAX_TEXT_CHARS"),
    "inflated_bytes": (_l("bytes once unpacked"), "IAS_IMPORT_MAX_INFLATED_MB"),
    "cells_per_row": (_l("cells in one row"), None),
    "text_length": (_l("characters in one cell"), None),
    "elements": (_l("formatting and other elements besides cells"), None),
}


def workbook_too_large_message(error: WorkbookTooLarge) -> str:
    """Which limit the workbook passed, how far, and (for a setting) how to raise it."""
    if error.limit == "compression":
        return _("The workbook is compressed in a way Excel does not use; save it again from Excel.")
    what, setting = _LIMIT_NAMES.get(error.limit, (error.limit, None))
    message = _(
        "The workbook holds more than %(allowed)s %(what)s (at least %(found)s), more than one upload "
        "imports; split it.",
        allowed=f"{error.allowed:,}",
        what=what,
        found=f"{error.found:,}",
    )
    if setting:
        message += " " + _("The limit is the setting %(setting)s.", setting=setting)
    return message


def reader_error_message(error: ReaderError) -> str:
    """A workbook that does not fit the template, said in the reader's language where it can be."""
    parts = []
    if error.missing_sheets:
        parts.append(_("No sheet named %(titles)s.", titles="、".join(error.missing_sheets)))
    for title, headers in error.missing_headers.items():
        parts.append(_("Sheet %(title)s has no column %(headers)s.", title=title, headers="、".join(headers)))
    if parts:
        return " ".join(parts)
    return _("Not a readable .xlsx workbook (%(detail)s).", detail="; ".join(error.problems))
