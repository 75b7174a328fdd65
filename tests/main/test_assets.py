"""Static files: named by their content's digest, cached a year, compressed; old names never kept."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import brotli
import pytest
from flask import Flask, url_for

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "static"


def _versioned(app: Flask, filename: str, endpoint: str = "static") -> str:
    with app.test_request_context():
        return url_for(endpoint, filename=filename)


def test_names_carry_the_digest_and_are_cached_a_year(app: Flask, client: Any) -> None:
    url = _versioned(app, "js/app.js")
    assert re.fullmatch(r"/static/v/[0-9a-f]{12}/js/app\.js", url)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data == (STATIC / "js" / "app.js").read_bytes()
    leaflet = _versioned(app, "leaflet.js", "offline.static")
    assert leaflet == "/vendor/leaflet/v/1.9.3.0/leaflet.js"
    assert client.get(leaflet).headers["Cache-Control"].endswith("immutable")


@pytest.mark.parametrize("path", ["/static/js/app.js", "/static/v/000000000000/js/app.js"])
def test_a_name_without_the_current_digest_is_answered_but_not_kept(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.data == (STATIC / "js" / "app.js").read_bytes()


def test_a_changed_file_changes_every_name(app: Flask, tmp_path: Path) -> None:
    from app.main.assets import _folder_digest, _stamp

    for name in ("a.js", "b.css"):
        (tmp_path / name).write_text(f"/* {name} */")
    before = _folder_digest(str(tmp_path), _stamp(str(tmp_path)))
    (tmp_path / "b.css").write_text("/* b.css, changed */")
    assert _folder_digest(str(tmp_path), _stamp(str(tmp_path))) != before


def test_module_imports_resolve_under_the_same_version(app: Flask, client: Any) -> None:
    """app.js imports ./outbox.js: relative to a versioned name it is the versioned outbox.js."""
    url = _versioned(app, "js/capture.js")
    source = client.get(url).get_data(as_text=True)
    imports = re.findall(r'from "(\./[^"]+)"', source)
    assert imports
    for relative in imports:
        imported = url.rsplit("/", 1)[0] + "/" + relative.removeprefix("./")
        response = client.get(imported)
        assert response.status_code == 200, imported
        assert response.headers["Cache-Control"].endswith("immutable"), imported


@pytest.mark.parametrize(
    ("accept", "decode"),
    [("br", brotli.decompress), ("gzip", gzip.decompress), ("gzip, deflate, br", brotli.decompress)],
)
def test_scripts_styles_and_pages_are_compressed(
    app: Flask, client: Any, web_as: Any, accept: str, decode: Any
) -> None:
    for url, original in (
        (_versioned(app, "leaflet.js", "offline.static"), None),
        (_versioned(app, "app.css"), (STATIC / "app.css").read_bytes()),
    ):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response.headers["Content-Encoding"] == accept.split(",")[-1].strip()
        assert int(response.headers["Content-Length"]) == len(response.data)
        body = decode(response.data)
        assert original is None or body == original
        assert len(response.data) < 0.5 * len(body)
    page = web_as("surveyor").get("/", headers={"Accept-Encoding": accept})
    assert page.headers["Content-Encoding"] in {"br", "gzip"}
    assert "Accept-Encoding" in page.headers["Vary"]


def test_nothing_is_compressed_for_a_client_that_does_not_ask(app: Flask, client: Any) -> None:
    response = client.get(_versioned(app, "leaflet.js", "offline.static"), headers={"Accept-Encoding": ""})
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"/*")


def test_pages_name_their_files_by_digest(app: Flask, web_as: Any) -> None:
    html = web_as("surveyor").get("/").get_data(as_text=True)
    for attribute in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert attribute.startswith("/static/v/"), attribute


def test_the_field_data_is_compressed_and_the_api_left_as_it_is(api_as: Any, web_as: Any) -> None:
    import json

    web = web_as("surveyor")
    plain = web.get("/app/field-data.json")
    assert "Content-Encoding" not in plain.headers
    for accept, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        packed = web.get("/app/field-data.json", headers={"Accept-Encoding": accept})
        assert packed.headers["Content-Encoding"] == accept and "Accept-Encoding" in packed.headers["Vary"]
        assert json.loads(decode(packed.data)) == plain.get_json()
        assert len(packed.data) < len(plain.data) / 3
    # Programs asking for compression get the JSON as it is (some never undo it).
    api = api_as("surveyor").get("/api/v1/control-methods", headers={"Accept-Encoding": "br, gzip"})
    assert api.status_code == 200 and "Content-Encoding" not in api.headers


@pytest.mark.parametrize("path", ["/static/v/x/../../config.py", "/static/v/abc/../../../pyproject.toml"])
def test_no_way_out_of_the_folder(client: Any, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_service_worker_precaches_the_versioned_names(client: Any) -> None:
    body = client.get("/sw.js").get_data(as_text=True)
    shell = re.findall(r'"(/(?:static|vendor)/[^"]+)"', body)
    assert shell and all("/v/" in path for path in shell)
    for path in shell:
        with client.get(path) as reply:  # images are streamed from their file: close it
            assert reply.status_code == 200, path


def test_a_compressed_file_revalidates_with_its_own_etag(app: Flask, client: Any) -> None:
    url = "/static/js/app.js"  # an unversioned name: the browser asks again each time
    first = client.get(url, headers={"Accept-Encoding": "br"})
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    plain = client.get(url, headers={"If-None-Match": etag})  # another encoding is another entity
    assert plain.status_code == 200 and plain.data == (STATIC / "js" / "app.js").read_bytes()


def test_pages_preload_their_modules_and_the_field_data(app: Flask, web_as: Any) -> None:
    """A module's imports are found only once it arrives: the page names them all at once."""
    web = web_as("surveyor")
    html = web.get("/observations/new").get_data(as_text=True)
    head = html[: html.index("</head>")]
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/v/[0-9a-f]+/(js/[^"]+)">', head))
    assert {"js/app.js", "js/capture.js", "js/forms.js", "js/photos.js", "js/position.js"} <= preloaded
    assert '<link rel="preload" href="/app/field-data.json" as="fetch" crossorigin>' in head
    home = web.get("/").get_data(as_text=True)
    assert "field-data.json" not in home[: home.index("</head>")]  # the home page does not load it


def test_favicon_ico_leads_to_the_apps_icon(client: Any) -> None:
    """A page that names no icon (the API's docs) makes the browser ask for /favicon.ico: no 404."""
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302
    icon = client.get(answer.headers["Location"])
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.data
