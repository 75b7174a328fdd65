"""The framework floor of the create-observation budget: the floor (bench/floor_app.py: the bare endpoint
plus the contract's statements, nothing else) served through the libraries the design fixes for every API
endpoint, and nothing of the app's own:

- Flask-Login: the bearer token is read by a `request_loader` (the token statement, and on PostgreSQL
  the two advisory locks with it, as in the floor) and the user is `current_user`, a plain `UserMixin`
  made from the row, not an ORM object;
- flask-smorest, webargs and marshmallow: the body is loaded with the app's own request schema
  (`ObservationCreateArgs`, an instance made once, as the app does) and the answer dumped with the app's
  own `ObservationSchema`, from a plain object made of the written values;
- one transaction per request, begun before the loader and committed after the view.

No checks of the record's own (species, township, position in the district, metrics), no site placement,
no flags beyond the floor's one, no ORM objects, no request hooks of the app (JSON limits, CSRF, security
headers, compression). What it measures: the most a create could reach on this machine and driver while
it keeps the libraries the design fixes (`create_cpu.py` and `create_throughput.py` report it beside the
floor). An implementation of the create that still uses them cannot be faster than this.

    BENCH_BARE_DATABASE_URL=… BENCH_BARE_ORGANIZATION_ID=… BENCH_BARE_SURVEYOR_ID=… \
        .venv/bin/gunicorn --workers 2 --pythonpath bench framework_floor_app:app
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from flask import Flask, g, request
from flask.views import MethodView
from flask_login import LoginManager, UserMixin, current_user
from flask_smorest import Api, Blueprint
from floor_app import Floor  # bench/ is on sys.path (gunicorn --pythonpath bench)

from app import models  # noqa: F401 - every mapper, so that the statements can be built
from app.config import load_config
from app.observations.schemas import ObservationCreateArgs, ObservationSchema


class _User(UserMixin):
    def __init__(self, row: Any) -> None:
        self.id = row.users_id
        self.organization_id = row.users_organization_id
        self.display_name = row.users_display_name
        self.organization_code = row.organizations_code


def create_framework_floor_app(url: str, organization_id: int, surveyor_id: int) -> Flask:
    floor = Floor(url, organization_id, surveyor_id)
    config = load_config({})
    app = Flask(__name__)
    # The API's and the app's own settings (the schemas read the time zone from them).
    app.config.update({k: v for k, v in config.items() if k.startswith(("API_", "OPENAPI_", "IAS_"))})
    app.config["SECRET_KEY"] = "framework-floor"  # noqa: S105 - a benchmark's, never a session cookie
    api = Api(app, spec_kwargs={})
    login = LoginManager(app)
    blp = Blueprint("observations", __name__)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    @app.before_request
    def begin() -> None:
        if request.method == "POST":
            g.conn = floor.engine.connect()
            g.transaction = g.conn.begin()

    @app.teardown_request
    def end(error: BaseException | None) -> None:
        conn = g.pop("conn", None)
        if conn is None:
            return
        transaction = g.pop("transaction")
        if error is None and transaction.is_active:
            transaction.commit()
        conn.close()

    @login.request_loader
    def load(req: Any) -> _User | None:
        token = req.headers.get("Authorization", "").partition(" ")[2]
        row = floor.sign_in(g.conn, token, req.get_json())
        return None if row is None else _User(row)

    @blp.route("/observations")
    class Observations(MethodView):
        @blp.arguments(ObservationCreateArgs())
        @blp.response(201, ObservationSchema)
        def post(self, args: dict[str, Any]) -> Any:
            user = current_user
            if not user.is_authenticated:
                return {"message": "Sign in required."}, 401
            body = request.get_json()
            new_id, row = floor.write(g.conn, body, request.get_data(), request.remote_addr)
            return SimpleNamespace(
                id=new_id,
                **row,
                species=SimpleNamespace(id=args["species_id"], name_zh="", name_sci="", code=""),
                site=None,
                site_id=None,
                geometry=None,
                geometry_area_m2=None,
                township=None,
                village=None,
                habitat=None,
                area_m2=args.get("area_m2"),
                cover_pct=None,
                density_per_m2=None,
                egg_masses_per_m2=None,
                count=None,
                severity=None,
                flags=["possible_duplicate"],
                duplicate_of_id=None,
                review_comment=None,
                reviewed_by_id=None,
                reviewed_at=None,
                surveyor=user,
                legacy_surveyor=None,
                organization=SimpleNamespace(code=user.organization_code),
                photos=[],
                campaign_id=args.get("campaign_id"),
                route_uuid=args.get("route_uuid"),
            )

    api.register_blueprint(blp)
    return app


app = create_framework_floor_app(
    os.environ["BENCH_BARE_DATABASE_URL"],
    int(os.environ["BENCH_BARE_ORGANIZATION_ID"]),
    int(os.environ["BENCH_BARE_SURVEYOR_ID"]),
)
