"""What the phone caches for offline work: service worker, manifest, field data, session token."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app import create_app
from app.config import ConfigError, load_config
from tests.conftest import TEST_CONFIG


def test_service_worker_is_served_from_the_root_uncached_and_lists_the_shell(client: Any) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))  # type: ignore[union-attr]
    names = {re.sub(r"/v/[^/]+/", "/", url) for url in shell}  # files are named by version (main/assets.py)
    assert "/static/js/outbox.js" in names and "/vendor/leaflet/leaflet.js" in names and "/offline" in names
    assert (
        "/app/signed-out" in names and "/static/js/signed-out.js" in names and "/static/js/forget.js" in names
    )
    for url in shell:  # every file the worker pre-caches exists, or its install would fail
        with client.get(url) as file:
            assert file.status_code == 200, url
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', body)
    assert version, "the cache name carries a digest of the static files"


def test_leaflet_comes_from_the_installed_package(client: Any) -> None:
    with client.get("/vendor/leaflet/leaflet.js") as response:
        assert response.status_code == 200
        assert b"Leaflet" in response.get_data()[:2000]


def test_offline_page_needs_no_sign_in(client: Any) -> None:
    assert client.get("/offline").status_code == 200


@pytest.mark.parametrize("path", ["/offline", "/app/signed-out"])
def test_the_pages_kept_for_the_next_person_carry_nothing_of_the_admin_who_fetched_them(
    web_as: Any, path: str
) -> None:
    """docs/architecture.md, "Signing out on a shared phone": fetched when the worker installs, shown to
    whoever holds the phone next."""
    web = web_as("admin", display_name="周九")
    assert "/admin/users" in web.get("/").get_data(as_text=True)  # the admin's own pages: their menu
    page = web.get(path).get_data(as_text=True)
    for personal in (
        "/admin/users",
        "/exports",
        "/dashboard",
        "周九",
        "csrf",
        "ias-user",
        "data-unread-count",
    ):
        assert personal not in page, personal
    signed_out = path == "/app/signed-out"
    assert ("/js/app.js" in page) is not signed_out  # drawn as if nobody were signed in
    assert ("data-sign-out>" in page) is not signed_out


def test_session_json_gives_a_fresh_token_or_401(client: Any, web_as: Any) -> None:
    anonymous = client.get("/app/session.json")
    assert anonymous.status_code == 401 and anonymous.get_json() == {"signed_in": False}
    web = web_as("surveyor")
    response = web.get("/app/session.json")
    body = response.get_json()
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert body["user_id"] == web.user.id and body["csrf_token"]
    # The token works for a JSON call with the session cookie.
    posted = web.client.post(
        "/api/v1/notifications/read", json={}, headers={"X-CSRFToken": body["csrf_token"]}
    )
    assert posted.status_code != 400


def test_field_data_has_what_the_forms_need(web_as: Any, species_id: Any) -> None:
    web = web_as("surveyor", organization="agriculture")
    assert web.get("/app/field-data.json").status_code == 200
    data = web.get("/app/field-data.json").get_json()
    assert data["user"]["organization"] == "agriculture"
    assert data["gps_accuracy_limit_m"] == 30.0
    snail = next(s for s in data["species"] if s["id"] == species_id("pomacea-canaliculata"))
    assert snail["name_zh"] == "福寿螺" and "density" in snail["metrics"] and "cover" not in snail["metrics"]
    assert "fsl" in snail["terms"] and "fushouluo" in snail["terms"]  # pinyin initials and full pinyin
    assert any(t["code"] == "500155001" for t in data["townships"])
    assert any(h["code"] == "paddy" and h["parent"] for h in data["habitats"])
    chemical = next(m for m in data["methods"] if m["code"] == "chemical")
    assert any(f["name"] == "product" for f in chemical["fields"])


def test_field_data_needs_sign_in(client: Any) -> None:
    assert client.get("/app/field-data.json").status_code == 302


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor", "bureau_admin", "admin"])
def test_every_menu_page_opens_for_the_roles_it_is_shown_to(web_as: Any, role: str) -> None:
    from flask import url_for

    from app.main.navigation import NAV

    web = web_as(role)
    html = web.get("/").get_data(as_text=True)
    menu = re.search(r'<details class="menu">.*?</details>', html, re.S).group(0)  # type: ignore[union-attr]
    links = re.findall(r'<a href="([^"]+)"', menu)
    with web.client.application.test_request_context():
        expected = [url_for(i.endpoint) for i in NAV if i.roles is None or role in {r.value for r in i.roles}]
    assert [link for link in links if link != "/api-docs"] == expected
    for path in links:
        assert web.get(path).status_code == 200, path


@pytest.mark.parametrize(
    ("basemap", "host"),
    [("osm", "https://tile.openstreetmap.org"), ("tianditu", "https://*.tianditu.gov.cn"), ("none", None)],
)
def test_csp_allows_only_the_configured_basemap(basemap: str, host: str | None) -> None:
    app = create_app({**TEST_CONFIG, "IAS_BASEMAP": basemap, "IAS_TIANDITU_KEY": "k"})
    response = app.test_client().get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    img = next(part for part in csp.split("; ") if part.startswith("img-src"))
    assert img == "img-src 'self' data: blob:" + (f" {host}" if host else "")
    assert "script-src 'self';" in csp + ";" and "worker-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_basemap_settings_are_checked_at_start() -> None:
    with pytest.raises(ConfigError, match="IAS_BASEMAP"):
        load_config({"IAS_BASEMAP": "google"})
    with pytest.raises(ConfigError, match="IAS_TIANDITU_KEY"):
        load_config({"IAS_BASEMAP": "tianditu"})


def test_pages_carry_no_inline_script(web_as: Any) -> None:
    web = web_as("admin")
    for path in ("/", "/observations/new", "/follow-ups", "/map", "/control-operations/new", "/dashboard"):
        html = web.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert " style=" not in html and " onclick=" not in html, path
