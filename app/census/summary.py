"""A census's figures as plain data (GET /api/v1/census/summary), from app/census/counting.py."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.census import counting
from app.census.scope import CensusScope
from app.district.models import Township
from app.extensions import db
from app.species.models import CensusCategory, ControlMethod, Species
from app.units import to_mu


def _occurrence(o: counting.Occurrence) -> dict[str, Any]:
    return {
        "points": o.points,
        "area_m2": round(o.area_m2, 2),
        "area_mu": to_mu(o.area_m2),
        "townships": o.townships,
        "max_severity": o.max_severity,
    }


def _control(t: counting.ControlTotals) -> dict[str, Any]:
    return {
        "operations": t.operations,
        "area_m2": round(t.area_m2, 2),
        "area_mu": to_mu(t.area_m2),
        "extent_m2": round(t.extent_m2, 2),
        "extent_mu": to_mu(t.extent_m2),
        "labour_person_days": t.labour_person_days,
        "cost_yuan": t.cost_yuan,
    }


def _rows(*columns: Any) -> dict[int | None, Any]:
    return {row[0]: row for row in db.session.execute(sa.select(*columns))}


def census_summary(scope: CensusScope, bureau: str) -> dict[str, Any]:
    """Totals, per species, per township, per census category of `bureau`'s census (the district's:
    all of them), and control by species × method and by township."""
    species = _rows(Species.id, Species.name_zh, Species.name_sci, Species.pinyin)
    townships = _rows(Township.id, Township.code, Township.name_zh)
    methods = _rows(ControlMethod.id, ControlMethod.code, ControlMethod.name_zh)

    def township(township_id: int | None) -> dict[str, Any]:
        row = townships.get(township_id) if township_id is not None else None
        return {"township_code": row.code if row else None, "township_name": row.name_zh if row else None}

    def township_order(township_id: int | None) -> str:
        return townships[township_id].code if township_id is not None else "~"

    def pinyin(species_id: int | None) -> str:
        return str(species[species_id].pinyin or "")

    rows = counting.occurrences(scope, by=("species", "township"))  # once, rolled up (exact)
    by_species = counting.roll_up(rows, ("species",))
    by_township = counting.roll_up(rows, ("township",))
    categories = counting.by_category(
        rows, [c.value for c in counting.census_categories(bureau)], counting.species_categories()
    )
    [total] = counting.roll_up(rows, ()) or [counting.Occurrence(None, None, 0, 0.0, 0, None)]
    [control_total] = counting.control_totals(scope, by=()) or [
        counting.ControlTotals(None, None, None, 0, 0.0, 0.0, 0.0, 0.0)
    ]
    by_method = counting.control_totals(scope, by=("species", "method"))
    control_by_township = counting.control_totals(scope, by=("township",))
    return {
        "occurrence": _occurrence(total),
        "species": [
            {
                "species_id": o.species_id,
                "name_zh": species[o.species_id].name_zh,
                "name_sci": species[o.species_id].name_sci,
                **_occurrence(o),
            }
            for o in sorted(by_species, key=lambda o: pinyin(o.species_id))
        ],
        "townships": [
            {**township(o.township_id), **_occurrence(o)}
            for o in sorted(by_township, key=lambda o: township_order(o.township_id))
        ],
        # A species in two categories is in both: these rows are not added up.
        "categories": [
            {
                "category": c.category,
                "name_zh": CensusCategory(c.category).name_zh if c.category else None,
                "species_count": len(c.species_ids),
                "species": [
                    {"species_id": s, "name_zh": species[s].name_zh}
                    for s in sorted(c.species_ids, key=pinyin)
                ],
                "points": c.points,
                "area_m2": round(c.area_m2, 2),
                "area_mu": to_mu(c.area_m2),
                "townships": c.townships,
            }
            for c in categories
        ],
        "control": {
            **_control(control_total),
            "by_species_method": [
                {
                    "species_id": t.species_id,
                    "species_name": species[t.species_id].name_zh,
                    "method": methods[t.method_id].code,
                    "method_name": methods[t.method_id].name_zh,
                    **_control(t),
                }
                for t in sorted(by_method, key=lambda t: (pinyin(t.species_id), methods[t.method_id].code))
            ],
            "by_township": [
                {**township(t.township_id), **_control(t)}
                for t in sorted(control_by_township, key=lambda t: township_order(t.township_id))
            ],
        },
    }
