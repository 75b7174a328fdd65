"""Control efficacy, as census-and-control.md gives it (福寿螺 practice; the same forms serve egg masses
and plant counts):

    reduction (%)          = (N_before − N_after) / N_before × 100
    corrected efficacy (%) = [1 − (CK_before × T_after) / (CK_after × T_before)] × 100   (Henderson–Tilton)

T is the treated plot, CK an untreated check plot of the same species. A figure that would divide by
zero is not computed (None), never guessed.
"""

from __future__ import annotations


def reduction_pct(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return round((before - after) / before * 100, 2)


def henderson_tilton_pct(
    treated_before: float | None,
    treated_after: float | None,
    check_before: float | None,
    check_after: float | None,
) -> float | None:
    values = (treated_before, treated_after, check_before, check_after)
    if any(v is None for v in values):
        return None
    assert treated_before is not None and treated_after is not None  # noqa: S101 -- narrowed above
    assert check_before is not None and check_after is not None  # noqa: S101
    if treated_before <= 0 or check_after <= 0:
        return None
    return round((1 - (check_before * treated_after) / (check_after * treated_before)) * 100, 2)
