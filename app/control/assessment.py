"""A treatment's efficacy from its records: the baseline, the re-inspection and the check plot (the
formulas themselves: app/control/efficacy.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import metrics
from app.control import efficacy as formulas
from app.control.efficacy import henderson_tilton_gap, henderson_tilton_pct, reduction_pct
from app.control.models import ControlOperation, FollowUp
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.sites.models import Site

# Observation metrics efficacy is computed on, and their names in the efficacy figures.
EFFICACY_METRICS = {metric.field: metric.key for metric in metrics.EFFICACY}


# Why a corrected efficacy (Henderson–Tilton) is missing, as the pages and the API say it.
EFFICACY_GAPS = {
    formulas.NO_CHECK_PLOT: _l("no untreated check plot was linked to the treatment"),
    formulas.MISSING_FIGURES: _l("a density before or after treatment is missing (treated or check plot)"),
    formulas.TREATED_BEFORE_ZERO: _l("the treated plot's density before treatment was 0"),
    formulas.CHECK_BEFORE_ZERO: _l("the check plot's density before treatment was 0"),
    formulas.CHECK_AFTER_ZERO: _l("the check plot's density after treatment was 0"),
}


def efficacy_withheld(follow_up: FollowUp) -> bool:
    """Recorded far from its site and not yet accepted by a supervisor: no efficacy counts."""
    return follow_up.far_from_site and follow_up.far_accepted_at is None


def _figures(observation: Observation | None) -> dict[str, float | None]:
    if observation is None:
        return {}
    return {name: getattr(observation, field) for field, name in EFFICACY_METRICS.items()}


def _check_plot(site: Site, start: datetime, end: datetime | None) -> Observation | None:
    """The check plot's latest record on or before `end` (after `start` when given as a lower bound)."""
    # A rejected record's figures were judged wrong: never part of an efficacy.
    stmt = sa.select(Observation).where(
        Observation.site_id == site.id, Observation.status != ReviewStatus.REJECTED
    )
    if end is None:
        stmt = stmt.where(Observation.observed_at <= start)
    else:
        stmt = stmt.where(Observation.observed_at > start, Observation.observed_at <= end)
    return db.session.scalar(stmt.order_by(Observation.observed_at.desc(), Observation.id.desc()).limit(1))


def efficacy_of(operation: ControlOperation | None, after: Observation) -> dict[str, Any] | None:
    """Reduction per metric against the operation's baseline, and the Henderson–Tilton corrected
    efficacy on density when an untreated check plot was linked. None without a baseline."""
    if operation is None or operation.baseline_observation is None:
        return None
    before = _figures(operation.baseline_observation)
    after_figures = _figures(after)
    result: dict[str, Any] = {"baseline_observation_id": operation.baseline_observation.id, "metrics": {}}
    for name, value_before in before.items():
        if value_before is None:
            continue
        value_after = after_figures.get(name)
        if value_after is None and not after.detected:
            value_after = 0.0  # searched for and not found
        result["metrics"][name] = {
            "before": value_before,
            "after": value_after,
            "reduction_pct": reduction_pct(value_before, value_after),
        }
    density = result["metrics"].get("density", {})
    eggs = result["metrics"].get("egg_masses", {})
    cover = result["metrics"].get("cover", {})
    result["density_reduction_pct"] = density.get("reduction_pct")
    result["egg_mass_reduction_pct"] = eggs.get("reduction_pct")
    result["cover_reduction_pct"] = cover.get("reduction_pct")
    result["corrected_efficacy_pct"] = None
    result["corrected_efficacy_reason"] = formulas.NO_CHECK_PLOT
    if operation.check_site is not None:
        check_before = _check_plot(operation.check_site, operation.performed_at, None)
        check_after = _check_plot(operation.check_site, operation.performed_at, after.observed_at)
        ck_b = check_before.density_per_m2 if check_before else None
        ck_a = check_after.density_per_m2 if check_after else None
        result["check"] = {"site_id": operation.check_site.id, "before": ck_b, "after": ck_a}
        figures = (density.get("before"), density.get("after"), ck_b, ck_a)
        result["corrected_efficacy_pct"] = henderson_tilton_pct(*figures)
        result["corrected_efficacy_reason"] = henderson_tilton_gap(*figures)
    return result


def efficacy_gap_text(efficacy: dict[str, Any] | None) -> str | None:
    """Why the corrected efficacy is missing, in the reader's language (None when it is there)."""
    code = (efficacy or {}).get("corrected_efficacy_reason")
    return str(EFFICACY_GAPS[code]) if code in EFFICACY_GAPS else None
