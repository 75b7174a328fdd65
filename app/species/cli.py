from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import uow
from app.audit.services import set_actor_label
from app.species.registry import RegistryError
from app.species.sync import sync_registry

species_cli = AppGroup("species", help="The species registry.")


@species_cli.command("sync")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Registry folder (default: IAS_SPECIES_DIR, species_lists/).",
)
@uow.transactional
def sync_command(directory: Path | None) -> None:
    """Upsert species lists and species from the registry files; report what changed."""
    set_actor_label("cli")
    directory = directory or Path(current_app.config["IAS_SPECIES_DIR"])
    try:
        report = sync_registry(directory)
    except RegistryError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(
            f"{len(exc.problems)} problem(s) in {directory}; nothing was changed"
        ) from exc
    click.echo(f"lists:       {report.lists}")
    click.echo(f"species:     {report.species}")
    click.echo(f"memberships: {report.memberships}")
    click.echo(f"habitats:    {report.habitats}")
    click.echo(f"methods:     {report.methods}")
    click.echo(f"flagged:     {len(report.flagged)}")
    for line in report.flagged:
        click.echo(f"  - {line}")
    click.echo(f"local edits differing from the files (kept): {len(report.differences)}")
    for line in report.differences:
        click.echo(f"  - {line}")
    click.echo("changes written." if report.changed_anything else "no changes.")
