"""亩 and m²: areas are stored in m² and shown, entered and exported in 亩 (docs/contract.md §2, §4).

1 亩 = 10000/15 m² (15 亩 to the hectare), about 666.67 m². The phone's scripts use the same figure,
which the field data publishes (app/main/offline.py `units`).
"""

from __future__ import annotations

from typing import overload

SQUARE_METRES_PER_MU = 10000 / 15
MU_DECIMALS = 4  # what the API and the workbooks give (0.0001 亩 ≈ 0.07 m²)


@overload
def to_mu(square_metres: float) -> float: ...
@overload
def to_mu(square_metres: None) -> None: ...
def to_mu(square_metres: float | None) -> float | None:
    """An area in 亩, rounded to MU_DECIMALS; None stays None (not measured)."""
    return None if square_metres is None else round(square_metres / SQUARE_METRES_PER_MU, MU_DECIMALS)


def mu_exact(square_metres: float) -> float:
    """An area in 亩, not rounded (for charts and for text formatted by the caller)."""
    return square_metres / SQUARE_METRES_PER_MU


def to_square_metres(mu: float) -> float:
    """An area given in 亩, in m² (not rounded: the caller rounds where its format says)."""
    return mu * SQUARE_METRES_PER_MU
