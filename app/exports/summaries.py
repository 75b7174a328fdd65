"""The summary rows of a census workbook: figures by species, township, census category and control
method, all counted by app/census/counting.py (the one place census figures are counted, docs/census.md)
and named here for the sheet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from app.census import counting
from app.clock import local_today
from app.district.models import Township
from app.exports.rows import FOLLOW_UP_ZH, Scope, follow_up_rows, mu
from app.extensions import db
from app.species.models import CensusCategory, ControlMethod, Species


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
            "area_mu": mu(o.area_m2),
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
            "area_mu": mu(o.area_m2),
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
            "area_mu": mu(row.area_m2),
            "townships": row.townships,
        }


def _control_fields(totals: counting.ControlTotals) -> dict[str, Any]:
    return {
        "operations": totals.operations,
        "area_mu": mu(totals.area_m2),
        "extent_mu": mu(totals.extent_m2),
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
            "area_mu": mu(entry["area_m2"]),
            "control_area_mu": mu(entry["control_area_m2"]),
            "reinspections_due": entry["due"],
            "reinspections_done": entry["done"],
            "reinspections_overdue": entry["overdue"],
        }


def follow_up_summary_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"total": 0, "done": 0, "pending": 0, "overdue": 0, "cancelled": 0, "reductions": []}
    )
    # One re-inspection due per site and due day, as on 乡镇汇总 (counting.reinspections_by_township;
    # docs/census.md, Re-inspections due): follow-ups of one site due on one day count once.
    visits: dict[tuple[str, Any], dict[str, Any]] = {}
    statuses = {v: k for k, v in FOLLOW_UP_ZH.items()}
    for row in follow_up_rows(scope):
        visit = visits.setdefault(
            (row["site_code"], row["due_on"]),
            {"species": row["species_name_zh"], "statuses": set(), "overdue": False},
        )
        visit["statuses"].add(statuses[row["status"]])
        visit["overdue"] = visit["overdue"] or row["overdue"]
        if row["density_reduction_pct"] is not None:
            totals[row["species_name_zh"]]["reductions"].append(row["density_reduction_pct"])
    for visit in visits.values():
        entry = totals[visit["species"]]
        found = visit["statuses"]
        status = "done" if "done" in found else "pending" if "pending" in found else "cancelled"
        # 应复查: those not cancelled, as on 乡镇汇总 (docs/census.md); the cancelled have their own column.
        entry["total"] += 0 if status == "cancelled" else 1
        entry[status] += 1
        entry["overdue"] += 1 if status == "pending" and visit["overdue"] else 0
    for species, entry in sorted(totals.items()):
        reductions = entry.pop("reductions")
        active = entry["total"]
        yield {
            "species_name_zh": species,
            **entry,
            "completion_pct": round(entry["done"] / active * 100, 1) if active else None,
            "mean_density_reduction_pct": round(sum(reductions) / len(reductions), 2) if reductions else None,
        }
