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


# ---------------------------------------------------------------------------------------------------
# Surveys (issue 19): a campaign made straight in the database, for tests that need one to exist.


def make_campaign(
    *,
    created_by: User,
    bureau: str = "forestry",
    name: str = "2026年春季普查",
    kind: str = "census",
    starts_on: Any = None,
    ends_on: Any = None,
    species_keys: tuple[str, ...] = ("pomacea-canaliculata",),
    units: tuple[tuple[str, User | None, Any], ...] = (),
) -> Any:
    """A campaign of `bureau` with its target species (registry keys) and units given as
    (township or village code, assignee, due date); flushed, not committed. The window defaults to
    the 30 days around today (Asia/Shanghai)."""
    from datetime import timedelta

    from app.clock import local_today
    from app.district.models import Township, Village
    from app.species.models import Species
    from app.surveys.models import Campaign, CampaignKind, SurveyUnit

    today = local_today()
    campaign = Campaign(
        organization=db.session.scalar(sa.select(Organization).where(Organization.code == bureau)),
        name=name,
        kind=CampaignKind(kind),
        starts_on=starts_on or today - timedelta(days=10),
        ends_on=ends_on or today + timedelta(days=20),
        created_by_id=created_by.id,
        species=list(db.session.scalars(sa.select(Species).where(Species.key.in_(species_keys)))),
    )
    for code, assignee, due_on in units:
        if len(code) == 12:
            village = db.session.scalar(sa.select(Village).where(Village.code == code))
            township = village.township
        else:
            village = None
            township = db.session.scalar(sa.select(Township).where(Township.code == code))
        campaign.units.append(
            SurveyUnit(
                township=township,
                village=village,
                unit_code=code,
                assignee_id=assignee.id if assignee else None,
                due_on=due_on,
            )
        )
    db.session.add(campaign)
    db.session.flush()
    return campaign
