"""Interactive API documentation (Swagger UI) for signed-in staff, served from the installed package.

Swagger UI's files come from the flask-swagger-ui wheel (pinned in pyproject.toml): no CDN, no copy in
the repository. Only the page needs sign-in; the library files are public anyway.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, make_response, render_template
from flask_login import login_required
from werkzeug.wrappers import Response

from app.security import CSP

SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

bp = Blueprint("api_docs", __name__, static_folder=str(SWAGGER_DIST), static_url_path="/api-docs/static")


@bp.route("/api-docs")
@login_required
def index() -> Response:
    response = make_response(render_template("main/api_docs.html"))
    # Swagger UI sets style attributes as it renders; allow those on this page only. Scripts stay 'self'.
    response.headers["Content-Security-Policy"] = CSP.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )
    return response
