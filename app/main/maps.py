"""Basemaps for the Leaflet maps: 天地图 (with a key), OpenStreetMap, a tile server's URL template, or none.

Chosen by IAS_BASEMAP (docs/maps.md). Points are drawn from our own API whatever the basemap; with `none`
(or with no internet) the maps still work, on a blank background. The tile hosts are added to the page's
Content-Security-Policy (images, and fetches: the service worker and the offline saving fetch tiles) so
nothing else outside the site can be loaded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

TIANDITU = (
    "https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=%s"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%s"
)


def basemap_layers() -> list[dict[str, Any]]:
    """The tile layers the maps draw, bottom first ([] for no basemap)."""
    kind = current_app.config["IAS_BASEMAP"]
    if kind == "osm":
        return [
            {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "subdomains": "",
                "max_zoom": 19,
                "attribution": "© OpenStreetMap contributors",
                "tile_kb": 15,
            }
        ]
    if kind == "tianditu":
        key = current_app.config["IAS_TIANDITU_KEY"]
        # 天地图 is in CGCS2000, which matches WGS-84 at field accuracy: no offset, unlike GCJ-02 maps.
        return [
            {
                "url": TIANDITU % ("vec", "vec", key),
                "subdomains": "01234567",
                "max_zoom": 18,
                "attribution": "© 天地图",
                "tile_kb": 12,
            },
            {
                "url": TIANDITU % ("cva", "cva", key),
                "subdomains": "01234567",
                "max_zoom": 18,
                "attribution": "",
                "tile_kb": 5,  # place names on a transparent background: small
            },
        ]
    if kind != "none":  # a tile server's URL template (checked at start-up, app/config.py)
        return [
            {
                "url": kind,
                "subdomains": current_app.config["IAS_BASEMAP_SUBDOMAINS"],
                "max_zoom": current_app.config["IAS_BASEMAP_MAX_ZOOM"],
                "attribution": current_app.config["IAS_BASEMAP_ATTRIBUTION"],
                "tile_kb": current_app.config["IAS_BASEMAP_TILE_KB"],
            }
        ]
    return []


def basemap_hosts(kind: str) -> list[str]:
    """The origins the basemap loads images from, for the CSP's img-src."""
    if kind == "osm":
        return ["https://tile.openstreetmap.org"]
    if kind == "tianditu":
        return ["https://*.tianditu.gov.cn"]
    if kind != "none":  # a URL template: its origin, with a subdomain placeholder as a wildcard
        parts = urlsplit(kind)
        return [f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"]
    return []


def offline_refusal() -> str | None:
    """Why tiles cannot be saved for offline use with this basemap, or None when they can.

    OpenStreetMap's public tile servers forbid bulk downloading for offline use (their tile usage
    policy), so saving is off for IAS_BASEMAP=osm; a bureau that wants offline OSM maps points
    IAS_BASEMAP at its own (or a contracted) tile server's URL template. IAS_OFFLINE_TILES_MAX=0 turns
    saving off for any basemap (docs/maps.md, "Offline basemap").
    """
    kind = current_app.config["IAS_BASEMAP"]
    if kind == "none":
        return _("This installation has no basemap, so there are no map tiles to save.")
    if kind == "osm":
        return _(
            "The public OpenStreetMap tile servers do not allow saving map tiles for offline use. "
            "Ask the administrator to set up the bureau's own tile server."
        )
    if current_app.config["IAS_OFFLINE_TILES_MAX"] <= 0:
        return _("Saving map tiles for offline use is turned off by the administrator.")
    return None
