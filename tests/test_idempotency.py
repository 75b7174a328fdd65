"""A phone's retry after its surveyor was moved to another organization (docs/contract.md §3.2).

A record's first try was stored before an admin moved its surveyor (from a bureau to the other bureau, or
to a township station), but its answer was lost; the phone sends it again after the move. The retry is
the same request: it is answered 200 with the record made the first time, which stays filed where it was
made, and nothing is written; other content under that client_uuid is a 409 naming it, and nothing is
written either. The same for every record made once per client_uuid (app/idempotency.py `CreateOnce`):
observations, control operations, plots and routes.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app import events
from app.accounts.models import Organization, OrganizationKind, User
from app.control.models import ControlOperation, FollowUp, FollowUpStatus
from app.extensions import db
from app.observations.events import ObservationRecorded
from app.observations.models import Observation
from app.surveys.models import Plot, Route
from tests.control.fieldwork import visit
from tests.surveys.routes_fixtures import campaign_for, route_body
from tests.surveys.test_plots import plot_body
from tests.together import waiting_on_a_lock

__all__ = ["campaign_for"]  # the fixture, used by name


def _org(code: str) -> Organization:
    found = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    assert found is not None
    return found


def _station() -> str:
    """A township station under the agriculture commission; its code."""
    station = Organization(
        code="lp-ag-st",
        name="礼让镇农业服务中心",
        kind=OrganizationKind.TOWNSHIP_STATION,
        parent=_org("agriculture"),
    )
    db.session.add(station)
    db.session.commit()
    return station.code


def _move(api_as: Any, user: User, organization: str) -> None:
    """Move the user the way an admin does (PATCH /api/v1/users/{id}); their sign-ins end with it."""
    moved = api_as("admin", "forestry").patch(f"/api/v1/users/{user.id}", json={"organization": organization})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["organization"] == organization


def _rows(model: Any, client_uuid: str) -> list[Any]:
    return list(db.session.scalars(sa.select(model).where(model.client_uuid == uuid.UUID(client_uuid))))


def _retried_after_a_move(
    api_as: Any, make_user: Any, path: str, model: Any, body: Any, changed: dict[str, Any], destination: str
) -> dict[str, Any]:
    """Sent as a forestry surveyor, the surveyor moved to `destination`, the same request sent again, then
    other content under its client_uuid: one row, forestry's, answered both times. Returns the first
    answer."""
    surveyor = make_user("surveyor", "forestry")
    sent = body(api_as(surveyor))
    first = api_as(surveyor).post(path, json=sent)
    assert first.status_code == 201, first.get_json()
    made = first.get_json()["id"]
    _move(api_as, surveyor, destination)

    phone = api_as(surveyor)  # signed in again after the move
    again = phone.post(path, json=sent)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == made
    [row] = _rows(model, sent["client_uuid"])
    assert row.id == made
    assert row.organization_id == _org("forestry").id  # filed where it was made

    clash = phone.post(path, json={**sent, **changed})
    assert clash.status_code == 409, clash.get_json()
    assert "client_uuid" in clash.get_json()["errors"]
    assert str(made) in clash.get_json()["message"]
    assert [r.id for r in _rows(model, sent["client_uuid"])] == [made]
    return first.get_json()  # type: ignore[no-any-return]


@pytest.fixture(params=["agriculture", "station"])
def destination(request: pytest.FixtureRequest) -> str:
    """Where the surveyor is moved: the other bureau, or a township station under it."""
    return _station() if request.param == "station" else "agriculture"


def test_an_observation_retried_after_its_surveyor_moved_is_the_same_record(
    api_as: Any, make_user: Any, observation_payload: Any, destination: str
) -> None:
    body = observation_payload()
    _retried_after_a_move(
        api_as,
        make_user,
        "/api/v1/observations",
        Observation,
        lambda _api: body,
        {"density_per_m2": 30.0},
        destination,
    )


def test_a_control_operation_retried_after_its_operator_moved_is_the_same_operation(
    api_as: Any, make_user: Any, make_observation: Any, destination: str
) -> None:
    performed = datetime.now(UTC) - timedelta(days=2)

    def body(api: Any) -> dict[str, Any]:
        baseline = make_observation(api, observed_at=(performed - timedelta(hours=2)).isoformat())
        return {
            "client_uuid": str(uuid.uuid4()),
            "observation_id": baseline["id"],
            "method": "hand_collection",
            "performed_at": performed.isoformat(),
            "area_m2": 2000,
            "details": {"kg_removed": 12.5},
        }

    first = _retried_after_a_move(
        api_as,
        make_user,
        "/api/v1/control-operations",
        ControlOperation,
        body,
        {"area_m2": 1500},
        destination,
    )
    # The operation's re-inspections were scheduled once, by the first try.
    assert first["follow_ups"]
    scheduled = db.session.scalar(
        sa.select(sa.func.count()).select_from(FollowUp).where(FollowUp.control_operation_id == first["id"])
    )
    assert scheduled == len(first["follow_ups"])


def test_a_plot_retried_after_its_surveyor_moved_is_the_same_plot(
    api_as: Any, make_user: Any, make_observation: Any, species_id: Any, destination: str
) -> None:
    site = make_observation(api_as("surveyor", "forestry"))
    _retried_after_a_move(
        api_as,
        make_user,
        "/api/v1/plots",
        Plot,
        lambda _api: plot_body(species_id, site["site_id"]),
        {"notes": "另一块"},
        destination,
    )


def test_a_route_retried_after_its_surveyor_moved_is_the_same_route(
    api_as: Any, make_user: Any, campaign_for: Any, destination: str
) -> None:
    _retried_after_a_move(
        api_as,
        make_user,
        "/api/v1/routes",
        Route,
        lambda api: route_body(campaign_for(api.user)),
        {"notes": "另一条"},
        destination,
    )


def test_the_same_client_uuid_from_someone_else_in_another_organization_is_still_a_record_of_its_own(
    api_as: Any, make_user: Any, observation_payload: Any
) -> None:
    """The earlier try is looked for in the organization and among the sender's own records: another
    person's record elsewhere under the same client_uuid is not theirs (client_uuids are unique per
    organization only)."""
    body = observation_payload()
    forestry = api_as("surveyor", "forestry").post("/api/v1/observations", json=body)
    moved = make_user("surveyor", "forestry")
    _move(api_as, moved, "agriculture")
    agriculture = api_as(moved).post("/api/v1/observations", json=body)
    assert (forestry.status_code, agriculture.status_code) == (201, 201)
    assert forestry.get_json()["id"] != agriculture.get_json()["id"]


def test_a_record_retried_after_a_move_and_back_is_still_the_same_record(
    api_as: Any, make_user: Any, observation_payload: Any
) -> None:
    """Moved away and back again before the phone found the signal: the record is found where it was."""
    surveyor = make_user("surveyor", "forestry")
    body = observation_payload()
    first = api_as(surveyor).post("/api/v1/observations", json=body)
    _move(api_as, surveyor, "agriculture")
    again = api_as(surveyor).post("/api/v1/observations", json=body)
    _move(api_as, surveyor, "forestry")
    back = api_as(surveyor).post("/api/v1/observations", json=body)
    assert (first.status_code, again.status_code, back.status_code) == (201, 200, 200)
    assert first.get_json()["id"] == again.get_json()["id"] == back.get_json()["id"]
    assert len(_rows(Observation, body["client_uuid"])) == 1


def test_a_re_inspection_completed_before_its_assignee_moved_is_answered_on_a_retry(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    """A completion stored before its assignee moved to the other bureau, retried after: its record is
    the re-inspection's organization's whoever completes it, so it is found again and never doubled;
    the retry is answered with the completed re-inspection."""
    surveyor = make_user("surveyor", "forestry")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    body = {"observation": visit(density_per_m2=1.0)}
    done = api_as(surveyor).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=body)
    assert done.status_code == 200, done.get_json()
    _move(api_as, surveyor, "agriculture")

    again = api_as(surveyor).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=body)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["observation_id"] == done.get_json()["observation_id"]
    assert len(_rows(Observation, body["observation"]["client_uuid"])) == 1
    follow_up = db.session.get(FollowUp, follow_up_id)
    assert follow_up is not None and follow_up.status is FollowUpStatus.DONE
    # Anything but that retry is still refused: they no longer complete the old bureau's re-inspections.
    other = {"observation": visit(density_per_m2=1.0)}
    refused = api_as(surveyor).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=other)
    assert refused.status_code == 403, refused.get_json()


def test_a_record_sent_before_a_move_does_not_complete_a_re_inspection_after_it(
    api_as: Any, make_user: Any, treat: Any, observation_payload: Any
) -> None:
    """A record of the surveyor's stored in the organization they left is theirs still: its client_uuid
    sent again as the completion of a re-inspection of their new organization completes nothing (one
    visit never completes two, docs/contract.md §2 Follow-up)."""
    surveyor = make_user("surveyor", "forestry")
    record = observation_payload(density_per_m2=2.0)
    made = api_as(surveyor).post("/api/v1/observations", json=record)
    assert made.status_code == 201, made.get_json()
    _move(api_as, surveyor, "agriculture")
    operation, _baseline = treat(api_as(surveyor), "hand_collection", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]

    fields = ("client_uuid", "observed_at", "latitude", "longitude", "accuracy_m", "township_code")
    completion = {"observation": {key: record[key] for key in fields} | {"density_per_m2": 2.0}}
    response = api_as(surveyor).post(f"/api/v1/follow-ups/{follow_up_id}/complete", json=completion)
    assert response.status_code == 409, response.get_json()
    assert str(made.get_json()["id"]) in response.get_json()["message"]
    assert [r.id for r in _rows(Observation, record["client_uuid"])] == [made.get_json()["id"]]
    follow_up = db.session.get(FollowUp, follow_up_id)
    assert follow_up is not None and follow_up.status is FollowUpStatus.PENDING


@pytest.mark.real_commits
def test_a_try_in_flight_across_the_move_and_its_retry_make_one_record(
    api_as: Any, make_user: Any, observation_payload: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try signed in before the move is still being written when the phone, signed in again
    after it, sends the retry: the retry waits for it (the client_uuid's lock is the same in every
    organization) and answers with its record. SQLite has one writer: there the move itself waits for
    the try in flight, so no retry can cross it, and the retry after the move finds the record."""
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    surveyor = make_user("surveyor", "forestry")
    before_move, admin = api_as(surveyor), api_as("admin", "forestry")
    body = observation_payload()
    reached, release = threading.Event(), threading.Event()

    def hold_the_first(event: ObservationRecorded) -> None:
        if not reached.is_set():
            reached.set()
            release.wait(20)

    handlers = [hold_the_first, *events.handlers(ObservationRecorded)]
    monkeypatch.setitem(events._handlers, ObservationRecorded, handlers)
    moving = f"/api/v1/users/{surveyor.id}"  # read now: the threads have no app context to load it
    db.session.rollback()  # the test holds no transaction (SQLite: no write lock) beside the requests
    answers: dict[str, Any] = {}

    def send(name: str, api: Any) -> None:
        answers[name] = api.post("/api/v1/observations", json=body)

    def move() -> None:
        answers["moved"] = admin.patch(moving, json={"organization": "agriculture"})

    first = threading.Thread(target=send, args=("first", before_move))
    mover = threading.Thread(target=move)
    first.start()
    try:
        assert reached.wait(20), "the first try never reached its write"
        if sqlite:
            mover.start()
            mover.join(1)  # bounded: it must still be waiting for the first try's write lock
            assert mover.is_alive(), "the move did not wait for the try in flight"
        else:
            move()
            assert answers["moved"].status_code == 200, answers["moved"].get_json()
            retry = threading.Thread(target=send, args=("retry", api_as(surveyor)))
            db.session.rollback()
            retry.start()
            # The retry waits for the first try's client_uuid lock (the same in every organization).
            assert waiting_on_a_lock(), "the retry did not wait for the try in flight"
    finally:
        release.set()
    first.join(30)
    if sqlite:
        mover.join(30)
        assert answers["moved"].status_code == 200, answers["moved"].get_json()
        send("retry", api_as(surveyor))
    else:
        retry.join(30)
    assert (answers["first"].status_code, answers["retry"].status_code) == (201, 200), [
        a.get_json() for a in answers.values()
    ]
    assert answers["retry"].get_json()["id"] == answers["first"].get_json()["id"]
    db.session.rollback()
    [row] = _rows(Observation, body["client_uuid"])
    assert row.organization_id == _org("forestry").id
