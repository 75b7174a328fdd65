"""The polygon drawing plugin for the area tool (docs/maps.md, "Drawing an area"): Leaflet-Geoman (free
edition) from npm, served at `/vendor/geoman/…` straight from node_modules (pinned in package.json and
package-lock.json; `make install` runs `npm ci`), never copied into the repository and never from a CDN.

The record and control-operation forms do not load it: app/static/js/drawkit.js fetches it only when the
surveyor opens the area tool, so a form's first visit on a slow phone stays within its budget
(docs/contract.md §5). The service worker keeps it with the app shell, so the tool opens offline.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Flask

PACKAGE = "@geoman-io/leaflet-geoman-free"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "node_modules" / PACKAGE
GEOMAN_DIR = PACKAGE_DIR / "dist"

# What the area tool loads (the minified script and its stylesheet); the service worker caches both.
GEOMAN_FILES = ("leaflet-geoman.min.js", "leaflet-geoman.css")

bp = Blueprint("geoman", __name__, static_folder=str(GEOMAN_DIR), static_url_path="/vendor/geoman")


def geoman_version(_app: Flask) -> str:
    """The installed package's version, which names its files (/vendor/geoman/v/<version>/…)."""
    try:
        version = str(json.loads(PACKAGE_DIR.joinpath("package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "missing"  # not installed (npm ci not run): the files answer 404 and the tool says so
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in version)
