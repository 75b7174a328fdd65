"""Saving a township's basemap tiles on the phone for use without signal (docs/maps.md, "Offline basemap").

- `/map/offline`: the page where a surveyor picks a township (or the whole district), sees how many tiles
  and roughly how many MB each zoom adds, chooses zooms, saves with progress, and lists or deletes what
  this phone keeps. The saving itself is done by the phone (static/js/tiles.js): the tiles go from the
  tile server into the browser's Cache Storage, and the service worker answers the maps from there.
- `/app/offline-tiles?area=…[&min_zoom=…&max_zoom=…]`: the estimate for an area, and with zooms the plan
  (the tile rows to fetch), refused with a 422 naming `max_zoom` above IAS_OFFLINE_TILES_MAX so a
  phone never starts a download the tile server should not have to serve.

The area is the township's loaded polygon; a township without one (boundaries not loaded) falls back to
the district's outline, or the district's bounding box, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from shapely.geometry.base import BaseGeometry
from werkzeug.wrappers import Response

from app import pages
from app.district import boundaries
from app.district.models import Boundary, BoundaryLevel, Township
from app.district.services import get_district
from app.errors import envelope
from app.extensions import db
from app.geo import tiles
from app.geo.boundaries.measure import from_geojson
from app.main.maps import basemap_layers, offline_refusal
from app.messages import invalid_fields_message

bp = Blueprint("tiles", __name__)

DISTRICT = "district"  # the `area` meaning the whole district
# The lowest zoom offered: a district fills a phone screen at about 10, so 8 shows its surroundings.
MIN_ZOOM = 8
# Tiles the phone fetches at once: enough to finish a township in a minute or two, few enough that the
# tile server sees one person browsing, not a crawler (docs/maps.md).
CONCURRENCY = 4


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    shape: BaseGeometry
    # What the shape is: "township" (its loaded polygon), "district" (the district's outline, for a
    # township without one or for the whole district) or "box" (the district's bounding box).
    source: str


WHOLE_NUMBER = {"invalid": _l("must be a whole number.")}


class OfflineTilesArgs(ma.Schema):
    """The area and, for a plan, the zooms (their range depends on the basemap: checked by the view)."""

    area = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=20, error=_l("No township has this code.")),
        error_messages={"required": _l("Choose a township or the whole district.")},
        metadata={"description": "a township code, or `district`"},
    )
    min_zoom = ma.fields.Integer(error_messages=WHOLE_NUMBER)
    max_zoom = ma.fields.Integer(error_messages=WHOLE_NUMBER)


def _district_area(code: str, name: str) -> Area | None:
    outline = boundaries.outline()
    if outline is not None:
        return Area(code, name, outline, "district")
    district = get_district()
    if district is None:  # `flask district load` never run: nothing to save
        return None
    box = tiles.lonlat_box(district.min_lon, district.min_lat, district.max_lon, district.max_lat)
    return Area(code, name, box, "box")


def find_area(code: str) -> Area | None:
    """The area named `code` (a township code or `district`), None when there is no such township."""
    district = get_district()
    district_name = district.name if district is not None else _("The whole district")
    if code == DISTRICT:
        return _district_area(DISTRICT, district_name)
    township = db.session.scalar(sa.select(Township).where(Township.code == code))
    if township is None:
        return None
    geometry = db.session.scalar(
        sa.select(Boundary.geometry).where(
            Boundary.level == BoundaryLevel.TOWNSHIP, Boundary.code == township.code
        )
    )
    if geometry is not None:
        return Area(township.code, township.name_zh, from_geojson(geometry), "township")
    return _district_area(township.code, township.name_zh)


def _max_zoom(layers: list[dict[str, Any]]) -> int:
    return min(int(layer["max_zoom"]) for layer in layers) if layers else MIN_ZOOM


def _bytes(count: int, layers: list[dict[str, Any]]) -> int:
    return round(count * sum(float(layer["tile_kb"]) for layer in layers) * 1024)


def estimate(area: Area, layers: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """Per zoom: the tiles covering the area, the images to fetch (one per layer) and their likely size;
    up to the first zoom that alone is over the cap (the zooms above it could never be saved, and a
    district at zoom 22 has tens of millions of tiles: not worth counting on a web worker's time)."""
    rows = []
    for zoom in range(MIN_ZOOM, _max_zoom(layers) + 1):
        count = tiles.count(tiles.tile_rows(area.shape, zoom))
        requests = count * len(layers)
        rows.append({"zoom": zoom, "tiles": count, "requests": requests, "bytes": _bytes(count, layers)})
        if requests > cap:
            break
    return rows


def _refused(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Response:
    response = jsonify(envelope(status, message, errors))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


@bp.route("/app/offline-tiles")
@login_required
def offline_tiles() -> Response:
    """The estimate for an area (every zoom), and with `min_zoom` and `max_zoom` the tiles to save."""
    args, errors = pages.read(OfflineTilesArgs)
    layers = basemap_layers()
    top = _max_zoom(layers)
    for name in ("min_zoom", "max_zoom"):
        if name in args and not errors.get(name) and not MIN_ZOOM <= args[name] <= top:
            errors[name] = [_("Choose a zoom from %(low)s to %(high)s.", low=MIN_ZOOM, high=top)]
    if not errors and ("min_zoom" in args) != ("max_zoom" in args):
        missing = "max_zoom" if "min_zoom" in args else "min_zoom"
        errors[missing] = [_("Choose both the lowest and the highest zoom.")]
    if not errors and "min_zoom" in args and args["min_zoom"] > args["max_zoom"]:
        errors["min_zoom"] = [_("The lowest zoom must not be above the highest.")]
    area = None if errors else find_area(args["area"])
    if area is None and not errors:
        errors["area"] = [_("No township has this code.")]
    if errors or area is None:
        return _refused(422, invalid_fields_message(errors), errors)
    refusal = offline_refusal()
    cap = current_app.config["IAS_OFFLINE_TILES_MAX"]
    body: dict[str, Any] = {
        "available": refusal is None,
        "reason": refusal,
        "area": {"code": area.code, "name": area.name, "source": area.source},
        "cap": cap,
        "concurrency": CONCURRENCY,
        "layers": [
            {"url": layer["url"], "subdomains": layer["subdomains"], "tile_kb": layer["tile_kb"]}
            for layer in layers
        ],
        "zooms": estimate(area, layers, cap) if layers else [],
    }
    if "min_zoom" in args:
        if refusal is not None:
            return _refused(409, refusal)
        # The estimate has every zoom up to the first over the cap: a range reaching past it is over the
        # cap without counting it; otherwise its count is the estimate's, and only then are rows made.
        estimated = {row["zoom"]: row for row in body["zooms"]}
        if args["max_zoom"] not in estimated:
            message = _(
                "This would save more than the %(cap)s map tiles allowed at once: choose fewer zoom levels "
                "or a smaller area.",
                cap=cap,
            )
            return _refused(422, message, {"max_zoom": [message]})
        chosen = [estimated[zoom] for zoom in range(args["min_zoom"], args["max_zoom"] + 1)]
        count = sum(row["tiles"] for row in chosen)
        requests, size = count * len(layers), _bytes(count, layers)
        if requests > cap:
            message = _(
                "This would save %(count)s map tiles (about %(mb)s MB), more than the %(cap)s allowed at "
                "once: choose fewer zoom levels or a smaller area.",
                count=requests,
                mb=_mb(size),
                cap=cap,
            )
            return _refused(422, message, {"max_zoom": [message]})
        plan = {
            zoom: tiles.tile_rows(area.shape, zoom) for zoom in range(args["min_zoom"], args["max_zoom"] + 1)
        }
        body["plan"] = {
            "min_zoom": args["min_zoom"],
            "max_zoom": args["max_zoom"],
            "tiles": count,
            "requests": requests,
            "bytes": size,
            "rows": {str(zoom): rows for zoom, rows in plan.items()},
        }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/map/offline")
@login_required
def offline_map_page() -> str:
    """Save a township's map tiles on this phone, see what is saved, delete it."""
    townships = db.session.scalars(sa.select(Township).order_by(Township.code)).all()
    outlined = set(
        db.session.scalars(sa.select(Boundary.code).where(Boundary.level == BoundaryLevel.TOWNSHIP))
    )
    layers = basemap_layers()
    return render_template(
        "main/offline_tiles.html",
        title=_("Offline map"),
        townships=townships,
        outlined=outlined,
        refusal=offline_refusal(),
        cap=current_app.config["IAS_OFFLINE_TILES_MAX"],
        zooms=list(range(MIN_ZOOM, _max_zoom(layers) + 1)) if layers else [],
    )
