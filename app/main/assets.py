"""Static files: compressed, and cached by phones for a year under a name that changes with their content.

`url_for('static', filename='js/app.js')` gives `/static/v/<digest>/js/app.js`, where the digest is of
every file in the folder: a deploy that changes any file changes every name, so a browser never keeps an
old file, and may keep the current ones for a year without asking (`immutable`). The digest is of the
whole folder rather than one per file because the JavaScript modules import each other by relative
name (`./outbox.js`): under one versioned folder those imports resolve to the same version with no
build step. Leaflet and Swagger UI (served from their wheels) are named by their package versions.

A request for a name without the current digest (an unversioned one, or a page saved on a phone before a
deploy) is still answered, with the current file and `no-cache`, so it is never kept past a change.

Compression is flask-compress (brotli or gzip, as the client accepts) for pages, scripts and styles,
plus the phone's field data (/app/field-data.json, the largest answer a form waits for). The API's JSON
is left as it is: its clients are programs, some of which ask for compression they do not undo.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import brotli
from flask import Flask, current_app, request, url_for
from flask_compress import Compress
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from app.main.drawing import geoman_version

VERSIONED = "v"  # /static/v/<digest>/<file>
YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
REVALIDATE = "no-cache"

# What is compressed: the pages and what they load (not images: they are compressed already).
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/manifest+json",
    "image/svg+xml",
]

compress = Compress()


@cache
def _folder_digest(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """The digest of a folder's files (names and bytes); `stamp` (name, size, mtime) keys the cache."""
    digest = hashlib.sha256()
    for name, _size, _mtime in stamp:
        digest.update(name.encode())
        digest.update(Path(folder, name).read_bytes())
    return digest.hexdigest()[:12]


def _stamp(folder: str) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return tuple((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


@cache
def _production_digest(folder: str) -> str:
    return _folder_digest(folder, _stamp(folder))


def static_version(app: Flask) -> str:
    """The digest of the app's static folder: read once, or on every call while debugging (files change)."""
    folder = app.static_folder or ""
    if app.debug:
        return _folder_digest(folder, _stamp(folder))
    return _production_digest(folder)


def _package_version(module: str) -> Callable[[Flask], str]:
    def version(_app: Flask) -> str:
        from importlib.metadata import version as installed

        return "".join(c if c.isalnum() or c in ".-" else "-" for c in installed(module))

    return version


# Endpoints serving files, and how each is versioned.
VERSIONS: dict[str, Callable[[Flask], str]] = {
    "static": static_version,
    "offline.static": _package_version("XStatic-Leaflet"),
    "api_docs.static": _package_version("flask-swagger-ui"),
    "geoman.static": geoman_version,  # the polygon drawing plugin, from node_modules (app/main/drawing.py)
}


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    """url_for(...) of a file: put the current version in its name."""
    version_of = VERSIONS.get(endpoint)
    filename = values.get("filename")
    if version_of is None or not isinstance(filename, str) or filename.startswith(f"{VERSIONED}/"):
        return
    values["filename"] = f"{VERSIONED}/{version_of(current_app)}/{filename}"


_PACKED: dict[tuple[str, bytes], bytes] = {}  # (algorithm, digest of the file) → compressed bytes


def _packed(algorithm: str, data: bytes) -> bytes:
    """A file compressed once per process at the strongest setting (the pages' own answers are
    compressed per request by flask-compress at its quicker default)."""
    key = (algorithm, hashlib.sha256(data).digest())
    if key not in _PACKED:
        if algorithm == "br":
            _PACKED[key] = bytes(brotli.compress(data, quality=11))
        else:
            _PACKED[key] = gzip.compress(data, compresslevel=9, mtime=0)
    return _PACKED[key]


def _compress_file(response: Response, *, once: bool = True) -> None:
    """Read the file into the response (static files are small) and compress it as the client accepts;
    flask-compress then leaves it as it is (it never compresses twice). `once`: keep the result for
    the next request (files), rather than compress it quickly each time (per-user data)."""
    source = response.response
    response.direct_passthrough = False
    data = response.get_data()
    close = getattr(source, "close", None)
    if close is not None:
        close()  # the file it was read from
    response.vary.add("Accept-Encoding")
    accepted = request.accept_encodings
    algorithm = next((a for a in ("br", "gzip") if accepted[a]), None)
    if algorithm is None or len(data) < current_app.config["COMPRESS_MIN_SIZE"]:
        return
    if once:
        response.set_data(_packed(algorithm, data))
    elif algorithm == "br":
        response.set_data(bytes(brotli.compress(data, quality=5)))
    else:
        response.set_data(gzip.compress(data, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = algorithm
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}:{algorithm}", weak=bool(weak))
    response.make_conditional(request)


def _versioned_view(endpoint: str, view: Callable[..., Any]) -> Callable[..., Response]:
    version_of = VERSIONS[endpoint]

    def serve(filename: str) -> Response:
        cache_control = REVALIDATE
        parts = filename.split("/", 2)
        if len(parts) == 3 and parts[0] == VERSIONED:
            if parts[1] == version_of(current_app):
                cache_control = IMMUTABLE
            filename = parts[2]
        response: Response = view(filename=filename)
        response.headers["Cache-Control"] = cache_control
        if response.status_code == 200 and response.mimetype in COMPRESSED_TYPES:
            _compress_file(response)
        return response

    serve.__name__ = view.__name__
    return serve


# ---------------------------------------------------------------------------------------------
# Preloading a page's modules: a module's imports are only found once it has arrived, so on a
# 400 ms round trip each level of imports costs a round trip more. The page names them all at once.

MODULE_SCRIPT = re.compile(r'<script\b[^>]*\btype="module"[^>]*\bsrc="([^"]+)"')
IMPORT = re.compile(r'^\s*(?:import|export)\b[^;"]*?(?:from\s*)?"(\.{1,2}/[^"]+\.js)"', re.M)
# A module that awaits the field data as a statement of its own fetches /app/field-data.json as the page
# starts (capture.js, control.js, map.js); app.js asks for it only on some paths (a refused outbox item),
# so it must not make every page preload it.
FIELD_DATA = re.compile(r"^\s*(?:(?:const|let)\s+)?\w+\s*=\s*await fieldData\(\);", re.M)


@cache
def _module(folder: str, version: str, filename: str) -> tuple[tuple[str, ...], bool]:
    """A static module's imports (as static file names) and whether it loads the field data."""
    del version  # part of the cache key: a new version reads the files again
    path = Path(folder, filename)
    if not path.is_file():
        return (), False
    source = path.read_text(encoding="utf-8")
    base = posixpath.dirname(filename)
    imports = tuple(posixpath.normpath(posixpath.join(base, name)) for name in IMPORT.findall(source))
    return imports, bool(FIELD_DATA.search(source)) and not filename.endswith("fielddata.js")


def module_preloads(scripts_html: str, *entries: str) -> Markup:
    """`<link rel="modulepreload">` for every module the page's module scripts import, however deep,
    and a preload of the field data when one of them loads it. For base.html's <head>."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    folder, version = app.static_folder or "", static_version(app)
    prefix = url_for("static", filename="")
    todo = [e for e in entries if e]
    todo += [
        src.removeprefix(prefix) for src in MODULE_SCRIPT.findall(str(scripts_html)) if src.startswith(prefix)
    ]
    seen: list[str] = []
    field_data = False
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        imports, loads = _module(folder, version, name)
        field_data = field_data or loads
        todo.extend(imports)
    links = [f'<link rel="modulepreload" href="{escape(url_for("static", filename=n))}">' for n in seen]
    if field_data:
        links.append(
            f'<link rel="preload" href="{escape(url_for("offline.field_data"))}" as="fetch" crossorigin>'
        )
    return Markup("\n  ".join(links))  # noqa: S704 - built from escaped URLs only


def _compressed_data(view: Callable[..., Any]) -> Callable[..., Response]:
    """A JSON answer for the pages (not the API), compressed as the browser accepts."""

    def serve(*args: Any, **kwargs: Any) -> Response:
        response: Response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 200:
            _compress_file(response, once=False)
        return response

    serve.__name__ = view.__name__
    serve.__doc__ = view.__doc__
    return serve


def register_assets(app: Flask) -> None:
    """Version the file endpoints' names and caching, and compress what is sent (after the blueprints)."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    compress.init_app(app)
    for endpoint in VERSIONS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _versioned_view(endpoint, app.view_functions[endpoint])
    if "offline.field_data" in app.view_functions:
        app.view_functions["offline.field_data"] = _compressed_data(app.view_functions["offline.field_data"])
    app.url_defaults(_add_version)
    app.add_template_global(module_preloads)
