"""Geometry of the server-drawn SVG charts: numbers in, rectangles and labels out.

Drawn on the server so the page needs no chart library and no script (the CSP forbids inline ones),
and works the same offline, printed, or on a slow phone. The templates only place what this computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# About the width of a phone screen, so the 11 px labels are drawn near 11 px where space is tightest.
WIDTH = 360
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 36, 4, 26, 34


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # bar-fill, bar-warn, bar-alt
    values: Sequence[float]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # shown as a tooltip; the data table below says the same


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Category:
    x: float  # the centre of the group
    label: str
    sublabel: str  # e.g. the year under January


@dataclass(frozen=True)
class LegendItem:
    x: float
    css: str
    name: str


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: int
    right: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    categories: list[Category]
    legend: list[LegendItem]


def nice_scale(peak: float, *, whole: bool, steps: int = 4) -> tuple[float, float]:
    """(top, step) of an axis reaching at least `peak`, with steps of 1, 2 or 5 × 10ⁿ (whole numbers
    only for counts)."""
    if peak <= 0:
        return 1.0, 1.0
    raw = peak / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return math.ceil(peak / step) * step, step


def column_chart(
    categories: Sequence[tuple[str, str]],
    series: Sequence[Series],
    *,
    whole: bool,
    number: Callable[[float], str],
    category_titles: Sequence[str],
) -> ColumnChart:
    """Grouped columns, one group per category, one column per series.

    `categories` are (label, sublabel) pairs; `category_titles` name each category in the tooltips;
    `number` formats values for the axis and tooltips.
    """
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    peak = max((v for s in series for v in s.values), default=0)
    top, step = nice_scale(peak, whole=whole)
    group = plot_width / max(len(categories), 1)
    gap = group * 0.2
    width = (group - gap) / max(len(series), 1)

    bars = []
    for i in range(len(categories)):
        for k, s in enumerate(series):
            value = s.values[i]
            height = plot_height * value / top
            bars.append(
                Bar(
                    x=round(LEFT + i * group + gap / 2 + k * width, 1),
                    y=round(baseline - height, 1),
                    width=round(width, 1),
                    height=round(height, 1),
                    css=s.css,
                    title=f"{category_titles[i]} · {s.name}: {number(value)}",
                )
            )
    ticks = [
        Tick(y=round(baseline - plot_height * (n * step) / top, 1), label=number(n * step))
        for n in range(round(top / step) + 1)
    ]
    labels = [
        Category(x=round(LEFT + (i + 0.5) * group, 1), label=label, sublabel=sublabel)
        for i, (label, sublabel) in enumerate(categories)
    ]
    legend = [LegendItem(x=LEFT + k * 110, css=s.css, name=s.name) for k, s in enumerate(series)]
    return ColumnChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=ticks,
        categories=labels,
        legend=legend,
    )


def share(value: int, peak: int) -> float:
    """A row's bar length in a table, as a percentage of the largest row."""
    return round(100 * value / peak, 1) if peak > 0 else 0.0
