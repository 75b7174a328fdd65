"""A treatment's efficacy from its records: the baseline, the re-inspection and the check plot (the
formulas themselves: app/control/efficacy.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import metrics
from app.clock import CLOCK_SKEW
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
    formulas.CHECK_TREATED: _l("the check plot was itself treated between its records before and after"),
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


def _treated_between(site: Site, first: Observation | None, last: Observation | None) -> bool:
    """Whether a control operation treated the site after its record `first` and up to `last`: a check
    plot treated then is no untreated check (Henderson–Tilton)."""
    if first is None or last is None:
        return False
    return (
        db.session.scalar(
            sa.select(ControlOperation.id)
            .where(
                ControlOperation.site_id == site.id,
                ControlOperation.performed_at > first.observed_at,
                ControlOperation.performed_at <= last.observed_at,
            )
            .limit(1)
        )
        is not None
    )


def latest_baseline(site_id: int, species_id: int, performed_at: datetime) -> Observation | None:
    """The site's latest record that found the species on or before the treatment, not a rejected one
    (its figures were judged wrong): the baseline when none is named, or the named one no longer is."""
    return db.session.scalar(
        sa.select(Observation)
        .where(
            Observation.site_id == site_id,
            Observation.species_id == species_id,
            Observation.detected.is_(True),
            Observation.observed_at <= performed_at,
            Observation.status != ReviewStatus.REJECTED,
        )
        .order_by(Observation.observed_at.desc(), Observation.id.desc())
        .limit(1)
    )


def is_baseline_of(observation: Observation, operation: ControlOperation) -> bool:
    """Whether a record is still the figures before the treatment: of its site and species, a record that
    found it, not rejected, made before it (a phone's clock may be CLOCK_SKEW ahead). A record is
    checked again when the efficacy is worked out: since the treatment was recorded it may have been
    rejected, or its surveyor may have moved it to another place, species, time or made it an absence."""
    return (
        observation.site_id == operation.site_id
        and observation.species_id == operation.species_id
        and observation.detected
        and observation.status != ReviewStatus.REJECTED
        and observation.observed_at <= operation.performed_at + CLOCK_SKEW
    )


def baseline_of(operation: ControlOperation) -> Observation | None:
    """The record the treatment's efficacy is measured against, as things are now: the one it named
    while that one is still its baseline (`is_baseline_of`), else the site's latest such record."""
    named = operation.baseline_observation
    if named is not None and is_baseline_of(named, operation):
        return named
    return latest_baseline(operation.site_id, operation.species_id, operation.performed_at)


def efficacy_of(operation: ControlOperation | None, after: Observation) -> dict[str, Any] | None:
    """Reduction per metric against the operation's baseline (`baseline_of`), and the Henderson–Tilton
    corrected efficacy on density when an untreated check plot was linked. None without a baseline."""
    baseline = None if operation is None else baseline_of(operation)
    if operation is None or baseline is None:
        return None
    before = _figures(baseline)
    after_figures = _figures(after)
    result: dict[str, Any] = {"baseline_observation_id": baseline.id, "metrics": {}}
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
        if result["corrected_efficacy_reason"] is None and _treated_between(
            operation.check_site, check_before, check_after
        ):
            result["corrected_efficacy_pct"] = None
            result["corrected_efficacy_reason"] = formulas.CHECK_TREATED
    return result


def efficacy_gap_text(efficacy: dict[str, Any] | None) -> str | None:
    """Why the corrected efficacy is missing, in the reader's language (None when it is there)."""
    code = (efficacy or {}).get("corrected_efficacy_reason")
    return str(EFFICACY_GAPS[code]) if code in EFFICACY_GAPS else None


def efficacy_rose(efficacy: dict[str, Any] | None) -> bool:
    """Whether a figure of the efficacy is below 0: the pest grew after the treatment instead of falling
    (a reduction of −150 % is 2.5 times as many). The pages say so beside it."""
    if not efficacy:
        return False
    figures = [m.get("reduction_pct") for m in (efficacy.get("metrics") or {}).values()]
    figures.append(efficacy.get("corrected_efficacy_pct"))
    return any(value is not None and value < 0 for value in figures)
