"""Point-in-polygon for a record against 343 village polygons (docs/contract.md §5, issue 17: ≤ 1 ms).

The polygons are synthetic (the project has none of Liangping's): 343 Voronoi cells of random seeds over
the district's box, and 33 township cells over the same box, their edges cut into ~30 m segments so that
each polygon has hundreds of vertices like a surveyed boundary. The points: uniformly random in the box
(some fall outside every polygon, as a point just over the district's edge does).

Measured per point, over the same points in interleaved runs:
- ours: app.geo.locate.Locator.locate, the whole answer a record needs (inside the outline grown by
  its tolerance in metres, the township, the village: bounding-box index, then prepared polygons);
- villages only: Locator.villages.at, the 343-polygon lookup alone;
- baseline (bare): shapely.contains_xy on the one prepared polygon known to hold the point, the least any
  point-in-polygon could do, found by an oracle;
- context: the same test against all 343 polygons one after the other, unprepared, without the index
  (what a plain loop does).

    .venv/bin/python bench/point_in_polygon.py [--points 5000] [--runs 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon, box

from app.geo.locate import Locator

BUDGET_MS = 1.0
# Liangping's box (districts/liangping/district.toml).
BOX = (107.4000, 30.4167, 108.0833, 30.8833)
SEGMENT_DEG = 0.0003  # about 30 m


def cells(count: int, seed: int) -> list[Polygon]:
    rng = random.Random(seed)  # noqa: S311 -- made-up shapes, repeatable
    seeds = MultiPoint([(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])) for _ in range(count)])
    frame = box(*BOX)
    regions = shapely.voronoi_polygons(seeds, extend_to=frame)
    polygons = [shapely.segmentize(cell.intersection(frame), SEGMENT_DEG) for cell in regions.geoms]
    return [p for p in polygons if isinstance(p, Polygon)]


def _timed(function: Callable[[float, float], object], points: Sequence[tuple[float, float]]) -> float:
    start = time.perf_counter()
    for lon, lat in points:
        function(lon, lat)
    return (time.perf_counter() - start) / len(points) * 1e6  # µs per point


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    villages = cells(343, seed=17)
    townships = cells(33, seed=33)
    outline = box(*BOX)
    started = time.perf_counter()
    locator = Locator(
        district=outline,
        townships={f"500155{i:03d}": p for i, p in enumerate(townships, 1)},
        villages={f"500155{i // 20 + 1:03d}{i % 20 + 1:03d}": p for i, p in enumerate(villages)},
        tolerance_m=50.0,
    )
    build_ms = (time.perf_counter() - started) * 1000
    assert locator.villages is not None  # noqa: S101 -- built above

    rng = random.Random(5)  # noqa: S311 -- made-up points, repeatable
    points = [(rng.uniform(*BOX[0::2]), rng.uniform(*BOX[1::2])) for _ in range(args.points)]
    # The oracle: which polygon holds each point, so the baseline tests only that one.
    holder = {}
    for index, polygon in enumerate(villages):
        inside = shapely.contains_xy(
            polygon, np.array([p[0] for p in points]), np.array([p[1] for p in points])
        )
        for k in np.flatnonzero(inside):
            holder[int(k)] = index
    held = sorted(holder)
    oracle_points = [points[k] for k in held]
    prepared = [shapely.Polygon(polygon) for polygon in villages]
    shapely.prepare(prepared)
    holder_prepared = [prepared[holder[k]] for k in held]
    oracle_polygons = iter(holder_prepared)

    def bare(lon: float, lat: float) -> bool:
        return bool(shapely.contains_xy(next(oracle_polygons), lon, lat))

    def plain(lon: float, lat: float) -> int | None:
        return next(
            (i for i, polygon in enumerate(villages) if polygon.contains(shapely.Point(lon, lat))), None
        )

    vertices = [len(p.exterior.coords) for p in villages]
    ours_us, villages_us, bare_us = [], [], []
    locator.locate(*points[0]), plain(*points[0])  # warm up
    for run in range(args.runs):
        pair: list[tuple[Callable[[], float], list[float]]] = [
            (lambda: _timed(locator.locate, points), ours_us),
            (lambda: _timed(locator.villages.at, points), villages_us),  # type: ignore[union-attr]
        ]
        for measure, times in pair if run % 2 == 0 else list(reversed(pair)):
            times.append(measure())
        oracle_polygons = iter(holder_prepared)
        bare_us.append(_timed(bare, oracle_points))
    plain_us = _timed(plain, points[: max(1, args.points // 10)])

    ours, vill, base = min(ours_us), min(villages_us), min(bare_us)
    print(
        f"{len(villages)} village polygons (median {statistics.median(vertices):.0f} vertices), "
        f"{len(townships)} townships; {args.points} points × {args.runs} runs; "
        f"locator built in {build_ms:.0f} ms"
    )
    print(
        f"locate (outline + township + village)  best {ours:8.1f} µs/point   "
        f"median {statistics.median(ours_us):8.1f}"
    )
    print(
        f"villages only                          best {vill:8.1f} µs/point   "
        f"median {statistics.median(villages_us):8.1f}"
    )
    print(f"bare: the right prepared polygon       best {base:8.1f} µs/point")
    print(f"plain loop over all 343, unprepared    {plain_us:8.1f} µs/point")
    print(
        f"ratio locate/bare {ours / base:.1f}; budget {BUDGET_MS * 1000:.0f} µs per record: "
        f"{'met' if ours <= BUDGET_MS * 1000 else 'NOT MET'}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "bench": "point_in_polygon",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "shapely": shapely.__version__,
            "machine": platform.machine(),
            "polygons": len(villages),
            "median_vertices": statistics.median(vertices),
            "points": args.points,
            "runs": args.runs,
            "build_ms": round(build_ms, 1),
            "ours_us": round(ours, 2),
            "ours_median_us": round(statistics.median(ours_us), 2),
            "villages_us": round(vill, 2),
            "baseline_us": round(base, 2),
            "plain_loop_us": round(plain_us, 2),
            "ratio": round(ours / base, 2),
            "budget_ms": BUDGET_MS,
        }
        with args.json.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
    return 0 if ours <= BUDGET_MS * 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
