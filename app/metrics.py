"""The survey metrics (docs/contract.md §2): one catalogue of what a record may measure.

Each metric has the key a species names it by (species_lists/ `metrics`: which metrics apply to a
species), the record's field (the API, the model, the workbooks), its labels (the form's, translated;
the Chinese the census workbooks use), its unit, its bounds, whether control efficacy is computed on it,
and the form input it is entered in (area: in 亩, app/units.py). The API schemas, the edit form, the
efficacy figures, the site timeline, the exports and the phone's field data (app/main/offline.py
`metrics`) all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from app.units import SQUARE_METRES_PER_MU


@dataclass(frozen=True)
class Metric:
    key: str  # how a species names it (species `metrics`), and the efficacy figures' name for it
    field: str  # the record's field
    label: Any  # the form's label, e.g. "Density (per m²)" (a lazy string: translated when shown)
    short: Any  # the label in a list of figures, e.g. "Density"
    phrase: Any  # lower case, with its unit, in running text (the site timeline), e.g. "density per m²"
    name_zh: str  # the Chinese name with its unit, as the census calls it (a bureau's workbook layout may
    # word the unit its own way: 株 for plants in forestry's)
    unit: str  # of the stored value
    minimum: float
    maximum: float
    integer: bool = False
    input: str = ""  # the form input it is entered in (the field's own name unless said)
    scale: float = 1  # stored value = input value × scale
    shown_unit: Any = ""  # the unit pages write after a value ("%", "per m²", "mu"; translated)
    step: str = "0.1"  # the form input's step (the precision people record it to)
    input_max: bool = (
        False  # the form input carries the maximum (a percentage: the phone's keypad stops there)
    )

    @property
    def input_name(self) -> str:
        return self.input or self.field

    def from_input(self, value: float) -> float:
        """A value typed in the form, as stored (an area typed in 亩, in m²)."""
        return value * self.scale

    def to_input(self, value: float) -> float:
        """A stored value, as the form shows it."""
        return value / self.scale

    def show(self, value: float) -> str:
        """A stored value as pages show it, with its unit: an area in 亩 with two decimals (as in the
        census tables), a count whole, other figures as short as they go."""
        if self.scale != 1:
            number = f"{self.to_input(value):,.2f}"
        elif self.integer:
            number = str(value)
        else:
            number = f"{value:g}"
        unit = str(self.shown_unit)
        return f"{number} {unit}" if unit else number


# The district is about 1.9e9 m²; anything larger is a typing error. Densities above a million per m²
# likewise.
MAX_AREA_M2 = 1e9
MAX_DENSITY = 1e6

AREA = Metric(
    "area",
    "area_m2",
    _l("Area (mu)"),
    _l("Area"),
    _l("Area (mu)"),
    "发生面积（亩）",
    "m²",
    0,
    MAX_AREA_M2,
    input="area_mu",
    scale=SQUARE_METRES_PER_MU,
    shown_unit=_l("mu"),
    step="0.01",
)
COVER = Metric(
    "cover",
    "cover_pct",
    _l("Cover (%)"),
    _l("Cover"),
    _l("cover %"),
    "盖度（%）",
    "%",
    0,
    100,
    shown_unit="%",
    step="1",
    input_max=True,
)
DENSITY = Metric(
    "density",
    "density_per_m2",
    _l("Density (per m²)"),
    _l("Density"),
    _l("density per m²"),
    "密度（头/平方米）",
    "/m²",
    0,
    MAX_DENSITY,
    shown_unit=_l("per m²"),
)
EGG_MASSES = Metric(
    "egg_masses",
    "egg_masses_per_m2",
    _l("Egg masses (per m²)"),
    _l("Egg masses"),
    _l("egg masses per m²"),
    "卵块密度（块/平方米）",
    "/m²",
    0,
    MAX_DENSITY,
    shown_unit=_l("per m²"),
)
COUNT = Metric(
    "count",
    "count",
    _l("Count"),
    _l("Count"),
    _l("count"),
    "数量（头/株）",
    "",
    0,
    10_000_000,
    integer=True,
    step="1",
)

METRICS: tuple[Metric, ...] = (AREA, COVER, DENSITY, EGG_MASSES, COUNT)
"""In the order the forms show them."""
KEYS = tuple(metric.key for metric in METRICS)
BY_KEY = {metric.key: metric for metric in METRICS}
BY_FIELD = {metric.field: metric for metric in METRICS}

FIELD_KEYS = {metric.field: metric.key for metric in METRICS}
"""The record's field → the species metric it records."""
EFFICACY = (DENSITY, EGG_MASSES, COVER, COUNT)
"""The metrics efficacy is computed on, in the order the efficacy figures list them (density first:
the corrected efficacy is on density)."""
ABUNDANCE = tuple(metric for metric in METRICS if metric is not AREA)
"""How much of the species there is: an absence record (not found) has none of these above 0."""

# Severity (1 轻发生 … 5 大发生) is a rating set or derived from the species' thresholds, not a
# species metric; its bounds live here beside the metrics'.
SEVERITY_MIN = 1
SEVERITY_MAX = 5


def field_data() -> list[dict[str, Any]]:
    """The catalogue as the phone's field data carries it (app/main/offline.py)."""
    return [
        {
            "key": metric.key,
            "field": metric.field,
            "input": metric.input_name,
            "label": str(metric.label),
            "unit": metric.unit,
            "min": metric.minimum,
            "max": metric.maximum,
            "integer": metric.integer,
            "efficacy": metric in EFFICACY,
            "abundance": metric in ABUNDANCE,
            "scale": metric.scale,
        }
        for metric in METRICS
    ]
