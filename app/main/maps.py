"""Basemaps for the Leaflet maps: 天地图 (with a key), OpenStreetMap, or none.

Chosen by IAS_BASEMAP. Points are drawn from our own API whatever the basemap; with `none` (or with no
internet) the maps still work, on a blank background. The tile hosts are added to the page's
Content-Security-Policy so nothing else outside the site can be loaded.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

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
            },
            {
                "url": TIANDITU % ("cva", "cva", key),
                "subdomains": "01234567",
                "max_zoom": 18,
                "attribution": "",
            },
        ]
    return []


def basemap_hosts(kind: str) -> list[str]:
    """The origins the basemap loads images from, for the CSP's img-src."""
    if kind == "osm":
        return ["https://tile.openstreetmap.org"]
    if kind == "tianditu":
        return ["https://*.tianditu.gov.cn"]
    return []
