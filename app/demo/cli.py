from __future__ import annotations

import os
import secrets

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app import uow
from app.accounts.models import Organization, Role, User
from app.accounts.services import create_user, update_user
from app.audit.services import set_actor_label
from app.demo.services import seed_campaign
from app.errors import ServiceError
from app.extensions import db

demo_cli = AppGroup("demo", help="Demo data for trying the app out.")


@demo_cli.command("seed")
@uow.transactional
def seed_command() -> None:
    """Create the demo admin (IAS_ADMIN_USER / IAS_ADMIN_PASSWORD, else admin and a random password) and
    a small demo survey campaign (app/demo/services.py).

    Run again, it leaves the admin alone, unless IAS_ADMIN_PASSWORD is set, which resets the password,
    and leaves the demo campaign as it is.
    """
    set_actor_label("cli")
    username = os.environ.get("IAS_ADMIN_USER", "admin")
    password = os.environ.get("IAS_ADMIN_PASSWORD")
    org = db.session.scalar(sa.select(Organization).order_by(Organization.id).limit(1))
    if org is None:
        raise click.ClickException("no organization yet: run `flask district load` first")
    user = db.session.scalar(sa.select(User).where(User.username == username.lower()))
    if user is None:
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        create_user(
            actor=None,
            username=username,
            password=password,
            display_name="系统管理员",  # the UI speaks Chinese first: review queues, workbook covers
            role=Role.ADMIN,
            organization_code=org.code,
        )
        click.echo("=" * 60)
        # A generated password is shown this once (nobody else knows it); one the operator chose is
        # never echoed into the terminal's scrollback or a service's log.
        shown = password if generated else "(the one set in IAS_ADMIN_PASSWORD)"
        click.echo(f"demo admin created: username {username}  password {shown}")
        if generated:
            click.echo("(write it down: it is shown only this once; set IAS_ADMIN_PASSWORD to choose it)")
        click.echo("=" * 60)
    elif password:
        update_user(actor=None, user=user, changes={"password": password, "active": True})
        click.echo(f"demo admin {username}: password reset from IAS_ADMIN_PASSWORD")
    else:
        click.echo(f"demo admin {username} exists; password unchanged (set IAS_ADMIN_PASSWORD to reset it)")
    # The demo survey campaign, in a savepoint: if the district's data refuses it, the admin still stands.
    admin = db.session.scalar(sa.select(User).where(User.username == username.lower()))
    if admin is None:
        return
    try:
        with db.session.begin_nested():
            click.echo(seed_campaign(admin))
    except ServiceError as exc:
        click.echo(f"demo campaign not made: {exc}")
