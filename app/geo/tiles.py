"""Web Mercator map tiles (the z/x/y scheme of OpenStreetMap, 天地图's `w` matrix set and Leaflet) that
cover an area: which tiles a phone must save to show a township offline (docs/maps.md, "Offline basemap").

A tile is kept when its square touches the area. The area is taken into tile coordinates at each zoom
(x to the east, y to the south, one unit a tile) and cut into rows one tile high; each row's piece of the
area spans an interval of x (one per part of a concave or split area), and the tiles under those
intervals are the row's. This is exact for any polygon and costs one vectorised intersection per zoom,
not one test per tile of the bounding box.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

# Web Mercator stops at ±85.0511° (the square world); nothing in China comes near it.
MAX_LAT = 85.05112878

Row = tuple[int, int, int]  # (y, first x, last x), both x inclusive


def tile_xy(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Fractional tile coordinates of a WGS-84 point at `zoom`."""
    n = 2**zoom
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    phi = math.radians(lat)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * n
    return x, y


def _to_tiles(coords: np.ndarray, zoom: int) -> np.ndarray:
    n = 2**zoom
    lon = coords[:, 0]
    phi = np.radians(np.clip(coords[:, 1], -MAX_LAT, MAX_LAT))
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - np.log(np.tan(phi) + 1.0 / np.cos(phi)) / np.pi) / 2.0 * n
    return np.column_stack([x, y])


def _parts(geometry: BaseGeometry) -> Iterable[BaseGeometry]:
    if hasattr(geometry, "geoms"):
        for part in geometry.geoms:
            yield from _parts(part)
    elif not geometry.is_empty:
        yield geometry


def tile_rows(area: BaseGeometry, zoom: int) -> list[Row]:
    """The rows of tiles at `zoom` whose squares touch `area` (WGS-84 lon/lat), north to south."""
    if area.is_empty:
        return []
    n = 2**zoom
    projected = shapely.transform(area, lambda coords: _to_tiles(coords, zoom))
    min_x, min_y, max_x, max_y = projected.bounds
    first, last = max(0, math.floor(min_y)), min(n - 1, math.floor(max_y))
    ys = np.arange(first, last + 1)
    strips = shapely.box(min_x - 1, ys, max_x + 1, ys + 1)
    pieces = shapely.intersection(projected, strips)
    rows: list[Row] = []
    for y, piece in zip(ys.tolist(), pieces, strict=True):
        spans = sorted(
            (max(0, math.floor(b[0])), min(n - 1, max(math.floor(b[0]), math.ceil(b[2]) - 1)))
            for b in (part.bounds for part in _parts(piece))
        )
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        rows.extend((int(y), start, end) for start, end in merged)
    return rows


def count(rows: Iterable[Row]) -> int:
    """The number of tiles in `rows`."""
    return sum(end - start + 1 for _y, start, end in rows)


def tile_bounds(zoom: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A tile's WGS-84 bounds (west, south, east, north): for tests and checks."""
    n = 2**zoom

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def lonlat_box(west: float, south: float, east: float, north: float) -> BaseGeometry:
    """A WGS-84 box as an area (a district's or township's bounding box)."""
    return box(west, south, east, north)
