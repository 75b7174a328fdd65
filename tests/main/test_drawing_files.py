"""The area tool's drawing plugin (app/main/drawing.py): Leaflet-Geoman served from node_modules under its
package version, compressed and cached a year, kept by the service worker, and never loaded by a form page
itself (drawkit.js fetches it when the tool is opened)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import brotli
from flask import Flask, url_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "@geoman-io" / "leaflet-geoman-free"


def test_the_plugin_is_served_by_its_pinned_version_compressed_and_cached_a_year(
    app: Flask, client: Any
) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["@geoman-io/leaflet-geoman-free"]
    assert json.loads((PACKAGE / "package.json").read_text())["version"] == pinned
    with app.test_request_context():
        url = url_for("geoman.static", filename="leaflet-geoman.min.js")
    assert url == f"/vendor/geoman/v/{pinned}/leaflet-geoman.min.js"
    response = client.get(url, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "br"
    original = (PACKAGE / "dist" / "leaflet-geoman.min.js").read_bytes()
    assert brotli.decompress(response.data) == original
    assert len(response.data) < len(original) / 3
    # An old or unversioned name is answered but not kept.
    assert client.get("/vendor/geoman/leaflet-geoman.css").headers["Cache-Control"] == "no-cache"


def test_the_service_worker_keeps_the_plugin_and_the_area_tool(app: Flask, client: Any) -> None:
    body = client.get("/sw.js").get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    with app.test_request_context():
        for name in ("leaflet-geoman.min.js", "leaflet-geoman.css"):
            assert url_for("geoman.static", filename=name) in shell
        assert url_for("static", filename="js/drawkit.js") in shell


def test_the_forms_do_not_load_the_plugin(web_as: Any) -> None:
    web = web_as("surveyor")
    for path in ("/observations/new", "/control-operations/new"):
        page = web.get(path).get_data(as_text=True)
        # Named for the tool to fetch on demand, never as a script or stylesheet of the page.
        assert 'data-geoman-js="/vendor/geoman/' in page
        assert not re.search(r"<(script|link)[^>]+/vendor/geoman/", page)
