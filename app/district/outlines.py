"""The loaded boundaries as map outlines (docs/contract.md §2 Boundaries, §5 the map budget).

A map with no basemap (IAS_BASEMAP=none) is readable only with the district's, townships' and villages'
outlines and their names. The polygons are simplified to about one screen pixel at the zoom asked (zooms are
taken in bands, so a handful of versions exist per load) and kept per process, keyed by the boundaries'
version: a new load (by any worker) changes the version, and with it the ETag and the cached answer.
Villages are sent only from VILLAGE_ZOOM on, where their outlines and short names can be read.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import shapely
import sqlalchemy as sa

from app.district.boundaries import current_version
from app.district.models import Boundary, BoundaryLevel, Township, Village
from app.extensions import db
from app.geo.boundaries import from_geojson, to_geojson

# From this zoom on the villages are drawn (a township fills about a phone screen at 12).
VILLAGE_ZOOM = 12
# Zooms are grouped so that one simplification serves several: below 8, 8–9, 10–11, 12–13, 14 and above.
BANDS = (8, 10, 12, 14)
MAX_ZOOM = 22

_cache: dict[tuple[str, int], bytes] = {}
_lock = threading.Lock()


def band(zoom: int) -> int:
    """The zoom whose simplification serves `zoom`: the lowest zoom of its band."""
    chosen = 0
    for start in BANDS:
        if zoom >= start:
            chosen = start
    return chosen


def tolerance(zoom: int) -> float:
    """About one pixel of a 256-pixel tile at `zoom`, in degrees."""
    return 360.0 / (256 * 2**zoom)


def etag(version: str | None, zoom: int) -> str:
    return f"outlines-{version or 'none'}-{band(zoom)}"


def outlines(zoom: int) -> tuple[str, bytes]:
    """(ETag, GeoJSON body) of the outlines for `zoom`; an empty collection when none are loaded."""
    version = current_version()
    tag = etag(version, zoom)
    key = (version or "none", band(zoom))
    body = _cache.get(key)
    if body is None:
        body = json.dumps(
            {"type": "FeatureCollection", "version": version, "features": _features(band(zoom))},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        with _lock:
            if len(_cache) > 64:  # old versions: dropped together
                _cache.clear()
            _cache[key] = body
    return tag, body


def _features(zoom: int) -> list[dict[str, Any]]:
    levels = [BoundaryLevel.DISTRICT, BoundaryLevel.TOWNSHIP]
    if zoom >= VILLAGE_ZOOM:
        levels.append(BoundaryLevel.VILLAGE)
    townships = dict(db.session.execute(sa.select(Township.code, Township.name_zh)).all())
    villages = (
        dict(db.session.execute(sa.select(Village.code, Village.short_name)).all())
        if BoundaryLevel.VILLAGE in levels
        else {}
    )
    names = {BoundaryLevel.TOWNSHIP: townships, BoundaryLevel.VILLAGE: villages}
    rows = db.session.execute(
        sa.select(Boundary.level, Boundary.code, Boundary.name, Boundary.geometry)
        .where(Boundary.level.in_(levels))
        .order_by(Boundary.level, Boundary.code)
    ).all()
    step = tolerance(zoom)
    features = []
    for level, code, name, geometry in rows:
        shape = from_geojson(geometry)
        simple = shapely.simplify(shape, step, preserve_topology=True)
        simple = shapely.set_precision(simple, step / 4) if not simple.is_empty else simple
        if simple.is_empty:
            continue
        label = shape.representative_point()
        features.append(
            {
                "type": "Feature",
                "geometry": to_geojson(simple),
                "properties": {
                    "level": level.value,
                    "code": code,
                    "name": names.get(level, {}).get(code) or name or code,
                    "label": [round(label.x, 5), round(label.y, 5)],
                },
            }
        )
    return features
