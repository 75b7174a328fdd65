"""The application factory: it only wires. No database, network or migrations happen here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import check_production, load_config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    register_config(app, overrides)
    register_extensions(app)
    register_api(app)
    register_views(app)
    register_errors(app)
    register_cli(app)
    return app


def register_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    from app.logs import install as single_line_logs

    single_line_logs()  # log lines cannot be forged by line breaks in what users typed
    app.config.from_mapping(load_config(instance_path=Path(app.instance_path)))
    app.config.from_mapping(overrides or {})
    if overrides and app.config["IAS_ENV"] == "production":  # what the overrides changed is checked too
        check_production(app.config, dict(os.environ))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if app.config.get("IAS_PROXY_COUNT"):
        # Behind a reverse proxy: trust its X-Forwarded-For/Proto for client address and scheme.
        count = int(app.config["IAS_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from app import (
        models,  # noqa: F401 - the whole schema, for the app and for Alembic
        refdata,
        uow,
    )
    from app.audit.services import register_audit_listener
    from app.db import register_engine_events
    from app.extensions import babel, csrf, db, login_manager, migrate
    from app.i18n import select_locale, select_timezone, template_globals

    db.init_app(app)
    register_engine_events()
    uow.init_app(app)  # one commit per request, after the view (app/uow.py)
    # Beside app/, wherever `flask` is started from (a service's working directory may be elsewhere).
    default_migrations = Path(app.root_path).parent / "migrations"
    migrate.init_app(app, db, directory=str(app.config.get("IAS_MIGRATIONS_DIR", default_migrations)))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.context_processor(template_globals)
    register_audit_listener()
    refdata.register_listeners()  # a change to reference data writes a new version (app/refdata.py)
    from app.notifications import handlers as notification_handlers

    notification_handlers.init_app(app)  # notifications subscribes to the lower domains' events
    from app.observations import handlers as observation_handlers

    observation_handlers.init_app(app)  # observations places earlier records when boundaries are loaded
    from app.control import handlers as control_handlers

    control_handlers.init_app(app)  # control hands back a departing user's re-inspections
    from app.surveys import handlers as survey_handlers

    survey_handlers.init_app(app)  # surveys checks the campaign of a record made for one
    from app.census import handlers as census_handlers

    census_handlers.init_app(app)  # the census keeps a unit that holds records with its bureau


def register_api(app: Flask) -> None:
    from app.accounts.api import blp as accounts_blp
    from app.accounts.auth import register_auth
    from app.api import ErrorResponsesPlugin, register_api_checks
    from app.control.api import blp as control_blp
    from app.district.api import blp as district_blp
    from app.exports.api import blp as exports_blp
    from app.extensions import api
    from app.gis.api import blp as gis_blp
    from app.notifications.api import blp as notifications_blp
    from app.observations.api import blp as observations_blp
    from app.photos.api import blp as photos_blp
    from app.species.api import blp as species_blp
    from app.surveys.api import blp as surveys_blp
    from app.timeline.api import blp as sites_blp  # the sites API, with the site history (app/timeline)

    api.init_app(
        app,
        spec_kwargs={
            "info": {"description": "Field survey, control and re-inspection of invasive alien species."},
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "extra_plugins": [ErrorResponsesPlugin()],
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("cookieAuth", {"type": "apiKey", "in": "cookie", "name": "session"})
    for blp in (
        accounts_blp,
        species_blp,
        district_blp,
        observations_blp,
        photos_blp,
        sites_blp,
        control_blp,
        gis_blp,
        notifications_blp,
        surveys_blp,
        exports_blp,
    ):
        api.register_blueprint(blp, url_prefix="/api/v1")
    register_auth(app)
    register_api_checks(app)


def register_views(app: Flask) -> None:
    from app.accounts.views import bp as accounts_views
    from app.control.views import bp as control_views
    from app.dashboard.views import bp as dashboard_views
    from app.district.views import bp as district_views
    from app.exports.views import bp as exports_views
    from app.main.api_docs import bp as api_docs_views
    from app.main.assets import register_assets
    from app.main.drawing import bp as geoman_files
    from app.main.filters import register_filters
    from app.main.maps import basemap_hosts
    from app.main.navigation import template_globals
    from app.main.offline import bp as offline_views
    from app.main.offline_tiles import bp as offline_tiles_views
    from app.main.views import bp as main_views
    from app.notifications.views import bp as notifications_views
    from app.observations.views import bp as observations_views
    from app.security import register_security_headers
    from app.species.views import bp as species_views
    from app.surveys.views import bp as surveys_views
    from app.timeline.views import bp as sites_views  # the site pages, with the site history

    for blueprint in (
        main_views,
        offline_views,
        accounts_views,
        api_docs_views,
        observations_views,
        control_views,
        sites_views,
        notifications_views,
        surveys_views,
        dashboard_views,
        exports_views,
        species_views,
        district_views,
        geoman_files,
        offline_tiles_views,
    ):
        app.register_blueprint(blueprint)
    register_filters(app)
    app.context_processor(template_globals)
    register_security_headers(app, image_hosts=basemap_hosts(app.config["IAS_BASEMAP"]))
    register_assets(app)


def register_errors(app: Flask) -> None:
    from app.errors import register_error_handlers

    register_error_handlers(app)


def register_cli(app: Flask) -> None:
    from flask.cli import with_appcontext

    from app.accounts.cli import organizations_cli, users_cli
    from app.control.cli import control_cli
    from app.demo.cli import demo_cli
    from app.district.cli import district_cli
    from app.exports.cli import exports_cli, imports_cli
    from app.extensions import require_current_schema
    from app.scheduler.cli import reminders_cli, scheduler_cli
    from app.species.cli import species_cli

    for group in (
        species_cli,
        district_cli,
        users_cli,
        organizations_cli,
        control_cli,
        demo_cli,
        reminders_cli,
        scheduler_cli,
        exports_cli,
        imports_cli,
    ):
        # Every command of these reads or writes the tables: a database the migrations have not brought
        # to their head (a fresh one, or code upgraded without `flask db upgrade`) is said in one line,
        # before the command runs, instead of a traceback about a missing table or column.
        group.callback = with_appcontext(require_current_schema)
        app.cli.add_command(group)
