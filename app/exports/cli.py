from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app import uow
from app.accounts.models import Role, User
from app.audit.services import record_event, set_actor_label
from app.census.scope import parse_statuses
from app.errors import ServiceError
from app.exports import imports, writing
from app.exports.models import ExportKind
from app.exports.reader import ReaderError, write_row_report
from app.exports.rows import Scope
from app.extensions import db

exports_cli = AppGroup("exports", help="Census workbooks.")


@exports_cli.command("run")
@click.option(
    "--bureau", required=True, help="organization code, e.g. forestry or agriculture; district: every record"
)
@click.option("--kind", type=click.Choice([k.value for k in ExportKind]), default="census", show_default=True)
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="first day (YYYY-MM-DD)")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="last day, inclusive")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--statuses",
    default="verified",
    show_default=True,
    help="review statuses of the observations included, comma-separated (submitted,verified,…)",
)
@uow.transactional
def run_command(
    bureau: str, kind: str, date_from: datetime | None, date_to: datetime | None, output: Path, statuses: str
) -> None:
    """Write one census workbook to a file (for scripts); nothing is queued."""
    set_actor_label("cli")
    first, last = (None if day is None else day.date() for day in (date_from, date_to))
    if first and last and first > last:  # as the API refuses it (app/exports/services.py)
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    try:
        chosen = [status.value for status in parse_statuses(statuses)]
        Scope(bureau, None, None, {})  # an unknown bureau fails before the file is opened
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        fh = output.open("wb")
    except OSError as exc:
        raise click.BadParameter(f"cannot write {output}: {exc.strerror}", param_hint="--output") from exc
    with fh:
        rows = writing.write_export(
            fh,
            bureau=bureau,
            kind=ExportKind(kind),
            date_from=first,
            date_to=last,
            filters={"statuses": chosen},
            generated_by="flask exports run",
        )
    record_event("export_written", "exports", None, {"bureau": bureau, "kind": kind, "file": str(output)})
    click.echo(f"{rows} rows written to {output}")


imports_cli = AppGroup("imports", help="Legacy census workbooks.")


@imports_cli.command("census")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bureau", required=True, help="whose template the workbook follows (forestry, agriculture)")
@click.option("--user", "username", help="who imports (a bureau admin or admin; default: the first admin)")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="write the row report here")
def import_command(file: Path, bureau: str, username: str | None, report: Path | None) -> None:
    """Import a legacy census workbook; each row is checked as the API would check it."""
    set_actor_label("cli")
    stmt = sa.select(User).where(User.active.is_(True))
    stmt = stmt.where(User.username == username.lower()) if username else stmt.where(User.role == Role.ADMIN)
    actor = db.session.scalar(stmt.order_by(User.id).limit(1))
    if actor is None and username:
        raise click.ClickException(f"no active user {username!r}")
    if actor is None:
        raise click.ClickException(
            "no active admin to import as: name a bureau admin with --user, or create an admin "
            "(flask users create --role admin …, or flask demo seed)"
        )
    with uow.unit():  # committed before the report is written; a refused workbook imports nothing
        try:
            result = imports.import_census(file, actor=actor, bureau=bureau)
        except ReaderError as exc:
            raise click.ClickException(str(exc)) from exc
        record_event("census_imported", "exports", None, {"file": file.name, "imported": result.imported})
    if report:
        write_row_report(report, result.report_rows())
    click.echo(f"imported: {result.imported}, already there: {result.unchanged}, rejected: {result.rejected}")
    for sheet_not_read in result.sheets:
        click.echo(f"  sheet {sheet_not_read.sheet} not imported: {sheet_not_read.reason}")
    for column in [*result.ignored, *result.unused]:
        click.echo(f"  {column.sheet} column {column.column} ({column.cell}) not imported: {column.reason}")
    for sheet, row, status, reason, cell in result.rows:
        if status == "rejected":
            click.echo(f"  {sheet} row {row} ({cell or '-'}): {reason}")
