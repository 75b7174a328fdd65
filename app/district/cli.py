from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import uow
from app.audit.services import set_actor_label
from app.district.services import DistrictDataError, load_district

district_cli = AppGroup("district", help="The district's own data.")


@district_cli.command("load")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="District folder (default: IAS_DISTRICT_DIR, districts/liangping).",
)
@uow.transactional
def load_command(directory: Path | None) -> None:
    """Upsert the district, its bureaus, townships and old township names; report what changed."""
    set_actor_label("cli")
    directory = directory or Path(current_app.config["IAS_DISTRICT_DIR"])
    try:
        report = load_district(directory)
    except DistrictDataError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(
            f"{len(exc.problems)} problem(s) in {directory}; nothing was changed"
        ) from exc
    click.echo(f"district:      {report.district}")
    click.echo(f"organizations: {report.organizations}")
    click.echo(f"townships:     {report.townships}")
    click.echo(f"aliases:       {report.aliases}")
    click.echo("changes written." if report.changed_anything else "no changes.")
