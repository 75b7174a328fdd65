"""Control efficacy, as census-and-control.md gives it (福寿螺 practice; the same forms serve egg masses
and plant counts):

    reduction (%)          = (N_before − N_after) / N_before × 100
    corrected efficacy (%) = [1 − (CK_before × T_after) / (CK_after × T_before)] × 100   (Henderson–Tilton)

T is the treated plot, CK an untreated check plot of the same species. A figure that would divide by
zero, or that rests on a before-figure of 0, is not computed (None), never guessed, and
`henderson_tilton_gap` says why in a word the pages and the API translate.

Henderson–Tilton needs both before-figures: with none of the pest in the check plot before treatment
(CK_before = 0) the formula gives 100 % whatever happened in the treated plot, which is meaningless, so
it is left out rather than reported. So is a check plot treated between its two records (`CHECK_TREATED`):
its change is not the pest's own, and the corrected figure would credit or blame the treatment for it.
"""

from __future__ import annotations

from typing import Final

# Why a corrected efficacy is missing (stored in the follow-up's efficacy figures as a code).
NO_CHECK_PLOT: Final = "no_check_plot"
MISSING_FIGURES: Final = "missing_figures"
TREATED_BEFORE_ZERO: Final = "treated_before_zero"
CHECK_BEFORE_ZERO: Final = "check_before_zero"
CHECK_AFTER_ZERO: Final = "check_after_zero"
# The check plot was itself treated between its records before and after: it is no untreated check
# (app/control/assessment.py finds it from the records; the formula cannot see it).
CHECK_TREATED: Final = "check_treated"


def reduction_pct(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return round((before - after) / before * 100, 2)


def henderson_tilton_gap(
    treated_before: float | None,
    treated_after: float | None,
    check_before: float | None,
    check_after: float | None,
) -> str | None:
    """Why Henderson–Tilton cannot be computed from these figures (a code above), or None when it can."""
    if any(v is None for v in (treated_before, treated_after, check_before, check_after)):
        return MISSING_FIGURES
    assert treated_before is not None and check_before is not None  # noqa: S101 -- narrowed above
    assert check_after is not None  # noqa: S101
    if treated_before <= 0:
        return TREATED_BEFORE_ZERO
    if check_before <= 0:
        return CHECK_BEFORE_ZERO
    if check_after <= 0:
        return CHECK_AFTER_ZERO
    return None


def henderson_tilton_pct(
    treated_before: float | None,
    treated_after: float | None,
    check_before: float | None,
    check_after: float | None,
) -> float | None:
    if henderson_tilton_gap(treated_before, treated_after, check_before, check_after) is not None:
        return None
    assert treated_before is not None and treated_after is not None  # noqa: S101 -- checked above
    assert check_before is not None and check_after is not None  # noqa: S101
    return round((1 - (check_before * treated_after) / (check_after * treated_before)) * 100, 2)
