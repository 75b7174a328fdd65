from __future__ import annotations

import click
from flask.cli import AppGroup

from app import uow
from app.accounts.models import Role
from app.accounts.organizations import problems
from app.accounts.services import create_user
from app.audit.services import set_actor_label
from app.errors import ServiceError

users_cli = AppGroup("users", help="User accounts.")
organizations_cli = AppGroup("organizations", help="Organizations: the bureaus and their units.")


@users_cli.command("create")
@click.option("--username", required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--organization", required=True, help="Organization code, e.g. forestry.")
@click.option("--display-name", default="", help="Name shown in the app (default: the username).")
@click.option("--email", default=None)
@uow.transactional
def create_command(
    username: str, password: str, role: str, organization: str, display_name: str, email: str | None
) -> None:
    """Create a user with the machine owner's authority."""
    set_actor_label("cli")
    try:
        user = create_user(
            actor=None,
            username=username,
            password=password,
            display_name=display_name,
            role=role,
            organization_code=organization,
            email=email,
        )
    except ServiceError as exc:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        raise click.ClickException(exc.message + (f" ({details})" if details else "")) from exc
    click.echo(f"created {user.username} ({user.role.value}, {user.organization.code})")


@organizations_cli.command("check")
def check_command() -> None:
    """List the organizations that break the contract (a bureau that reports to another, a unit whose
    parent is not a bureau), which earlier versions could store; exit 1 when there are any. Nothing is
    changed: an admin detaches such a bureau (`PATCH /api/v1/organizations/{code}` with `parent: null`)."""
    found = problems()
    for problem in found:
        click.echo(f"error: {problem}", err=True)
    if found:
        raise click.ClickException(f"{len(found)} organization(s) break the contract; nothing was changed")
    click.echo("organizations: every unit reports to a bureau, and no bureau to another")
