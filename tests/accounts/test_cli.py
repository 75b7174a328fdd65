"""The operator commands: users create, demo seed, species sync, district load."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import Role, User
from app.extensions import db


@pytest.fixture
def cli(app: Flask) -> Any:
    return app.test_cli_runner()


def test_users_create(cli: Any) -> None:
    result = cli.invoke(
        args=[
            "users",
            "create",
            "--username",
            "Liu",
            "--password",
            "a-long-password",
            "--role",
            "verifier",
            "--organization",
            "agriculture",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "liu"))
    assert user is not None and user.role == Role.VERIFIER and user.organization.code == "agriculture"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization", "nowhere"], "organization"),
        (["--password", "short"], "password"),
    ],
)
def test_users_create_refuses_bad_input(cli: Any, args: list[str], message: str) -> None:
    base = {
        "--username": "bad1",
        "--password": "a-long-password",
        "--role": "surveyor",
        "--organization": "forestry",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli.invoke(args=["users", "create", *[part for pair in base.items() for part in pair]])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(User).where(User.username == "bad1")) is None


def test_demo_seed_creates_the_admin_once(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAS_ADMIN_USER", "demo-admin")
    monkeypatch.delenv("IAS_ADMIN_PASSWORD", raising=False)
    first = cli.invoke(args=["demo", "seed"])
    assert first.exit_code == 0 and "password" in first.output
    admin = db.session.scalar(sa.select(User).where(User.username == "demo-admin"))
    assert admin is not None and admin.role == Role.ADMIN
    second = cli.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "unchanged" in second.output
    monkeypatch.setenv("IAS_ADMIN_PASSWORD", "chosen-password")
    third = cli.invoke(args=["demo", "seed"])
    assert third.exit_code == 0 and "reset" in third.output


def test_demo_seed_never_prints_a_password_it_was_given(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The output of `make run` lands in terminals' scrollback and service logs: a password the operator
    chose (IAS_ADMIN_PASSWORD) is not echoed there; only a generated one is shown, once."""
    monkeypatch.setenv("IAS_ADMIN_USER", "chosen-admin")
    monkeypatch.setenv("IAS_ADMIN_PASSWORD", "the-operators-own-secret")
    created = cli.invoke(args=["demo", "seed"])
    assert created.exit_code == 0 and "chosen-admin" in created.output
    assert "the-operators-own-secret" not in created.output
    assert "IAS_ADMIN_PASSWORD" in created.output
    reset = cli.invoke(args=["demo", "seed"])
    assert reset.exit_code == 0 and "the-operators-own-secret" not in reset.output


def test_species_sync_and_district_load_report_no_changes_the_second_time(cli: Any) -> None:
    species = cli.invoke(args=["species", "sync"])
    assert species.exit_code == 0, species.output
    assert (
        "no changes." in species.output and "species:     0 added, 0 changed, 92 unchanged" in species.output
    )
    assert "unverified rows" in species.output
    district = cli.invoke(args=["district", "load"])
    assert district.exit_code == 0 and "townships:     0 added, 0 changed, 33 unchanged" in district.output
