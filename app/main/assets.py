"""Static files: compressed, and cached by phones for a year under a name that changes with their content.

`url_for('static', filename='js/app.js')` gives `/static/v/<digest>/js/app.js`, where the digest is of
every file in the folder: a deploy that changes any file changes every name, so a browser never keeps an
old file, and may keep the current ones for a year without asking (`immutable`). The digest is of the
whole folder rather than one per file because the JavaScript modules import each other by relative
name (`./outbox.js`): under one versioned folder those imports resolve to the same version with no
build step. Leaflet and Swagger UI (served from their wheels) are named by their package versions.

A request for a name without the current digest (an unversioned one, or a page saved on a phone before a
deploy) is still answered, with the current file and `no-cache`, so it is never kept past a change.

Compression is flask-compress (brotli or gzip, as the browser accepts) for pages, scripts and styles;
the API's JSON is left as it is (its clients are programs and its size is bounded by paging).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_compress import Compress
from werkzeug.wrappers import Response

VERSIONED = "v"  # /static/v/<digest>/<file>
YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
REVALIDATE = "no-cache"

# What is compressed: the pages and what they load (not the API's JSON, nor images already compressed).
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
}


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    """url_for(...) of a file: put the current version in its name."""
    version_of = VERSIONS.get(endpoint)
    filename = values.get("filename")
    if version_of is None or not isinstance(filename, str) or filename.startswith(f"{VERSIONED}/"):
        return
    values["filename"] = f"{VERSIONED}/{version_of(current_app)}/{filename}"


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
            # Read the file into the response (they are small), so that it is compressed whole, with a
            # Content-Length, rather than streamed without one.
            source = response.response
            response.direct_passthrough = False
            response.get_data()
            close = getattr(source, "close", None)
            if close is not None:
                close()  # the file it was read from
        return response

    serve.__name__ = view.__name__
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
    app.url_defaults(_add_version)
