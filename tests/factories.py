"""factory_boy factories for the models tests create most often."""

from __future__ import annotations

from typing import Any

import factory
import sqlalchemy as sa
from factory.alchemy import SQLAlchemyModelFactory
from werkzeug.security import generate_password_hash

from app.accounts.models import Organization, Role, User
from app.extensions import db

PASSWORD = "correct-horse-battery"
# A cheap hash: the real one (scrypt) costs ~100 ms, and tests create many users.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def _session() -> Any:
    return db.session


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = _session
        sqlalchemy_session_persistence = "flush"
        exclude = ("organization_code",)

    class Params:
        deactivated = factory.Trait(active=False)

    organization_code = "forestry"
    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name", locale="zh_CN")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = Role.SURVEYOR
    password_hash = PASSWORD_HASH
    active = True
    organization = factory.LazyAttribute(
        lambda u: db.session.scalar(sa.select(Organization).where(Organization.code == u.organization_code))
    )
