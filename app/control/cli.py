from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app import uow
from app.accounts.models import Organization
from app.audit.services import set_actor_label
from app.control.duplicates import merge_duplicate_pending
from app.extensions import db

control_cli = AppGroup("control", help="Control operations and their re-inspections.")


@control_cli.command("merge-duplicate-reinspections")
@click.option("--dry-run", is_flag=True, help="List the duplicates; change nothing.")
@uow.transactional
def merge_duplicate_reinspections_command(dry_run: bool) -> None:
    """Keep one pending re-inspection per site, due day and organization (the oldest) and cancel the
    others, each with a reason naming the one kept and an audit row; report what was done. Data from
    versions that scheduled a site's day twice (docs/census.md, Re-inspections due)."""
    set_actor_label("cli")
    merged = merge_duplicate_pending(dry_run=dry_run)
    codes = {row.id: row.code for row in db.session.execute(sa.select(Organization.id, Organization.code))}
    verb = "would cancel" if dry_run else "cancelled"
    for group in merged:
        cancelled = ", ".join(f"#{f.id}" for f in group.cancelled)
        click.echo(
            f"site {group.site_code}, due {group.due_on.isoformat()}, {codes.get(group.organization_id)}: "
            f"kept #{group.kept.id}, {verb} {cancelled}"
        )
    count = sum(len(group.cancelled) for group in merged)
    if not merged:
        click.echo("no duplicate pending re-inspections.")
    elif dry_run:
        click.echo(
            f"{count} re-inspection(s) would be cancelled in {len(merged)} group(s); nothing was changed."
        )
    else:
        click.echo(f"{count} re-inspection(s) cancelled in {len(merged)} group(s).")
