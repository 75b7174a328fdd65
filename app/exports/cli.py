from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from app.audit.services import record_event, set_actor_label
from app.exports import services
from app.exports.models import ExportKind
from app.extensions import db

exports_cli = AppGroup("exports", help="Census workbooks.")


@exports_cli.command("run")
@click.option("--bureau", required=True, help="organization code, e.g. forestry or agriculture")
@click.option("--kind", type=click.Choice([k.value for k in ExportKind]), default="census", show_default=True)
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="first day (YYYY-MM-DD)")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="last day, inclusive")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def run_command(
    bureau: str, kind: str, date_from: datetime | None, date_to: datetime | None, output: Path
) -> None:
    """Write one census workbook to a file (for scripts); nothing is queued."""
    set_actor_label("cli")
    with output.open("wb") as fh:
        rows = services.write_export(
            fh,
            bureau=bureau,
            kind=ExportKind(kind),
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            filters={},
            generated_by="flask exports run",
        )
    record_event("export_written", "exports", None, {"bureau": bureau, "kind": kind, "file": str(output)})
    db.session.commit()
    click.echo(f"{rows} rows written to {output}")
