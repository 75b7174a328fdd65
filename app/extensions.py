"""Unbound extension objects; `create_app()` binds them to the app. And the one check of the database's
schema against the migrations that the commands make before they run (`require_current_schema`)."""

import functools

import click
import sqlalchemy as sa
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


@functools.cache
def _scripts(directory: str) -> ScriptDirectory:
    """The migration scripts (read once a process: they change only with the code)."""
    config = current_app.extensions["migrate"].migrate.get_config(directory)
    return ScriptDirectory.from_config(config)


def schema_revisions(connection: sa.Connection) -> tuple[set[str], set[str]]:
    """(the database's current migration revisions, the code's heads): equal when the schema is current."""
    scripts = _scripts(current_app.extensions["migrate"].directory)
    return set(MigrationContext.configure(connection).get_current_heads()), set(scripts.get_heads())


def schema_behind(current: set[str], heads: set[str]) -> bool:
    """The database lacks migrations this code has: none applied, or an older revision this code knows.
    (A revision it does not know is newer code's: the database is ahead, as it is during a deployment
    between `flask db upgrade` and the restart.)"""
    if current == heads:
        return False
    scripts = _scripts(current_app.extensions["migrate"].directory)
    known = {script.revision for script in scripts.walk_revisions()}
    return current <= known


def require_current_schema() -> None:
    """Stop a command with one line (a ClickException) when the database's schema is not the migrations'
    head: no tables yet, or code newer than the database (`flask db upgrade` mends both), or a database
    already upgraded by a newer version of the code (that version runs the command)."""
    # Its own connection, read-only (SQLite: a deferred BEGIN, so it waits for no writer), closed at once:
    # the command's unit of work starts afresh, and a long-running one (the scheduler) holds nothing.
    with db.engine.connect().execution_options(sqlite_deferred_begin=True) as connection:
        current, heads = schema_revisions(connection)
    if current == heads:
        return
    where = db.engine.url.render_as_string(hide_password=True)
    if not current:
        raise click.ClickException(f"the database {where} has no tables yet: run `flask db upgrade` first")
    at, needs = ", ".join(sorted(current)), ", ".join(sorted(heads))
    if schema_behind(current, heads):
        raise click.ClickException(
            f"the database {where} is at migration {at} and this version needs {needs}: "
            "run `flask db upgrade` first"
        )
    raise click.ClickException(
        f"the database {where} is at migration {at}, which this version (at {needs}) does not know: "
        "a newer version upgraded it; run the command with that version"
    )
