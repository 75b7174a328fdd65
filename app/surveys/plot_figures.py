"""A plot's figures from its quadrats, per species (docs/surveys.md, Plots: "The figures").

Pure arithmetic over plain values, so the API, the site timeline and the census workbook's 样地调查 sheet
all show the same numbers, and the tests can check them against their own computation.

For a plot of n quadrats and one species:

- present in a quadrat: the species has a record there with any figure above 0, or with no figure at
  all (named as seen); a record whose figures are all 0 says it was looked for there and not found;
- density in a quadrat: `density_per_m2` as typed, else `count / size_m2`;
- mean density, mean cover: the mean over the quadrats where the value is known, a quadrat where the
  species is absent (no record, or only zeros) counting as 0. When the value was measured wherever the
  species is present this is the mean over all n quadrats. None when the species is present somewhere
  and the value was measured nowhere it is present;
- frequency: 100 × (quadrats where present) / n;
- mean height: the mean over the quadrats where the species is present and its height was measured
  (absent plants have no height);
- total count: the sum of the counts given (None when none was).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.surveys.models import Plot


@dataclass(frozen=True)
class RecordValues:
    cover_pct: float | None = None
    density_per_m2: float | None = None
    height_cm: float | None = None
    count: int | None = None

    @property
    def present(self) -> bool:
        values = [
            v for v in (self.cover_pct, self.density_per_m2, self.height_cm, self.count) if v is not None
        ]
        return not values or any(v > 0 for v in values)

    def density(self, size_m2: float) -> float | None:
        if self.density_per_m2 is not None:
            return self.density_per_m2
        if self.count is not None and size_m2 > 0:
            return self.count / size_m2
        return None


@dataclass(frozen=True)
class QuadratValues:
    number: int
    size_m2: float
    records: Mapping[int, RecordValues]  # by species id


@dataclass(frozen=True)
class SpeciesFigures:
    species_id: int
    quadrats_present: int
    frequency_pct: float
    mean_density_per_m2: float | None
    mean_cover_pct: float | None
    mean_height_cm: float | None
    total_count: int | None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _clean(value: float | None) -> float | None:
    """Rounded away from float noise (0.30000000000000004), not for display."""
    return None if value is None else round(value, 6)


def species_figures(species_id: int, quadrats: Sequence[QuadratValues]) -> SpeciesFigures:
    n = len(quadrats)
    present = 0
    densities: list[float] = []
    covers: list[float] = []
    heights: list[float] = []
    counts: list[int] = []
    density_seen = cover_seen = False
    for quadrat in quadrats:
        record = quadrat.records.get(species_id)
        if record is not None and record.count is not None:
            counts.append(record.count)
        if record is None or not record.present:
            densities.append(0.0)
            covers.append(0.0)
            continue
        present += 1
        density = record.density(quadrat.size_m2)
        if density is not None:
            densities.append(density)
            density_seen = True
        if record.cover_pct is not None:
            covers.append(record.cover_pct)
            cover_seen = True
        if record.height_cm is not None:
            heights.append(record.height_cm)
    return SpeciesFigures(
        species_id=species_id,
        quadrats_present=present,
        frequency_pct=_clean(100.0 * present / n) if n else 0.0,  # type: ignore[arg-type]
        mean_density_per_m2=_clean(_mean(densities)) if density_seen or present == 0 else None,
        mean_cover_pct=_clean(_mean(covers)) if cover_seen or present == 0 else None,
        mean_height_cm=_clean(_mean(heights)),
        total_count=sum(counts) if counts else None,
    )


def plot_figures(quadrats: Sequence[QuadratValues]) -> list[SpeciesFigures]:
    """Figures of every species recorded in any quadrat: the most frequent first (in the most quadrats),
    then by species id, so the order is the same however the quadrats were sent."""
    ids = {species_id for quadrat in quadrats for species_id in quadrat.records}
    figures = [species_figures(species_id, quadrats) for species_id in ids]
    return sorted(figures, key=lambda f: (-f.quadrats_present, f.species_id))


def quadrat_values(plot: Plot) -> list[QuadratValues]:
    return [
        QuadratValues(
            number=q.number,
            size_m2=q.size_m2,
            records={
                r.species_id: RecordValues(r.cover_pct, r.density_per_m2, r.height_cm, r.count)
                for r in q.records
            },
        )
        for q in plot.quadrats
    ]


def figures_of(plot: Plot) -> dict[str, Any]:
    """The plot's figures with its species' names: quadrats, their total area, and per species."""
    names = {r.species_id: r.species for q in plot.quadrats for r in q.records}
    return {
        "quadrats": len(plot.quadrats),
        "quadrat_area_m2": round(sum(q.size_m2 for q in plot.quadrats), 6),
        "species": [
            {
                **asdict(figures),
                "species_name_zh": names[figures.species_id].name_zh,
                "species_name_sci": names[figures.species_id].name_sci,
            }
            for figures in plot_figures(quadrat_values(plot))
        ],
    }
