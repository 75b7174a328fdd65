"""WGS-84 ⇄ GCJ-02 ⇄ BD-09, from the public algorithms, written here from their published formulas.

Field positions are stored as WGS-84 (≡ CGCS2000 for field work). Points copied from AMap or Tencent maps
are GCJ-02 and from Baidu BD-09; in Liangping GCJ-02 sits about half a kilometre from the true point, so
they are converted on the way in, only when the client says which system it used.

WGS-84 → GCJ-02 is closed-form; the inverse has no closed form and is found by fixed-point iteration
(converges to ~1e-9° in a handful of steps). GCJ-02 ⇄ BD-09 is closed-form one way; the other way is
also inverted by iteration, so that round trips agree to well under a millimetre.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

import numpy as np

Shift = Callable[[float, float], tuple[float, float]]

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
EARTH_RADIUS_M = 6371008.8


class CRS(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def outside_china(lon: float, lat: float) -> bool:
    """The algorithm leaves points outside this rough box unshifted."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if outside_china(lon, lat):
        return lon, lat
    d_lat = _shift_lat(lon - 105.0, lat - 35.0)
    d_lon = _shift_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _invert(forward: Shift, lon: float, lat: float, tolerance: float = 1e-10) -> tuple[float, float]:
    """Find p with forward(p) == (lon, lat), starting from the point itself (the shifts are small)."""
    guess_lon, guess_lat = lon, lat
    for _ in range(30):
        out_lon, out_lat = forward(guess_lon, guess_lat)
        d_lon, d_lat = lon - out_lon, lat - out_lat
        guess_lon += d_lon
        guess_lat += d_lat
        if abs(d_lon) < tolerance and abs(d_lat) < tolerance:
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if outside_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _invert(gcj02_to_bd09, lon, lat)


def to_wgs84(lon: float, lat: float, crs: CRS | str = CRS.WGS84) -> tuple[float, float]:
    """A point in `crs` as WGS-84."""
    crs = CRS(crs)
    if crs is CRS.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if crs is CRS.BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    return lon, lat


def from_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """A WGS-84 point in `crs` (for display on a GCJ-02 or BD-09 basemap)."""
    crs = CRS(crs)
    if crs is CRS.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if crs is CRS.BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    return lon, lat


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth radius; < 0.5 % error)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_lat = p2 - p1
    d_lon = math.radians(lon2 - lon1)
    h = math.sin(d_lat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# Systems a boundary file may be in (docs/contract.md §2, Boundaries). CGCS2000 (EPSG:4490) and WGS-84 differ
# by centimetres, far below the accuracy of any administrative boundary, so both are taken as they are;
# GCJ-02 and BD-09 are converted vertex by vertex.
FILE_CRS_NAMES = ("cgcs2000", "wgs84", "gcj02", "bd09")


def file_crs(name: str) -> CRS:
    """The point system a boundary file's --crs names (cgcs2000 is read as WGS-84)."""
    name = name.strip().lower()
    if name not in FILE_CRS_NAMES:
        raise ValueError(f"unknown coordinate system {name!r}; use one of {', '.join(FILE_CRS_NAMES)}")
    return CRS.WGS84 if name == "cgcs2000" else CRS(name)


# The same conversions over arrays of points, for boundary files of hundreds of thousands of vertices (a
# point at a time costs some 13 µs, half a minute for a detailed village file; these, under a second).
# Each mirrors its scalar twin above step for step; tests/geo/test_crs.py holds them to it.
ArrayShift = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _inside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _wgs84_to_gcj02_arrays(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    waves = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat = d_lat + waves
    d_lat = d_lat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon = d_lon + waves
    d_lon = d_lon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon = d_lon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * pi)
    inside = _inside_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def _gcj02_to_bd09_arrays(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert_arrays(
    forward: ArrayShift, lon: np.ndarray, lat: np.ndarray, tolerance: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """`_invert` for every point at once: a point stops moving once it has converged, as there."""
    guess_lon, guess_lat = lon.copy(), lat.copy()
    active = np.ones(lon.shape, dtype=bool)
    for _ in range(30):
        out_lon, out_lat = forward(guess_lon[active], guess_lat[active])
        d_lon, d_lat = lon[active] - out_lon, lat[active] - out_lat
        guess_lon[active] += d_lon
        guess_lat[active] += d_lat
        done = (np.abs(d_lon) < tolerance) & (np.abs(d_lat) < tolerance)
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return guess_lon, guess_lat


def _gcj02_to_wgs84_arrays(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = _inside_china(lon, lat)
    out_lon, out_lat = lon.copy(), lat.copy()
    out_lon[inside], out_lat[inside] = _invert_arrays(_wgs84_to_gcj02_arrays, lon[inside], lat[inside])
    return out_lon, out_lat


def to_wgs84_points(points: np.ndarray, crs: CRS | str) -> np.ndarray:
    """`to_wgs84` for an (n, 2) array of longitude, latitude pairs (shapely.transform's)."""
    crs = CRS(crs)
    if crs is CRS.WGS84 or len(points) == 0:
        return points
    lon, lat = points[:, 0].astype(float), points[:, 1].astype(float)
    if crs is CRS.BD09:
        lon, lat = _invert_arrays(_gcj02_to_bd09_arrays, lon, lat)
    lon, lat = _gcj02_to_wgs84_arrays(lon, lat)
    return np.column_stack((lon, lat))
