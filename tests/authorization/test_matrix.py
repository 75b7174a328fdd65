"""The authorization matrix: every endpoint × every role × own/other organization, and anonymous.

The rules live in tests/authorization/rules.py; this file only builds each call and compares the answer
with what the rule says. Targets (a record, an operation, a follow-up …) are made through the API by
"forestry" people; "own" callers are forestry staff, "other" callers agriculture staff, "self" callers
made the target themselves. For rules that follow "a bureau acts for its units", "unit" callers are
forestry staff acting on a target of STATION (a township station under forestry), "station" callers
that station's staff acting on forestry's own target. Anonymous calls use an id that does not exist:
the refusal must come before any lookup, so a stranger cannot even learn whether a record exists.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image  # noqa: TID251 -- the matrix uploads a photo it draws itself

from app.accounts.models import Organization, OrganizationKind
from app.clock import local_today, local_zone
from app.extensions import db
from app.species.models import ListMembership, SpeciesList
from tests.authorization.rules import FLASH, ROLES, RULES, SIGN_IN, UNWALKED, Rule, allowed, relations
from tests.conftest import ApiClient
from tests.factories import PASSWORD
from tests.surveys.routes_fixtures import make_campaign, route_body

TARGET = "forestry"  # the organization that owns every target; "own" callers belong to it
OTHER = "agriculture"  # where "other" callers belong
STATION = "lp-station"  # a township station under TARGET: "unit" targets are its, "station" callers too
MISSING = 2**31 - 1  # an id no row has: what anonymous callers ask for
PARAMETER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def endpoint_keys(app: Flask) -> set[str]:
    """ "METHOD /path/{id}" for every route and method of the app (int parameters become {id})."""
    keys: set[str] = set()
    for rule in app.url_map.iter_rules():
        path = PARAMETER.sub(
            lambda m: "{id}" if m["converter"] == "int" else "{" + m["name"] + "}", rule.rule
        )
        keys.update(f"{method} {path}" for method in (rule.methods or set()) - SKIPPED_METHODS)
    return keys


def test_every_endpoint_has_exactly_one_rule(app: Flask) -> None:
    present = endpoint_keys(app)
    unreviewed = sorted(present - RULES.keys() - UNWALKED.keys())
    gone = sorted((RULES.keys() | UNWALKED.keys()) - present)
    assert not unreviewed and not gone, (
        f"endpoints with no rule in tests/authorization/rules.py: {unreviewed}; "
        f"rules for endpoints the app no longer has: {gone}"
    )
    assert not RULES.keys() & UNWALKED.keys()
    assert RULES.keys() == CALLS.keys(), "every rule needs a call in CALLS, and only rules have one"


# ---------------------------------------------------------------------------------------------
# Who calls, and the targets they call on


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 160, 60)).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


JPEG = _jpeg()
# A made-up square (not a real boundary) for the boundaries page's check-only upload.
SYNTHETIC_BOUNDARY = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "500155001"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[107.7, 30.6], [107.8, 30.6], [107.8, 30.7], [107.7, 30.7], [107.7, 30.6]]
                    ],
                },
            }
        ],
    }
).encode()


class AnonymousBrowser:
    """A browser that has not signed in, holding the CSRF token the sign-in page gives it (every
    browser post is CSRF-checked before anything else, so a refused post must carry one)."""

    def __init__(self, app: Flask):
        self.client = app.test_client()
        html = self.client.get("/sign-in").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)  # the language form's
        assert match, "the sign-in page carries no CSRF token"
        self.csrf = match.group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


@dataclass
class Fixtures:
    app: Flask
    client: FlaskClient
    make_user: Any
    api_as: Any
    web_as: Any
    make_observation: Any
    observation_payload: Any
    treat: Any
    species_id: Any


class Ctx:
    """One case: the caller (None: anonymous) and, made on first use, the target of the call."""

    def __init__(self, fx: Fixtures, role: str | None, relation: str):
        self.fx = fx
        self.role = role
        self.relation = relation
        self.anonymous = role is None
        organization = {"other": OTHER, "station": STATION}.get(relation, TARGET)
        self.user = None if role is None else fx.make_user(role, organization)

    # The caller's clients: a bearer token for the API, a browser session for pages.
    @cached_property
    def api(self) -> ApiClient:
        return ApiClient(self.fx.client) if self.user is None else self.fx.api_as(self.user)

    @cached_property
    def web(self) -> Any:
        return AnonymousBrowser(self.fx.app) if self.user is None else self.fx.web_as(self.user)

    def credentials(self) -> dict[str, str]:
        """The caller's own username and password (a stranger: someone's who is about to sign in)."""
        user = self.user or self.fx.make_user("surveyor", TARGET)
        username = user.username
        db.session.commit()
        return {"username": username, "password": PASSWORD}

    @property
    def org(self) -> str:
        """The organization that owns the target: the station under forestry for "unit" callers."""
        return STATION if self.relation == "unit" else TARGET

    # Who makes the target: the caller for "self", else a colleague of the owning organization.
    @cached_property
    def maker(self) -> ApiClient:
        return self.api if self.relation == "self" else self.fx.api_as("surveyor", self.org)

    @cached_property
    def forestry_admin(self) -> ApiClient:
        return self.fx.api_as("bureau_admin", TARGET)

    @cached_property
    def observation(self) -> dict[str, Any]:
        return self.fx.make_observation(self.maker)

    @cached_property
    def operation(self) -> dict[str, Any]:
        operation, _baseline = self.fx.treat(self.maker, method="hand_collection")  # 2 follow-ups
        return operation

    def _id(self, make: Callable[[], int]) -> int:
        return MISSING if self.anonymous else make()

    def observation_id(self) -> int:
        return self._id(lambda: self.observation["id"])

    def site_id(self) -> int:
        return self._id(lambda: self.observation["site_id"])

    def operation_id(self) -> int:
        return self._id(lambda: self.operation["id"])

    @cached_property
    def plot(self) -> dict[str, Any]:
        response = self.maker.post("/api/v1/plots", json=_plot(self))
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    def plot_id(self) -> int:
        return self._id(lambda: self.plot["id"])

    def follow_up_id(self) -> int:
        return self._id(lambda: self.operation["follow_ups"][0]["id"])

    def photo_id(self) -> int:
        def make() -> int:
            response = self.maker.post(
                f"/api/v1/observations/{self.observation['id']}/photos",
                data={"file": (io.BytesIO(JPEG), "IMG_0001.jpg")},
                content_type="multipart/form-data",
            )
            assert response.status_code == 201, response.get_json()
            return response.get_json()["id"]

        return self._id(make)

    def user_id(self) -> int:
        def make() -> int:
            user = self.fx.make_user("surveyor", self.org)
            user_id: int = user.id
            db.session.commit()
            return user_id

        return self._id(make)

    def export_id(self) -> int:
        def make() -> int:
            response = self.forestry_admin.post(
                "/api/v1/exports", json={"kind": "census", "bureau": self.org}
            )
            assert response.status_code == 202, response.get_json()
            return response.get_json()["id"]

        return self._id(make)

    def webhook_id(self) -> int:
        def make() -> int:
            response = self.forestry_admin.post(f"/api/v1/organizations/{self.org}/webhooks", json=WEBHOOK)
            assert response.status_code == 201, response.get_json()
            return response.get_json()["id"]

        return self._id(make)

    @cached_property
    def campaign(self) -> dict[str, Any]:
        """A forestry campaign with one unit, planned by a forestry bureau admin (issue 19)."""
        today = local_today()
        response = self.forestry_admin.post(
            "/api/v1/campaigns",
            json={
                "name": "春季普查",
                "kind": "census",
                "bureau": TARGET,
                "starts_on": today.isoformat(),
                "ends_on": (today + timedelta(days=30)).isoformat(),
                "species_ids": [self.fx.species_id("pomacea-canaliculata")],
                "units": [{"township_code": "500155102"}],
            },
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def campaign_id(self) -> int:
        return self._id(lambda: self.campaign["id"])

    def campaign_unit(self) -> tuple[int, int]:
        if self.anonymous:
            return MISSING, MISSING
        return self.campaign["id"], self.campaign["units"][0]["id"]

    def species_list_code(self) -> str:
        return db.session.scalar(sa.select(SpeciesList.code).order_by(SpeciesList.id).limit(1)) or "none"

    @cached_property
    def district_list(self) -> str:
        """A district list kept by forestry, with 美国白蛾 on it (made by a forestry bureau admin)."""
        response = self.forestry_admin.post(
            "/api/v1/species-lists", json={"code": "lp-forestry-census", "name": "林业普查清单"}
        )
        assert response.status_code == 201, response.get_json()
        return "lp-forestry-census"

    def district_member(self) -> tuple[str, int]:
        if self.anonymous:
            return "none", MISSING
        added = self.forestry_admin.post(
            f"/api/v1/species-lists/{self.district_list}/members",
            json={"species_id": self.fx.species_id("hyphantria-cunea"), "added_on": "2025-01-01"},
        )
        assert added.status_code == 201, added.get_json()
        return self.district_list, added.get_json()["id"]

    def unverified_567_row(self) -> int:
        row = db.session.scalar(
            sa.select(ListMembership.id)
            .join(SpeciesList)
            .where(SpeciesList.code == "moa-567", ListMembership.row == 40)
        )
        return row or MISSING


# ---------------------------------------------------------------------------------------------
# One call per rule: a body that succeeds when the caller is allowed (unless the rule says otherwise)


@dataclass
class Call:
    path: str
    json: Any = None
    form: dict[str, Any] | None = None
    upload: bool = False  # the form is multipart, with a file


WEBHOOK = {"name": "林业局值班群", "url": "https://example.org/hook", "format": "generic"}


def _tomorrow() -> str:
    return (local_today() + timedelta(days=1)).isoformat()


def _photo_upload() -> dict[str, Any]:
    return {"file": (io.BytesIO(JPEG), "IMG_0002.jpg")}


def _operation(c: Ctx) -> dict[str, Any]:
    return {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": c.observation_id(),
        "method": "hand_collection",
        "performed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "area_m2": 500,
        "details": {"kg_removed": 3.5},
    }


def _route_body(maker: ApiClient) -> dict[str, Any]:
    """A route walked for a campaign of forestry (every maker is its staff or its station's)."""
    creator = maker.user  # type: ignore[attr-defined]
    campaign = make_campaign(creator, TARGET)
    db.session.commit()
    return route_body(campaign)


def _route_id(c: Ctx) -> int:
    def make() -> int:
        response = c.maker.post("/api/v1/routes", json=_route_body(c.maker))
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    return c._id(make)


def _plot(c: Ctx) -> dict[str, Any]:
    return {
        "client_uuid": str(uuid.uuid4()),
        "site_id": c.site_id(),
        "surveyed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "shape": "square",
        "length_m": 10,
        "quadrats": [
            {
                "number": 1,
                "size_m2": 1,
                "records": [{"species_id": c.fx.species_id("pomacea-canaliculata"), "density_per_m2": 4}],
            }
        ],
    }


def _new_user(organization: str) -> dict[str, str]:
    return {
        "username": f"new{uuid.uuid4().hex[:10]}",
        "password": "a-long-enough-password",
        "display_name": "新同事",
        "role": "surveyor",
        "organization": organization,
    }


def _campaign_form(c: Ctx, bureau: str) -> dict[str, Any]:
    return {
        "action": "save",
        "name": "秋季监测",
        "kind": "monitoring",
        "bureau": bureau,
        "starts_on": local_today().isoformat(),
        "ends_on": _tomorrow(),
        "species_id": str(c.fx.species_id("pomacea-canaliculata")),
    }


CALLS: dict[str, Callable[[Ctx], Call]] = {
    # API: accounts
    "POST /api/v1/auth/tokens": lambda c: Call("/api/v1/auth/tokens", json=c.credentials()),
    "DELETE /api/v1/auth/tokens/current": lambda c: Call("/api/v1/auth/tokens/current"),
    "GET /api/v1/me": lambda c: Call("/api/v1/me"),
    "POST /api/v1/me/password": lambda c: Call("/api/v1/me/password", json={}),
    "GET /api/v1/organizations": lambda c: Call("/api/v1/organizations"),
    "POST /api/v1/organizations": lambda c: Call(
        "/api/v1/organizations",
        json={"code": f"unit-{uuid.uuid4().hex[:8]}", "name": "林场", "kind": "other", "parent": TARGET},
    ),
    "PATCH /api/v1/organizations/{code}": lambda c: Call(
        f"/api/v1/organizations/{TARGET}", json={"name": "梁平区林业局"}
    ),
    "GET /api/v1/users": lambda c: Call("/api/v1/users"),
    "POST /api/v1/users": lambda c: Call("/api/v1/users", json=_new_user(c.org)),
    "GET /api/v1/users/{id}": lambda c: Call(f"/api/v1/users/{c.user_id()}"),
    "PATCH /api/v1/users/{id}": lambda c: Call(f"/api/v1/users/{c.user_id()}", json={"display_name": "改名"}),
    # API: observations and photos
    "GET /api/v1/observations": lambda c: Call("/api/v1/observations"),
    "POST /api/v1/observations": lambda c: Call("/api/v1/observations", json=c.fx.observation_payload()),
    "GET /api/v1/observations/geojson": lambda c: Call("/api/v1/observations/geojson"),
    "GET /api/v1/observations/download": lambda c: Call("/api/v1/observations/download?format=geojson"),
    "GET /api/v1/map/observations": lambda c: Call(
        "/api/v1/map/observations?bbox=107.5,30.4,108.1,30.9&zoom=10"
    ),
    "GET /api/v1/observations/{id}": lambda c: Call(f"/api/v1/observations/{c.observation_id()}"),
    "PATCH /api/v1/observations/{id}": lambda c: Call(
        f"/api/v1/observations/{c.observation_id()}", json={"notes": "复核"}
    ),
    "POST /api/v1/observations/{id}/photos": lambda c: Call(
        f"/api/v1/observations/{c.observation_id()}/photos", form=_photo_upload(), upload=True
    ),
    "POST /api/v1/observations/{id}/review": lambda c: Call(
        f"/api/v1/observations/{c.observation_id()}/review", json={"decision": "verified"}
    ),
    "GET /api/v1/photos/{id}/{variant}": lambda c: Call(f"/api/v1/photos/{c.photo_id()}/original"),
    # API: sites, control operations, follow-ups
    "GET /api/v1/sites": lambda c: Call("/api/v1/sites"),
    "GET /api/v1/sites/download": lambda c: Call("/api/v1/sites/download?format=kml"),
    "GET /api/v1/sites/{id}": lambda c: Call(f"/api/v1/sites/{c.site_id()}"),
    "GET /api/v1/control-methods": lambda c: Call("/api/v1/control-methods"),
    "GET /api/v1/control-operations": lambda c: Call("/api/v1/control-operations"),
    "GET /api/v1/control-operations/download": lambda c: Call(
        "/api/v1/control-operations/download?format=csv"
    ),
    "POST /api/v1/control-operations": lambda c: Call("/api/v1/control-operations", json=_operation(c)),
    "GET /api/v1/control-operations/{id}": lambda c: Call(f"/api/v1/control-operations/{c.operation_id()}"),
    "POST /api/v1/control-operations/{id}/photos": lambda c: Call(
        f"/api/v1/control-operations/{c.operation_id()}/photos?stage=after", form=_photo_upload(), upload=True
    ),
    "GET /api/v1/follow-ups": lambda c: Call("/api/v1/follow-ups"),
    "POST /api/v1/follow-ups": lambda c: Call(
        "/api/v1/follow-ups", json={"site_id": c.site_id(), "due_on": _tomorrow()}
    ),
    "GET /api/v1/follow-ups/{id}": lambda c: Call(f"/api/v1/follow-ups/{c.follow_up_id()}"),
    "PATCH /api/v1/follow-ups/{id}": lambda c: Call(
        f"/api/v1/follow-ups/{c.follow_up_id()}", json={"note": "带上密度框"}
    ),
    "POST /api/v1/follow-ups/{id}/complete": lambda c: Call(
        f"/api/v1/follow-ups/{c.follow_up_id()}/complete",
        json={"observation": c.fx.observation_payload(density_per_m2=2.0, egg_masses_per_m2=0.5)},
    ),
    "POST /api/v1/follow-ups/{id}/accept": lambda c: Call(f"/api/v1/follow-ups/{c.follow_up_id()}/accept"),
    # API: exports and imports
    "POST /api/v1/exports": lambda c: Call("/api/v1/exports", json={"kind": "census", "bureau": c.org}),
    "GET /api/v1/exports/{id}": lambda c: Call(f"/api/v1/exports/{c.export_id()}"),
    "GET /api/v1/exports/{id}/download": lambda c: Call(f"/api/v1/exports/{c.export_id()}/download"),
    "GET /api/v1/census/summary": lambda c: Call("/api/v1/census/summary?bureau=forestry"),
    "POST /api/v1/imports": lambda c: Call(
        f"/api/v1/imports?bureau={TARGET}",
        form={"file": (io.BytesIO(b"not a workbook"), "census.xlsx")},
        upload=True,
    ),
    # API: survey campaigns
    "GET /api/v1/campaigns": lambda c: Call("/api/v1/campaigns"),
    "POST /api/v1/campaigns": lambda c: Call(
        "/api/v1/campaigns",
        json={
            "name": "秋季监测",
            "kind": "monitoring",
            "bureau": c.org,
            "starts_on": local_today().isoformat(),
            "ends_on": _tomorrow(),
            "species_ids": [c.fx.species_id("pomacea-canaliculata")],
        },
    ),
    "GET /api/v1/campaigns/{id}": lambda c: Call(f"/api/v1/campaigns/{c.campaign_id()}"),
    "PATCH /api/v1/campaigns/{id}": lambda c: Call(
        f"/api/v1/campaigns/{c.campaign_id()}", json={"name": "改名"}
    ),
    "GET /api/v1/campaigns/{id}/units": lambda c: Call(f"/api/v1/campaigns/{c.campaign_id()}/units"),
    "PATCH /api/v1/campaigns/{id}/units/{id}": lambda c: Call(
        "/api/v1/campaigns/{}/units/{}".format(*c.campaign_unit()), json={"due_on": _tomorrow()}
    ),
    "GET /api/v1/me/survey-units": lambda c: Call("/api/v1/me/survey-units"),
    # API: notifications and webhooks
    "GET /api/v1/notifications": lambda c: Call("/api/v1/notifications"),
    "POST /api/v1/notifications/read": lambda c: Call("/api/v1/notifications/read", json={}),
    "GET /api/v1/me/notification-settings": lambda c: Call("/api/v1/me/notification-settings"),
    "PATCH /api/v1/me/notification-settings": lambda c: Call(
        "/api/v1/me/notification-settings", json={"digest": True}
    ),
    "GET /api/v1/organizations/{code}/webhooks": lambda c: Call(f"/api/v1/organizations/{c.org}/webhooks"),
    "POST /api/v1/organizations/{code}/webhooks": lambda c: Call(
        f"/api/v1/organizations/{c.org}/webhooks", json=WEBHOOK
    ),
    "DELETE /api/v1/webhooks/{id}": lambda c: Call(f"/api/v1/webhooks/{c.webhook_id()}"),
    # API: reference data and the document
    "GET /api/v1/district": lambda c: Call("/api/v1/district"),
    "GET /api/v1/townships": lambda c: Call("/api/v1/townships"),
    "GET /api/v1/villages": lambda c: Call("/api/v1/villages?township_code=500155202"),
    "GET /api/v1/boundaries/outlines": lambda c: Call("/api/v1/boundaries/outlines?zoom=10"),
    "GET /api/v1/habitats": lambda c: Call("/api/v1/habitats"),
    "GET /api/v1/species": lambda c: Call("/api/v1/species?q=福寿螺"),
    "GET /api/v1/species/{id}": lambda c: Call(f"/api/v1/species/{c.fx.species_id('pomacea-canaliculata')}"),
    "GET /api/v1/species-lists": lambda c: Call("/api/v1/species-lists"),
    "GET /api/v1/species-lists/{code}/members": lambda c: Call(
        f"/api/v1/species-lists/{c.species_list_code()}/members"
    ),
    "GET /api/v1/species-lists/{code}/changes": lambda c: Call("/api/v1/species-lists/moa-567/changes"),
    "GET /api/v1/species-lists/{code}": lambda c: Call(f"/api/v1/species-lists/{c.species_list_code()}"),
    "PATCH /api/v1/species-lists/{code}": lambda c: Call(
        f"/api/v1/species-lists/{'none' if c.anonymous else c.district_list}",
        json={"census_categories": ["fg_plant"]},
    ),
    "POST /api/v1/species": lambda c: Call(
        "/api/v1/species",
        json={
            "name_zh": "小管福寿螺",
            "name_sci": "Pomacea maculata",
            "like": c.fx.species_id("pomacea-canaliculata"),
            "bureaus": [TARGET],
        },
    ),
    "PATCH /api/v1/species/{id}": lambda c: Call(
        f"/api/v1/species/{c.fx.species_id('hyphantria-cunea')}", json={"names_en": ["fall webworm"]}
    ),
    "POST /api/v1/species-lists": lambda c: Call(
        "/api/v1/species-lists", json={"code": "lp-census-2", "name": "普查清单", "bureau": TARGET}
    ),
    "POST /api/v1/species-lists/{code}/members": lambda c: Call(
        f"/api/v1/species-lists/{'none' if c.anonymous else c.district_list}/members",
        json={"species_id": c.fx.species_id("hyphantria-cunea")},
    ),
    "POST /api/v1/species-lists/{code}/import": lambda c: Call(
        f"/api/v1/species-lists/{'none' if c.anonymous else c.district_list}/import",
        form={"file": (io.BytesIO("名称\n福寿螺\n".encode()), "names.csv")},
        upload=True,
    ),
    "PATCH /api/v1/species-lists/{code}/members/{id}": lambda c: Call(
        "/api/v1/species-lists/{}/members/{}".format(*c.district_member()), json={"removed_on": "2026-01-01"}
    ),
    "POST /api/v1/species-lists/{code}/members/{id}/confirm": lambda c: Call(
        f"/api/v1/species-lists/moa-567/members/{c.unverified_567_row()}/confirm", json={"note": "核实"}
    ),
    "GET /api/v1/openapi.json": lambda c: Call("/api/v1/openapi.json"),
    # Pages: signing in, the shell, offline support
    "GET /sign-in": lambda c: Call("/sign-in"),
    "POST /sign-in": lambda c: Call("/sign-in", form=c.credentials()),
    "POST /sign-out": lambda c: Call("/sign-out", form={}),
    "GET /account/password": lambda c: Call("/account/password"),
    "POST /account/password": lambda c: Call("/account/password", form={}),
    "GET /account/sessions": lambda c: Call("/account/sessions"),
    "POST /account/sessions": lambda c: Call("/account/sessions", form={}),
    "POST /language": lambda c: Call("/language", form={"lang": "en"}),
    "GET /healthz": lambda c: Call("/healthz"),
    "GET /favicon.ico": lambda c: Call("/favicon.ico"),
    "GET /sw.js": lambda c: Call("/sw.js"),
    "GET /manifest.webmanifest": lambda c: Call("/manifest.webmanifest"),
    "GET /offline": lambda c: Call("/offline"),
    "GET /app/signed-out": lambda c: Call("/app/signed-out"),
    "GET /app/session.json": lambda c: Call("/app/session.json"),
    "GET /app/field-data.json": lambda c: Call("/app/field-data.json"),
    "GET /map/offline": lambda c: Call("/map/offline"),
    "GET /app/offline-tiles": lambda c: Call("/app/offline-tiles?area=500155001"),
    "GET /api-docs": lambda c: Call("/api-docs"),
    "GET /": lambda c: Call("/"),
    # Pages: observations
    "GET /observations": lambda c: Call("/observations"),
    "GET /observations/new": lambda c: Call("/observations/new"),
    "GET /observations/{id}": lambda c: Call(f"/observations/{c.observation_id()}"),
    "GET /observations/{id}/edit": lambda c: Call(f"/observations/{c.observation_id()}/edit"),
    "POST /observations/{id}/edit": lambda c: Call(
        f"/observations/{c.observation_id()}/edit", form={"notes": "复核"}
    ),
    "POST /observations/{id}/review": lambda c: Call(
        f"/observations/{c.observation_id()}/review", form={"decision": "verified"}
    ),
    "GET /review": lambda c: Call("/review"),
    # Pages: sites, control, follow-ups, dashboard, notifications
    "GET /sites/{id}": lambda c: Call(f"/sites/{c.site_id()}"),
    "GET /map": lambda c: Call("/map"),
    "GET /control-operations/new": lambda c: Call(
        f"/control-operations/new?observation_id={c.observation_id()}"
    ),
    "GET /follow-ups": lambda c: Call("/follow-ups"),
    "GET /follow-ups/{id}": lambda c: Call(f"/follow-ups/{c.follow_up_id()}"),
    "POST /follow-ups/{id}": lambda c: Call(
        f"/follow-ups/{c.follow_up_id()}", form={"action": "reschedule", "due_on": _tomorrow()}
    ),
    "GET /dashboard": lambda c: Call(f"/dashboard?organization={c.org}"),
    "GET /notifications": lambda c: Call("/notifications"),
    "POST /notifications/read": lambda c: Call("/notifications/read", form={}),
    # Pages: survey campaigns
    "GET /campaigns": lambda c: Call("/campaigns"),
    "GET /campaigns/new": lambda c: Call("/campaigns/new"),
    "POST /campaigns/new": lambda c: Call("/campaigns/new", form=_campaign_form(c, c.org)),
    "GET /campaigns/{id}": lambda c: Call(f"/campaigns/{c.campaign_id()}"),
    "GET /campaigns/{id}/edit": lambda c: Call(f"/campaigns/{c.campaign_id()}/edit"),
    "POST /campaigns/{id}/edit": lambda c: Call(
        f"/campaigns/{c.campaign_id()}/edit",
        form={**_campaign_form(c, TARGET), "units-0-code": "500155102"},
    ),
    # Pages: exports and administration
    "GET /exports": lambda c: Call("/exports"),
    "POST /exports": lambda c: Call(
        "/exports",
        form={"kind": "census", "bureau": c.org, "date_from": "2026-01-01", "date_to": "2026-03-31"},
    ),
    "POST /exports/import": lambda c: Call("/exports/import", form={"import-bureau": TARGET}),
    "GET /admin/users": lambda c: Call("/admin/users"),
    "GET /admin/users/new": lambda c: Call("/admin/users/new"),
    "POST /admin/users/new": lambda c: Call("/admin/users/new", form=_new_user(c.org)),
    "GET /admin/users/{id}": lambda c: Call(f"/admin/users/{c.user_id()}"),
    "POST /admin/users/{id}": lambda c: Call(
        f"/admin/users/{c.user_id()}", form={"display_name": "改名", "role": "surveyor", "active": "y"}
    ),
    "GET /admin/species-lists": lambda c: Call("/admin/species-lists"),
    "GET /admin/boundaries": lambda c: Call("/admin/boundaries"),
    "POST /admin/boundaries": lambda c: Call(
        "/admin/boundaries",
        form={"level": "township", "dry_run": "1", "file": (io.BytesIO(SYNTHETIC_BOUNDARY), "t.geojson")},
        upload=True,
    ),
    "GET /admin/species-lists/{code}": lambda c: Call(f"/admin/species-lists/{c.species_list_code()}"),
    "GET /admin/species/{id}": lambda c: Call(f"/admin/species/{c.fx.species_id('hyphantria-cunea')}"),
    "POST /admin/species/{id}": lambda c: Call(
        f"/admin/species/{c.fx.species_id('hyphantria-cunea')}", form={"names_en": "fall webworm"}
    ),
    "GET /admin/species/new": lambda c: Call("/admin/species/new"),
    "POST /admin/species/new": lambda c: Call(
        "/admin/species/new",
        form={"name_zh": "小管福寿螺", "name_sci": "Pomacea maculata", "like": "福寿螺", "bureaus": TARGET},
    ),
    "POST /admin/species-lists": lambda c: Call(
        "/admin/species-lists", form={"code": "lp-census-3", "name": "普查清单", "bureau": TARGET}
    ),
    "POST /admin/species-lists/{code}/categories": lambda c: Call(
        f"/admin/species-lists/{'none' if c.anonymous else c.district_list}/categories",
        form={"census_categories": "fg_plant"},
    ),
    "POST /admin/species-lists/{code}/members": lambda c: Call(
        f"/admin/species-lists/{'none' if c.anonymous else c.district_list}/members",
        form={"name": "美国白蛾"},
    ),
    "POST /admin/species-lists/{code}/members/{id}/remove": lambda c: Call(
        "/admin/species-lists/{}/members/{}/remove".format(*c.district_member()),
        form={"removed_on": "2026-01-01"},
    ),
    "POST /admin/species-lists/{code}/members/{id}/confirm": lambda c: Call(
        f"/admin/species-lists/moa-567/members/{c.unverified_567_row()}/confirm", form={"note": "核实"}
    ),
    "POST /admin/species-lists/{code}/import": lambda c: Call(
        f"/admin/species-lists/{'none' if c.anonymous else c.district_list}/import",
        form={"file": (io.BytesIO("名称\n福寿螺\n".encode()), "names.csv")},
        upload=True,
    ),
    # Survey campaigns' coverage
    "GET /api/v1/campaigns/{id}/coverage": lambda c: Call(f"/api/v1/campaigns/{c.campaign_id()}/coverage"),
    "GET /api/v1/campaigns/{id}/coverage/geojson": lambda c: Call(
        f"/api/v1/campaigns/{c.campaign_id()}/coverage/geojson"
    ),
    "GET /campaigns/{id}/coverage": lambda c: Call(f"/campaigns/{c.campaign_id()}/coverage"),
    # API: survey routes
    "GET /api/v1/routes": lambda c: Call("/api/v1/routes"),
    "POST /api/v1/routes": lambda c: Call("/api/v1/routes", json=_route_body(c.maker)),
    "GET /api/v1/routes/{id}": lambda c: Call(f"/api/v1/routes/{_route_id(c)}"),
    "GET /api/v1/routes/{id}/geojson": lambda c: Call(f"/api/v1/routes/{_route_id(c)}/geojson"),
    "GET /surveys/routes/new": lambda c: Call("/surveys/routes/new"),
    "GET /surveys/routes": lambda c: Call("/surveys/routes"),
    "GET /surveys/routes/{id}": lambda c: Call(f"/surveys/routes/{_route_id(c)}"),
    # Surveys: plots
    "GET /api/v1/plots": lambda c: Call("/api/v1/plots"),
    "POST /api/v1/plots": lambda c: Call("/api/v1/plots", json=_plot(c)),
    "GET /api/v1/plots/{id}": lambda c: Call(f"/api/v1/plots/{c.plot_id()}"),
    "PATCH /api/v1/plots/{id}": lambda c: Call(f"/api/v1/plots/{c.plot_id()}", json={"notes": "复核"}),
    "POST /api/v1/plots/{id}/photos": lambda c: Call(
        f"/api/v1/plots/{c.plot_id()}/photos", form=_photo_upload(), upload=True
    ),
    "GET /sites/{id}/plots/new": lambda c: Call(f"/sites/{c.site_id()}/plots/new"),
    "GET /plots/{id}": lambda c: Call(f"/plots/{c.plot_id()}"),
    "GET /plots/{id}/edit": lambda c: Call(f"/plots/{c.plot_id()}/edit"),
    "POST /plots/{id}/edit": lambda c: Call(
        f"/plots/{c.plot_id()}/edit",
        form={
            "surveyed_at": (datetime.now(UTC) - timedelta(hours=1))
            .astimezone(local_zone())
            .strftime("%Y-%m-%dT%H:%M"),
            "shape": "square",
            "length_m": "12",
            "quadrats-0-number": "1",
            "quadrats-0-size_m2": "1",
            "quadrats-0-records-0-species": "福寿螺",
            "quadrats-0-records-0-density_per_m2": "5",
            "action": "save",
        },
    ),
}


# ---------------------------------------------------------------------------------------------
# The matrix


def cases() -> Iterator[Any]:
    for key, rule in RULES.items():
        for role in ROLES:
            for relation in relations(rule):
                if relation == "self" and role not in rule.roles:
                    continue  # refused for the role already: making the target would show nothing new
                suffix = role if relation == "any" else f"{role}-{relation}"
                yield pytest.param(key, role, relation, id=f"{key}-{suffix}")
        yield pytest.param(key, None, "any", id=f"{key}-anonymous")


@pytest.fixture(scope="module", autouse=True)
def photo_storage(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    original = app.config["IAS_STORAGE_DIR"]
    app.config["IAS_STORAGE_DIR"] = str(tmp_path_factory.mktemp("matrix-storage"))
    yield Path(app.config["IAS_STORAGE_DIR"])
    app.config["IAS_STORAGE_DIR"] = original


@pytest.fixture
def fx(
    app: Flask,
    client: FlaskClient,
    make_user: Any,
    api_as: Any,
    web_as: Any,
    make_observation: Any,
    observation_payload: Any,
    treat: Any,
    species_id: Any,
) -> Fixtures:
    # The township station under forestry that "unit" targets and "station" callers belong to.
    db.session.add(
        Organization(
            code=STATION,
            name="梁山街道林业站",
            kind=OrganizationKind.TOWNSHIP_STATION,
            parent=db.session.scalar(sa.select(Organization).where(Organization.code == TARGET)),
        )
    )
    db.session.commit()
    return Fixtures(
        app, client, make_user, api_as, web_as, make_observation, observation_payload, treat, species_id
    )


def _send(ctx: Ctx, method: str, call: Call) -> Any:
    kwargs: dict[str, Any] = {}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.upload:
        kwargs["content_type"] = "multipart/form-data"
    if call.path.startswith("/api/"):
        if call.form is not None:
            kwargs["data"] = call.form
        return ctx.api.open(method, call.path, **kwargs)
    if method == "GET":
        return ctx.web.get(call.path, **kwargs)
    assert method == "POST", f"pages take GET and POST only, not {method}"
    return ctx.web.post(call.path, data=call.form or {}, **kwargs)


def _is_sign_in_redirect(response: Any) -> bool:
    if response.status_code not in (302, 303):
        return False
    location = urlsplit(response.headers.get("Location", ""))
    return location.path == "/sign-in" and "next" in parse_qs(location.query)


def _flash_categories(ctx: Ctx) -> set[str]:
    with ctx.web.client.session_transaction() as session:
        return {category for category, _message in session.get("_flashes", [])}


def _outcome(ctx: Ctx, response: Any, api: bool) -> int | str:
    """The answer as the rules name it: a status, SIGN_IN, or FLASH (an error message) for pages."""
    if _is_sign_in_redirect(response):
        return SIGN_IN
    if not api and response.status_code == 302 and not ctx.anonymous and "error" in _flash_categories(ctx):
        return FLASH
    return int(response.status_code)


def _expected(rule: Rule, role: str | None, relation: str, api: bool) -> tuple[int | str, ...]:
    if allowed(rule, role, relation):
        return rule.ok
    if role is None:
        return (rule.anonymous or (401 if api else SIGN_IN),)
    if role in rule.roles and relation in ("other", "station") and rule.org_denied is not None:
        return (rule.org_denied,)
    return (rule.denied,)


@pytest.mark.parametrize(("key", "role", "relation"), list(cases()))
def test_matrix(fx: Fixtures, key: str, role: str | None, relation: str) -> None:
    rule = RULES[key]
    method, _path = key.split(" ", 1)
    ctx = Ctx(fx, role, relation)
    call = CALLS[key](ctx)
    api = call.path.startswith("/api/")
    response = _send(ctx, method, call)
    try:
        outcome = _outcome(ctx, response, api)
        body = response.get_data()[:300].decode(errors="replace")
    finally:
        response.close()  # a file sent by send_file stays open until then
    expected = _expected(rule, role, relation, api)
    verdict = "allowed" if allowed(rule, role, relation) else "refused"
    assert outcome in expected, (
        f"{key} as {role or 'anonymous'} ({relation}): expected {verdict} {expected}, got {outcome}; "
        f"rule: {rule.reach.value}, {rule.why}; body: {body!r}"
    )
    if allowed(rule, role, relation) and rule.denied == FLASH:
        assert "info" in _flash_categories(ctx), f"{key}: allowed, but no confirmation was shown"
