"""`flask demo seed` leaves a small demo survey campaign (docs/surveys.md, "The demo campaign"): units
assigned to the demo admin, a route with a pause and the records along it, a plot; a re-run changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import User
from app.demo.services import DEMO_NAME
from app.extensions import db
from app.observations.models import Observation
from app.surveys.models import Campaign, Plot, Route


@pytest.fixture
def cli(app: Flask) -> Any:
    return app.test_cli_runner()


def _counts() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        for model in (Campaign, Route, Plot, Observation)
    )


def test_demo_seed_leaves_a_demo_campaign_once(
    cli: Any, web_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAS_ADMIN_USER", "demo-admin")
    monkeypatch.setenv("IAS_ADMIN_PASSWORD", "a-long-enough-password")
    before = _counts()
    first = cli.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "demo campaign" in first.output and "created" in first.output, first.output
    db.session.rollback()
    admin = db.session.scalar(sa.select(User).where(User.username == "demo-admin"))
    assert admin is not None
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == DEMO_NAME))
    assert campaign is not None and len(campaign.species) == 2
    assert len(campaign.units) == 3 and all(u.assignee_id == admin.id for u in campaign.units)
    [route] = db.session.scalars(sa.select(Route).where(Route.campaign_id == campaign.id))
    assert route.point_count >= 2 and route.pauses and route.moving_s == route.duration_s - 600
    records = db.session.scalars(
        sa.select(Observation).where(Observation.route_uuid == route.client_uuid)
    ).all()
    assert sorted(r.detected for r in records) == [False, True]
    [plot] = db.session.scalars(sa.select(Plot).where(Plot.campaign_id == campaign.id))
    assert len(plot.quadrats) == 3
    after = _counts()
    assert after == tuple(b + n for b, n in zip(before, (1, 1, 1, 2), strict=True))

    # What a new user sees: the units on the home page, the campaign's page with its route.
    web = web_as(admin)
    assert f"/campaigns/{campaign.id}" in web.get("/").get_data(as_text=True)
    assert f"/surveys/routes/{route.id}" in web.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert web.get(f"/plots/{plot.id}").status_code == 200

    again = cli.invoke(args=["demo", "seed"])
    assert again.exit_code == 0 and "exists" in again.output, again.output
    db.session.rollback()
    assert _counts() == after
