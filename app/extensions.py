"""Unbound extension objects; `create_app()` binds them to the app. And the one check of the database's
schema against the migrations that the commands make before they run (`require_current_schema`)."""

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.db import Base
from app.errors import ErrorEnvelopeSchema


class IasApi(Api):
    """flask-smorest's Api, documenting docs/contract.md §3.2's error envelope instead of its own."""

    ERROR_SCHEMA = ErrorEnvelopeSchema


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = IasApi()


def require_current_schema() -> None:
    """Stop a command with one line (a ClickException) when the database's schema is not the migrations'
    head: no tables yet, or code newer than the database. `flask db upgrade` mends both."""
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    # Its own connection, read-only (SQLite: a deferred BEGIN, so it waits for no writer), closed at once:
    # the command's unit of work starts afresh, and a long-running one (the scheduler) holds nothing.
    with db.engine.connect().execution_options(sqlite_deferred_begin=True) as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return
    where = db.engine.url.render_as_string(hide_password=True)
    if not current:
        raise click.ClickException(f"the database {where} has no tables yet: run `flask db upgrade` first")
    raise click.ClickException(
        f"the database {where} is at migration {', '.join(sorted(current))} and this version needs "
        f"{', '.join(sorted(heads))}: run `flask db upgrade` first"
    )
