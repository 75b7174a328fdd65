"""The API fuzzed from its own OpenAPI document (schemathesis), in-process, as every role.

The document is the one the test app serves at GET /api/v1/openapi.json. Every operation is called
through the WSGI app with a bearer token of the role under test, and every response must be:

- no server error (docs/contract.md §3.2: never a 500 for anything a client sends);
- a status code the operation lists itself: schemathesis' own check accepts anything under the
  `default` error response, so `documented_status_code` below ignores it, and a status the document
  forgets fails here instead of passing quietly;
- of a documented content type, and valid against the schema documented for its status;
- never a 401 except for a wrong password: the caller stays signed in for the whole run. Its token
  cannot be revoked by the run: no generated request may deactivate, demote, move or re-password the
  caller (its id is swapped for another user's), its own password change keeps the token it is made
  with, and the token-revoking operation is sent a fresh token. Nor is it locked out: the sign-in
  throttle's counts are cleared before each request that counts as a password guess.

Two tests share the fixtures below:

- `test_fuzz_as_each_role`: Hypothesis-generated requests, valid and invalid, MAX_EXAMPLES per
  operation for each of the five roles;
- `test_boundaries_as_admin`: schemathesis' coverage phase, the boundary values of every parameter
  and body field (shortest and longest text, smallest and largest numbers, each enum value, optional
  fields absent and present), once, as `admin`, whom no role check stops before the deepest code.

Random ids would almost always answer 404 and random bodies 422, so generation is steered towards
the real thing: path ids are often those of objects made for the test (observations, a site, photos,
a control operation and its follow-ups, an export, a webhook, users), and bodies and queries are often
a valid request with some of its fields replaced by generated ones. Everything happens inside the
test's rolled-back transaction (tests/conftest.py), and files go to a temporary storage directory.

Seeded, so a run is reproducible; no example database is kept between runs. About 80 s on SQLite and
100 s on PostgreSQL on a 2-core machine. For a deeper run (not part of `make test`), raise the number of
examples or change the seed: `IAS_FUZZ_EXAMPLES=100 IAS_FUZZ_SEED=2 .venv/bin/pytest tests/api`.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    is_unexpected_http_status_case,
    response_schema_conformance,
    status_code_conformance,
)

from app.accounts.models import SignInThrottle
from app.accounts.tokens import issue_token
from app.clock import local_today
from app.exports import writing as exports
from app.exports.models import ExportKind
from app.extensions import db
from app.species.models import SpeciesList
from tests.conftest import SPECIES_IDS
from tests.factories import PASSWORD
from tests.photos.images import encode, photo

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own

ROLES = ["surveyor", "verifier", "supervisor", "bureau_admin", "admin"]
# Generated requests per operation and role (46 operations × 5 roles): the bulk of the runtime.
MAX_EXAMPLES = int(os.environ.get("IAS_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("IAS_FUZZ_SEED", "20260507"))


def _config(phase: str) -> schemathesis.config.SchemathesisConfig:
    """One phase of schemathesis' run: `fuzzing` (Hypothesis) or `coverage` (boundary values)."""
    return schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                # Fuzzing: valid and invalid requests. Boundaries: valid ones only (the invalid
                # values would double its time, and the fuzzing sends invalid values already).
                "mode": "all" if phase == "fuzzing" else "positive",
                # The Authorization header is the caller's, never a generated one.
                "with-security-parameters": False,
            },
            "phases": {
                "examples": {"enabled": False},
                "stateful": {"enabled": False},
                "coverage": {"enabled": phase == "coverage"},
                "fuzzing": {"enabled": phase == "fuzzing"},
            },
        }
    )


def caller_stays_signed_in(ctx: Any, response: Any, case: Any) -> None:
    """Only a wrong password is a 401: the caller's token must never stop working mid-run."""
    if case.operation.label != "POST /api/v1/auth/tokens":
        assert response.status_code != 401, f"the caller's token was refused: {response.text}"


def documented_status_code(ctx: Any, response: Any, case: Any) -> None:
    """The status is one the operation lists: schemathesis' own check accepts anything under `default`."""
    if is_unexpected_http_status_case(case):  # a method the path does not have: 405 is right
        return
    listed = case.operation.responses.status_codes
    assert str(response.status_code) in listed, (
        f"{response.status_code} is not documented for {case.operation.label} (it lists {', '.join(listed)})"
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,  # passes any status under `default`; documented_status_code does not
    documented_status_code,
    content_type_conformance,
    response_schema_conformance,
    caller_stays_signed_in,
]


# ---------------------------------------------------------------------------------------------
# The objects generation is steered towards


@dataclass
class RealData:
    """What exists in the test's database, for generated requests to hit."""

    # Path parameter name → values that name an existing object.
    path_values: dict[str, list[Any]]
    # Operation label ("POST /api/v1/observations") → a valid body or query; given a fresh UUID.
    bodies: dict[str, Callable[[uuid.UUID], dict[str, Any]]] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The caller's own id: no generated request may deactivate, demote or re-password the caller.
    caller_id: int = 0


def _jpeg() -> bytes:
    return encode(photo(64, 48), "JPEG")


def _census_workbook() -> bytes:
    """A census workbook as the app writes it (of the records made below), to import again."""
    buffer = io.BytesIO()
    exports.write_export(
        buffer,
        bureau="forestry",
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={},
        generated_by="fuzz",
    )
    return buffer.getvalue()


@pytest.fixture
def caller(api_as: Any, role: str) -> Any:
    """The role under test, in the forestry bureau, with its bearer token."""
    return api_as(role)


@pytest.fixture
def real_data(
    api_as: Any,
    make_user: Any,
    make_observation: Any,
    observation_payload: Any,
    treat: Any,
    caller: Any,
) -> RealData:
    supervisor = make_user("supervisor")
    make_user("supervisor", "agriculture")
    surveyor = api_as("surveyor")
    other = api_as("surveyor", "agriculture")
    admin = api_as("admin")
    bureau_admin = api_as("bureau_admin")
    own = make_observation(caller)
    plain = make_observation(surveyor)
    foreign = make_observation(other, latitude=30.70)
    operation, baseline = treat(surveyor)
    photos = []
    for path in (
        f"/api/v1/observations/{plain['id']}/photos",
        f"/api/v1/control-operations/{operation['id']}/photos",
    ):
        upload = {"file": (io.BytesIO(_jpeg()), "IMG_0001.jpg")}
        response = surveyor.post(path, data=upload, content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
        photos.append(response.get_json()["id"])
    export = bureau_admin.post("/api/v1/exports", json={"kind": "census", "bureau": "forestry"})
    assert export.status_code == 202, export.get_json()
    webhook = admin.post(
        "/api/v1/organizations/forestry/webhooks",
        json={"name": "防治群机器人", "url": "https://example.org/hook"},
    )
    assert webhook.status_code == 201, webhook.get_json()
    list_codes = list(db.session.scalars(sa.select(SpeciesList.code).order_by(SpeciesList.code).limit(3)))
    workbook = _census_workbook()
    db.session.commit()

    now = datetime.now(UTC)
    in_a_week = (local_today() + timedelta(days=7)).isoformat()
    jpeg = _jpeg()
    bodies: dict[str, Callable[[uuid.UUID], dict[str, Any]]] = {
        "POST /api/v1/auth/tokens": lambda u: {"username": caller.user.username, "password": PASSWORD},
        "POST /api/v1/users": lambda u: {
            "username": f"fuzz-{u.hex[:10]}",
            "password": "a-long-enough-passphrase",
            "display_name": "模糊测试",
            "role": "surveyor",
            "organization": "forestry",
        },
        "PATCH /api/v1/users/{user_id}": lambda u: {"display_name": "改名"},
        "POST /api/v1/observations": lambda u: observation_payload(client_uuid=str(u)),
        "PATCH /api/v1/observations/{observation_id}": lambda u: {"notes": "补记", "density_per_m2": 5.0},
        "POST /api/v1/observations/{observation_id}/review": lambda u: {
            "decision": "returned",
            "comment": "请补拍近照",
        },
        "POST /api/v1/observations/{observation_id}/photos": lambda u: {"file": jpeg},
        "POST /api/v1/control-operations/{operation_id}/photos": lambda u: {"file": jpeg},
        "POST /api/v1/control-operations": lambda u: {
            "client_uuid": str(u),
            "observation_id": plain["id"],
            "method": "hand_collection",
            "performed_at": (now - timedelta(hours=1)).isoformat(),
            "area_m2": 800,
            "details": {"kg_removed": 4.5},
        },
        "POST /api/v1/follow-ups": lambda u: {"site_id": plain["site_id"], "due_on": in_a_week},
        "PATCH /api/v1/follow-ups/{follow_up_id}": lambda u: {
            "due_on": in_a_week,
            "assignee_id": supervisor.id,
        },
        "POST /api/v1/follow-ups/{follow_up_id}/complete": lambda u: {
            "observation": observation_payload(client_uuid=str(u), density_per_m2=2.0)
        },
        "POST /api/v1/organizations/{code}/webhooks": lambda u: {
            "name": "群机器人",
            "url": "https://example.org/robot",
        },
        "POST /api/v1/exports": lambda u: {"kind": "census", "bureau": "forestry"},
        "POST /api/v1/imports": lambda u: {"file": workbook},
    }
    return RealData(
        path_values={
            "observation_id": [own["id"], plain["id"], foreign["id"], baseline["id"]],
            "site_id": [plain["site_id"], foreign["site_id"]],
            "operation_id": [operation["id"]],
            "follow_up_id": [f["id"] for f in operation["follow_ups"]],
            "photo_id": photos,
            "export_id": [export.get_json()["id"]],
            "webhook_id": [webhook.get_json()["id"]],
            "user_id": [surveyor.user.id, other.user.id, supervisor.id],
            "species_id": sorted(SPECIES_IDS.values())[:3],
            "code": ["forestry", "agriculture", *list_codes],
        },
        bodies=bodies,
        queries={
            "POST /api/v1/imports": {"bureau": "forestry"},
            "POST /api/v1/control-operations/{operation_id}/photos": {"stage": "after"},
        },
        caller_id=caller.user.id,
    )


# ---------------------------------------------------------------------------------------------
# Steering generation (schemathesis hooks on the test's own schema)


def _sometimes_real(generated: dict[str, Any] | None, real: RealData) -> st.SearchStrategy[Any]:
    """The generated path parameters, or the same with real values in place of some ids."""
    if not generated:
        return st.just(generated)
    if generated.get("user_id") == real.caller_id:
        generated = {**generated, "user_id": real.path_values["user_id"][0]}
    known = {name: values for name, values in real.path_values.items() if name in generated}
    if not known:
        return st.just(generated)
    return st.one_of(
        st.just(generated),
        st.fixed_dictionaries(
            {
                name: st.sampled_from(known[name]) if name in known else st.just(value)
                for name, value in generated.items()
            }
        ),
    )


def _mostly_valid(generated: Any, valid: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The generated object, or a valid one with some of the generated fields laid over it."""
    if valid is None or not isinstance(generated, dict):
        return st.just(generated)
    names = sorted(generated)
    keep = st.sets(st.sampled_from(names)) if names else st.just(set())
    return st.one_of(
        st.just(generated),
        keep.map(lambda chosen: {**valid, **{name: generated[name] for name in chosen}}),
    )


def _load_schema(app: Flask, real: RealData, config: Any, request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32.5 renames the running pytest item through `node._nodeid`, which pytest 9.2
    # no longer has (it became `_id`); give it the attribute so the lazy schema can run.
    request.node._nodeid = request.node.nodeid
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        return _sometimes_real(path_parameters, real)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        valid = real.bodies.get(context.operation.label)
        if valid is None:
            return st.just(body)
        return st.uuids().flatmap(lambda u: _mostly_valid(body, valid(u)))

    @schema.hook
    def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
        # Without a query of its own an operation takes no parameters: fewer of the generated ones.
        return _mostly_valid(query, real.queries.get(context.operation.label, {}))

    return schema


@pytest.fixture
def fuzz_schema(app: Flask, real_data: RealData, request: pytest.FixtureRequest) -> Any:
    return _load_schema(app, real_data, _config("fuzzing"), request)


@pytest.fixture
def boundary_schema(app: Flask, real_data: RealData, request: pytest.FixtureRequest) -> Any:
    return _load_schema(app, real_data, _config("coverage"), request)


# Operations that count as password guesses: the sign-in throttle would answer 429 to the valid
# requests among them once the invalid ones had used up the caller's attempts.
GUESSES = {"POST /api/v1/auth/tokens", "POST /api/v1/me/password"}


def _call_and_check(case: Any, caller: Any) -> None:
    token = caller.token
    if case.operation.label == "DELETE /api/v1/auth/tokens/current":  # it revokes the token it is sent with
        token, _ = issue_token(caller.user)
        db.session.commit()
    if case.operation.label in GUESSES:  # the fuzzed user is never locked out: every request is checked
        db.session.execute(sa.delete(SignInThrottle))
        db.session.commit()
    case.call_and_validate(
        session=caller.client,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
        buffered=True,  # read the whole body and close it, as a server would (photo files)
    )


SETTINGS = hypothesis.settings(deadline=None, database=None)


@pytest.mark.parametrize("role", ROLES)
@hypothesis.settings(SETTINGS, max_examples=MAX_EXAMPLES)
@schemathesis.pytest.from_fixture("fuzz_schema").parametrize()
def test_fuzz_as_each_role(case: Any, caller: Any) -> None:
    _call_and_check(case, caller)


@pytest.mark.parametrize("role", ["admin"])
@SETTINGS
@schemathesis.pytest.from_fixture("boundary_schema").parametrize()
def test_boundaries_as_admin(case: Any, caller: Any) -> None:
    _call_and_check(case, caller)


# ---------------------------------------------------------------------------------------------
# What the fuzzing found, pinned by hand: inputs it reaches only by chance, or cannot generate
# (schemathesis sends valid UTF-8 only, never an unpaired surrogate).


@pytest.mark.parametrize(
    "text", ["\x00", "稻田\x00边", "\ud800", "x\udfff"], ids=["nul", "nul-inside", "hi", "lo"]
)
def test_text_no_database_can_store_is_a_422_naming_the_field(
    api_as: Any, make_observation: Any, text: str
) -> None:

    api = api_as("surveyor")
    record = make_observation(api)
    body = json.dumps({"notes": "复查", "place_name": text})  # escapes the surrogate as JSON does
    edited = api.patch(f"/api/v1/observations/{record['id']}", data=body, content_type="application/json")
    assert edited.status_code == 422, edited.get_json()
    assert list(edited.get_json()["errors"]) == ["place_name"]
    if "\x00" in text:  # a query string is bytes: it can hold a NUL, never a surrogate
        searched = api.get("/api/v1/species", query_string={"q": text})
        assert searched.status_code == 422 and list(searched.get_json()["errors"]) == ["q"]


def test_ids_beyond_any_row_are_a_404_in_the_path_and_a_422_in_a_field(api_as: Any) -> None:
    api = api_as("admin")
    huge = 2**63  # past SQLite's INTEGER: the driver used to overflow (a 500)
    assert api.get(f"/api/v1/observations/{huge}").status_code == 404
    assert api.get(f"/api/v1/follow-ups/{2**31}").status_code == 404
    marked = api.post("/api/v1/notifications/read", json={"ids": [1, huge]})
    assert marked.status_code == 422 and list(marked.get_json()["errors"]) == ["ids"]
    listed = api.get("/api/v1/control-operations", query_string={"operator_id": huge})
    assert listed.status_code == 422 and list(listed.get_json()["errors"]) == ["operator_id"]


def test_webhooks_of_an_unknown_organization_are_a_404(api_as: Any) -> None:
    response = api_as("admin").get("/api/v1/organizations/no-such-bureau/webhooks")
    assert response.status_code == 404, response.get_json()
