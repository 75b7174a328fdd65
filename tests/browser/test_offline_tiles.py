"""The offline basemap in Chromium (docs/maps.md, "Offline basemap"): a surveyor saves a township's tiles
from a tile server the test runs on loopback, sees the estimate and the progress, goes offline, and the map
and the record form draw the saved tiles from the phone (the tile server hears nothing); deleting frees
them; the cap refuses an oversize save before a single tile is fetched; Leaflet's marker icon loads offline.

The loopback tile server is allowed the way an operator would allow the bureau's own tile server inside
its network (IAS_BASEMAP_ALLOWED_HOSTS); production defaults allow no such host.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image  # noqa: TID251 -- the test's tile server draws its own tiles
from playwright.sync_api import expect
from shapely.geometry import box

from app.config import load_config
from app.district import boundaries
from app.district.models import BoundaryLevel, District
from app.extensions import db
from app.geo import tiles
from app.main.maps import basemap_hosts
from app.security import content_security_policy
from tests.browser import test_accessibility as accessibility
from tests.browser.waiting import wait_until
from tests.conftest import PADDY
from tests.geo.synthetic import feature, geojson, square

LAT, LON = PADDY
# A made-up township square around the paddy (not anyone's real boundary): ±0.004° east-west, ±0.003°
# north-south, so the record form's small map at zoom 17 stays inside it.
TOWNSHIP = (LON - 0.004, LAT - 0.003, LON + 0.004, LAT + 0.003)
CAP = 40
SAVED_ZOOMS = (8, 17)


class TileServer:
    """A tile server on loopback: /tiles/z/x/y.png as a 256-pixel PNG drawn for that tile, with CORS (as
    OpenStreetMap-style servers and 天地图 send) and no-store, so the browser's HTTP cache can never stand
    in for the phone's saved copy. Every request is counted."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.failing: set[str] = set()  # paths answered 404 (a tile the server does not have)
        self.delay = 0.0  # seconds before each tile (a slow server, so a save can be stopped)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append(self.path)
                parts = self.path.strip("/").removesuffix(".png").split("/")
                if len(parts) != 4 or parts[0] != "tiles" or not all(p.isdigit() for p in parts[1:]):
                    self.send_error(404)
                    return
                time.sleep(server.delay)
                if self.path in server.failing:  # an error the page can read (CORS on errors too)
                    self.send_response(404)
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                z, x, y = (int(p) for p in parts[1:])
                buffer = io.BytesIO()
                Image.new("RGB", (256, 256), ((x * 37) % 256, (y * 59) % 256, (z * 20) % 256)).save(
                    buffer, "PNG"
                )
                body = buffer.getvalue()
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_port}"
        self.template = f"http://{self.host}/tiles/{{z}}/{{x}}/{{y}}.png"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="tile-server", daemon=True)
        self.thread.start()

    def tile_requests(self) -> list[str]:
        with self.lock:
            return [path for path in self.requests if path.startswith("/tiles/")]

    def forget(self) -> None:
        with self.lock:
            self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.thread.join(5)
        self.httpd.server_close()


@pytest.fixture
def tile_server(app: Flask, live_server: str) -> Iterator[TileServer]:
    """The tile server, and the app set up to use it as an operator would (settings checked as at start)."""
    server = TileServer()
    settings = load_config(
        {
            "IAS_BASEMAP": server.template,
            "IAS_BASEMAP_ALLOWED_HOSTS": server.host,  # the operator's exemption, as for webhooks
            "IAS_OFFLINE_TILES_MAX": str(CAP),
            "IAS_BASEMAP_TILE_KB": "1",
        }
    )
    keys = [k for k in settings if k.startswith("IAS_BASEMAP") or k == "IAS_OFFLINE_TILES_MAX"]
    saved = {key: app.config[key] for key in [*keys, "IAS_CSP"]}
    app.config.update({key: settings[key] for key in keys})
    app.config["IAS_CSP"] = content_security_policy(basemap_hosts(server.template))
    try:
        yield server
    finally:
        app.config.update(saved)
        server.close()


def _load_township() -> None:
    boundaries.load_boundaries(
        geojson(feature("500155001", square(*TOWNSHIP))), "t.geojson", level=BoundaryLevel.TOWNSHIP
    )
    db.session.commit()
    db.session.rollback()  # end the read: on SQLite an open transaction here would block the server


def brute_force(area: Any, zoom: int) -> set[tuple[int, int, int]]:
    """The tiles whose square touches the area, tile by tile (not the app's row method)."""
    n = 2**zoom
    west, south, east, north = area.bounds
    found = set()
    for x in range(math.floor((west + 180) / 360 * n), math.floor((east + 180) / 360 * n) + 1):
        for y in range(n):
            w, s, e, nn = tiles.tile_bounds(zoom, x, y)
            if not (nn < south or s > north) and box(w, s, e, nn).intersects(area):
                found.add((zoom, x, y))
    return found


def _loaded_tiles(page: Any, selector: str) -> list[dict[str, Any]]:
    """The map's tile images once each has finished (loaded or failed): src and natural width."""
    wait_until(
        page,
        f"() => document.querySelectorAll('{selector} img.leaflet-tile').length > 0 && "
        f"[...document.querySelectorAll('{selector} img.leaflet-tile')].every((img) => img.complete)",
    )
    return page.evaluate(
        f"() => [...document.querySelectorAll('{selector} img.leaflet-tile')]"
        ".map((img) => ({src: img.src, width: img.naturalWidth}))"
    )


def _tile_key(url: str) -> tuple[int, int, int]:
    z, x, y = url.rsplit("/tiles/", 1)[1].removesuffix(".png").split("/")
    return int(z), int(x), int(y)


def test_a_township_saved_for_offline_use_draws_the_map_and_the_form_with_no_signal(
    phone: Any, field_user: Any, tile_server: TileServer
) -> None:
    _load_township()
    surveyor = field_user("surveyor")
    p = phone(allowed_hosts=(tile_server.host,))
    p.sign_in(surveyor.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/map")
    p.page.click("[data-offline-map-link]")
    p.page.wait_for_selector("body[data-tiles-ready]")
    expect(p.page.locator("[data-tiles-none]")).to_be_visible()
    tile_server.forget()  # the map page drew its basemap online

    # The estimate, per zoom, before anything is downloaded: counted here tile by tile.
    area = box(*TOWNSHIP)
    expected = {zoom: brute_force(area, zoom) for zoom in range(8, 19)}
    p.page.select_option("[data-tiles-area]", "500155001")
    p.page.wait_for_selector("form[data-estimate='500155001']")
    expect(p.page.locator("[data-tiles-source]")).to_contain_text("边界")
    for zoom in range(8, 19):
        cells = p.page.locator(f"tr[data-zoom='{zoom}'] td").all_inner_texts()
        assert cells == [str(zoom), str(len(expected[zoom])), f"{len(expected[zoom])} KB"], (zoom, cells)
    wanted = set().union(*(expected[z] for z in range(SAVED_ZOOMS[0], SAVED_ZOOMS[1] + 1)))
    assert len(wanted) <= CAP < sum(len(expected[z]) for z in range(8, 19))
    p.page.select_option("[data-tiles-min]", str(SAVED_ZOOMS[0]))
    p.page.select_option("[data-tiles-max]", str(SAVED_ZOOMS[1]))
    total = p.page.locator("[data-tiles-total]")
    # IAS_BASEMAP_TILE_KB=1 here: one KB a tile.
    expect(total).to_have_text(f"缩放级别 8–17：{len(wanted)} 张瓦片，约 {len(wanted)} KB。")
    assert tile_server.tile_requests() == []  # nothing fetched for an estimate
    p.screenshot("offline-map-estimate")

    # Save with progress: every tile once, and nothing else.
    p.page.click("[data-tiles-save]")
    form = p.page.locator("form[data-tiles-form]")
    expect(form).to_have_attribute("data-state", "saved", timeout=60_000)
    expect(p.page.locator("[data-tiles-progress-text]")).to_have_text(
        f"已保存 {len(wanted)} / {len(wanted)} 张瓦片"
    )
    assert p.page.locator("[data-tiles-bar]").evaluate("(bar) => bar.value") == 1
    fetched = [_tile_key(path) for path in tile_server.tile_requests()]
    assert sorted(fetched) == sorted(wanted)  # each tile once, only the township's
    saved = p.page.locator("[data-tiles-saved] li")
    expect(saved).to_have_count(1)
    expect(saved).to_contain_text("梁山街道")
    expect(saved).to_contain_text(f"{len(wanted)} 张")
    p.screenshot("offline-map-saved")

    # No signal: the record form's map and the district map draw the saved tiles, and the marker icon.
    tile_server.forget()
    p.context.set_offline(True)
    p.goto("/observations/new")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    drawn = _loaded_tiles(p.page, "[data-position-map]")
    assert drawn and all(tile["width"] == 256 for tile in drawn), drawn
    assert {_tile_key(tile["src"]) for tile in drawn} <= wanted
    icon = p.page.locator("[data-position-map] img.leaflet-marker-icon")
    expect(icon).to_have_count(1)
    wait_until(p.page, "() => document.querySelector('[data-position-map] img.leaflet-marker-icon').complete")
    assert icon.evaluate("(img) => img.naturalWidth") > 0  # not a broken image
    p.screenshot("offline-map-record-form")

    p.goto("/map")
    p.page.wait_for_selector("[data-map]")
    on_map = _loaded_tiles(p.page, "[data-map]")
    shown = [tile for tile in on_map if tile["width"] > 0]
    assert shown, on_map  # the district view has the township's saved tiles at its zoom
    assert {_tile_key(tile["src"]) for tile in shown} <= wanted
    # Tiles outside the saved township stay blank (none was ever saved), and the tile server heard nothing.
    assert all(_tile_key(tile["src"]) in wanted for tile in on_map if tile["width"] > 0)
    assert tile_server.tile_requests() == []

    # Back in signal: the saved tiles still come from the phone (no data spent on them).
    p.context.set_offline(False)
    p.goto("/observations/new")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    drawn = _loaded_tiles(p.page, "[data-position-map]")
    assert all(tile["width"] == 256 for tile in drawn)
    assert not {_tile_key(path) for path in tile_server.tile_requests()} & wanted

    # Delete: the cache is gone, and offline the form's map has no basemap again.
    p.goto("/map/offline")
    p.page.wait_for_selector("body[data-tiles-ready]")
    p.page.once("dialog", lambda dialog: dialog.accept())
    p.page.click("[data-tiles-delete='500155001']")
    expect(p.page.locator("[data-tiles-saved] li")).to_have_count(0)
    expect(p.page.locator("[data-tiles-none]")).to_be_visible()
    names = p.page.evaluate("() => caches.keys()")
    assert not [name for name in names if name.startswith("ias-tiles-")], names
    tile_server.forget()
    p.context.set_offline(True)
    p.goto("/observations/new")
    p.page.wait_for_selector('form[data-gps="good"]')
    p.page.wait_for_selector("[data-position-map][data-map-ready='1']")  # Leaflet comes after the form
    gone = _loaded_tiles(p.page, "[data-position-map]")
    assert gone and all(tile["width"] == 0 for tile in gone), gone
    assert tile_server.tile_requests() == []
    p.context.set_offline(False)


def test_the_cap_refuses_an_oversize_save_before_fetching_anything(
    phone: Any, field_user: Any, tile_server: TileServer
) -> None:
    surveyor = field_user("surveyor")
    p = phone(allowed_hosts=(tile_server.host,))
    p.sign_in(surveyor.username)
    p.goto("/map/offline")
    p.page.wait_for_selector("body[data-tiles-ready]")
    p.page.select_option("[data-tiles-area]", "district")
    p.page.wait_for_selector("form[data-estimate='district']")
    p.page.select_option("[data-tiles-min]", "8")
    # The estimate stops at the first zoom over the cap; a range up to it is counted, beyond it only refused.
    last = int(p.page.locator("[data-tiles-estimate-rows] tr").last.get_attribute("data-zoom") or 0)
    assert last < 14
    p.page.select_option("[data-tiles-max]", "14")
    assert p.page.locator("form[data-tiles-form]").get_attribute("data-requests") == "over"
    expect(p.page.locator("[data-tiles-total]")).to_contain_text(f"超过单次上限 {CAP} 张")
    p.page.click("[data-tiles-save]")
    expect(p.page.locator("[data-tiles-error]")).to_have_text(
        f"这次将保存的瓦片超过单次上限 {CAP} 张：请少选几个缩放级别，或选更小的范围。"
    )
    p.page.select_option("[data-tiles-max]", str(last))
    expect(p.page.locator("[data-tiles-total]")).to_contain_text(f"超过单次上限 {CAP} 张")
    p.page.click("[data-tiles-save]")
    expect(p.page.locator("form[data-tiles-form]")).to_have_attribute("data-state", "refused")
    error = p.page.locator("[data-tiles-error]")
    expect(error).to_be_visible()
    # No outlines loaded: the district's bounding box, whose tiles are every tile of its corners' range.
    west, south, east, north = db.session.execute(
        sa.select(District.min_lon, District.min_lat, District.max_lon, District.max_lat)
    ).one()
    db.session.rollback()  # end the read: on SQLite an open transaction here would block the server
    expected = 0
    for zoom in range(8, last + 1):
        x0, y0 = (math.floor(v) for v in tiles.tile_xy(west, north, zoom))
        x1, y1 = (math.floor(v) for v in tiles.tile_xy(east, south, zoom))
        expected += (x1 - x0 + 1) * (y1 - y0 + 1)
    expect(error).to_contain_text(f"这次将保存 {expected} 张瓦片")
    expect(error).to_contain_text(f"超过单次上限 {CAP} 张")
    assert tile_server.tile_requests() == []
    names = p.page.evaluate("() => caches.keys()")
    assert not [name for name in names if name.startswith("ias-tiles-")]


def test_saved_tiles_have_the_urls_leaflet_asks_for(phone: Any, field_user: Any) -> None:
    """The service worker finds a saved tile by its URL, so tiles.js must build the very URL Leaflet's tile
    layer asks for, subdomain included (天地图 spreads tiles over t0–t7)."""
    surveyor = field_user("surveyor")
    p = phone()
    p.sign_in(surveyor.username)
    p.goto("/map")
    p.page.wait_for_selector("[data-map]")
    module = p.page.evaluate("() => [...document.scripts].find((s) => s.src.endsWith('/js/map.js')).src")
    pairs = p.page.evaluate(
        """async (module) => {
            const { tileUrl } = await import(module.replace('/js/map.js', '/js/tiles.js'));
            const out = [];
            for (const [url, subdomains] of [
                ["https://t{s}.example.cn/w?X={x}&Y={y}&L={z}&tk=k", "01234567"],
                ["https://{s}.tiles.example.cn/{z}/{x}/{y}.png", "abc"],
                ["https://tiles.example.cn/{z}/{x}/{-y}{r}.png", ""],
            ]) {
                const layer = window.L.tileLayer(url, { subdomains: subdomains || "abc" });
                const tiles = [[8, 204, 105], [12, 3270, 1688], [17, 104643, 54001], [17, 104644, 54001]];
                for (const [z, x, y] of tiles) {
                    layer._tileZoom = z;
                    // Leaflet fills {-y} only on a map (from the map's tile range): the formula stands in.
                    layer.options["-y"] = 2 ** z - 1 - y;
                    const leaflet = layer.getTileUrl({ x, y, z });
                    out.push([leaflet, tileUrl({ url, subdomains }, z, x, y)]);
                }
            }
            return out;
        }""",
        module,
    )
    assert len(pairs) == 12
    for leaflet, ours in pairs:
        assert ours == leaflet
    # Neighbouring tiles come from different 天地图 hosts, and {r} follows the phone's screen (2x here).
    assert pairs[2][1].split(".")[0] != pairs[3][1].split(".")[0]
    assert pairs[8][1].endswith("@2x.png")


def test_a_failed_tile_is_reported_and_a_save_can_be_stopped(
    phone: Any, field_user: Any, tile_server: TileServer
) -> None:
    _load_township()
    surveyor = field_user("surveyor")
    area = box(*TOWNSHIP)
    wanted = set().union(*(brute_force(area, z) for z in range(SAVED_ZOOMS[0], SAVED_ZOOMS[1] + 1)))
    broken = sorted(wanted)[-1]
    tile_server.failing.add("/tiles/{}/{}/{}.png".format(*broken))
    p = phone(allowed_hosts=(tile_server.host,))
    p.sign_in(surveyor.username)
    p.goto("/map/offline")
    p.page.wait_for_selector("body[data-tiles-ready]")
    p.page.select_option("[data-tiles-area]", "500155001")
    p.page.wait_for_selector("form[data-estimate='500155001']")
    p.page.select_option("[data-tiles-min]", str(SAVED_ZOOMS[0]))
    p.page.select_option("[data-tiles-max]", str(SAVED_ZOOMS[1]))
    form = p.page.locator("form[data-tiles-form]")

    # One tile the server cannot give: said, and the rest kept.
    p.page.click("[data-tiles-save]")
    expect(form).to_have_attribute("data-state", "saved", timeout=60_000)
    expect(p.page.locator("[data-tiles-total]")).to_contain_text("1 张瓦片未能下载")
    expect(p.page.locator("[data-tiles-saved] li")).to_contain_text(f"{len(wanted) - 1} 张瓦片")

    # A slow server: stopped part-way, what arrived is kept and listed.
    tile_server.failing.clear()
    tile_server.delay = 0.3
    tile_server.forget()
    p.page.click("[data-tiles-save]")
    expect(form).to_have_attribute("data-state", "saving")
    wait_until(p.page, "() => Number(document.querySelector('form[data-tiles-form]').dataset.done || 0) >= 4")
    p.page.click("[data-tiles-cancel]")
    expect(form).to_have_attribute("data-state", "stopped", timeout=30_000)
    expect(p.page.locator("[data-tiles-total]")).to_contain_text("已停止")
    fetched = len(tile_server.tile_requests())
    assert 4 <= fetched < len(wanted)
    expect(p.page.locator("[data-tiles-saved] li")).to_contain_text(f"{fetched} 张瓦片")
    tile_server.delay = 0.0


def test_the_offline_map_page_passes_axe(phone: Any, field_user: Any, tile_server: TileServer) -> None:
    """The page with its estimate and a saved area (the other pages: test_accessibility.py)."""
    _load_township()
    surveyor = field_user("surveyor")
    p = phone(allowed_hosts=(tile_server.host,))
    p.sign_in(surveyor.username)
    p.goto("/map/offline")
    p.page.wait_for_selector("body[data-tiles-ready]")
    p.page.select_option("[data-tiles-area]", "500155001")
    p.page.wait_for_selector("form[data-estimate='500155001']")
    p.page.select_option("[data-tiles-min]", "12")
    p.page.select_option("[data-tiles-max]", "14")
    p.page.click("[data-tiles-save]")
    expect(p.page.locator("form[data-tiles-form]")).to_have_attribute("data-state", "saved", timeout=60_000)
    expect(p.page.locator("[data-tiles-saved] li")).to_have_count(1)
    assert accessibility._violations(p, accessibility.AXE.read_text(encoding="utf-8")) == []
