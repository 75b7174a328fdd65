"""Control operations: method catalogue, checked details, idempotency, and the follow-ups they schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.control.schedule import next_spring_check


def test_method_catalogue(api_as: Any) -> None:
    methods = api_as("surveyor").get("/api/v1/control-methods").get_json()
    chemical = next(m for m in methods if m["code"] == "chemical")
    assert chemical["name_zh"] == "化学防治"
    fields = {f["name"]: f for f in chemical["fields"]}
    assert fields["product"]["required"] is True
    assert fields["dose_g_per_mu"]["type"] == "number"


def test_chemical_treatment_ten_days_ago_schedules_the_published_checks(
    api_as: Any, make_user: Any, treat: Any
) -> None:
    supervisor = make_user("supervisor")
    surveyor = make_user("surveyor")
    operation, baseline = treat(api_as(surveyor), method="chemical", days_ago=10)
    assert operation["method_name"] == "化学防治"
    assert operation["baseline_observation_id"] == baseline["id"]
    scheduled = [f for f in operation["follow_ups"] if f["kind"] == "scheduled"]
    assert [f["offset_days"] for f in scheduled] == [1, 3, 7, 15, 30]
    assert [f["overdue"] for f in scheduled] == [True, True, True, False, False]
    assert all(f["status"] == "pending" for f in scheduled)
    # The one who recorded it re-inspects (no assignee named); the supervisor is the escalation.
    assert operation["assignee_id"] == surveyor.id
    assert {f["assignee_id"] for f in operation["follow_ups"]} == {surveyor.id}
    assert {f["supervisor_id"] for f in operation["follow_ups"]} == {supervisor.id}
    performed_on = date.fromisoformat(operation["performed_at"][:10])
    assert [date.fromisoformat(f["due_on"]) - performed_on for f in scheduled] == [
        timedelta(days=d) for d in (1, 3, 7, 15, 30)
    ]
    spring = [f for f in operation["follow_ups"] if f["kind"] == "next_spring"]
    assert len(spring) == 1 and spring[0]["due_on"][5:] == "03-15"


def test_hand_collection_and_given_days(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    hand, _ = treat(api, method="hand_collection", days_ago=1)
    assert [f["offset_days"] for f in hand["follow_ups"] if f["kind"] == "scheduled"] == [7, 14]
    own, _ = treat(api, method="hand_collection", days_ago=1, follow_up_days=[2, 5])
    assert [f["offset_days"] for f in own["follow_ups"] if f["kind"] == "scheduled"] == [2, 5]


def test_named_assignee_gets_the_follow_ups(api_as: Any, make_user: Any, treat: Any) -> None:
    api = api_as("surveyor")
    colleague = make_user("surveyor")
    operation, _ = treat(api, assignee_id=colleague.id)
    assert operation["assignee_id"] == colleague.id
    assert {f["assignee_id"] for f in operation["follow_ups"]} == {colleague.id}


@pytest.mark.parametrize("who", ["other_organization", "inactive", "unknown"])
def test_assignee_must_be_an_active_member_of_the_recording_organization(
    api_as: Any, make_user: Any, make_observation: Any, who: str
) -> None:
    api = api_as("surveyor")
    baseline = make_observation(api)
    assignee_id = {
        "other_organization": lambda: make_user("surveyor", "agriculture").id,
        "inactive": lambda: make_user("surveyor", active=False).id,
        "unknown": lambda: 999999,
    }[who]()
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": baseline["id"],
        "method": "hand_collection",
        "performed_at": datetime.now(UTC).isoformat(),
        "details": {"kg_removed": 3},
        "assignee_id": assignee_id,
    }
    response = api.post("/api/v1/control-operations", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["assignee_id"]
    assert api.get(f"/api/v1/control-operations?site_id={baseline['site_id']}").get_json()["total"] == 0
    assert api.get(f"/api/v1/follow-ups?site_id={baseline['site_id']}").get_json()["total"] == 0
    # The same operation for a colleague who records in the bureau goes through.
    body["assignee_id"] = make_user("surveyor").id
    assert api.post("/api/v1/control-operations", json=body).status_code == 201


def test_retry_is_idempotent_and_a_clash_conflicts(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, baseline = treat(api)
    body = {
        "client_uuid": operation["client_uuid"],
        "observation_id": baseline["id"],
        "method": "chemical",
        "performed_at": operation["performed_at"],
        "area_m2": 2000,
        "details": operation["details"],
        "labour_person_days": 1.5,
        "cost_yuan": 320,
        "team": "梁山街道农技站",
    }
    again = api.post("/api/v1/control-operations", json=body)
    assert again.status_code == 200
    assert again.get_json()["id"] == operation["id"]
    assert len(again.get_json()["follow_ups"]) == len(operation["follow_ups"])
    clash = api.post("/api/v1/control-operations", json={**body, "cost_yuan": 999})
    assert clash.status_code == 409


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"method": "magic"}, "method"),
        ({"method": "ducks", "details": {"ducks_per_mu": 22}}, None),
        ({"details": {"registration_no": "PD1"}}, "details.product"),
        (
            {"details": {"product": "x", "registration_no": "PD1", "dose_g_per_mu": -5}},
            "details.dose_g_per_mu",
        ),
        ({"details": {"product": "x", "registration_no": "PD1", "colour": "red"}}, "details.colour"),
        ({"details": {"product": 5, "registration_no": "PD1"}}, "details.product"),
        ({"observation_id": None, "site_id": 999999}, "site_id"),
        ({"observation_id": None}, "site_id"),
        ({"follow_up_days": [0]}, "follow_up_days"),
        ({"performed_at": "2099-01-01T00:00:00+08:00"}, "performed_at"),
        ({"assignee_id": 999999}, "assignee_id"),
        ({"cost_yuan": -1}, "cost_yuan"),
    ],
)
def test_bad_operations_are_named(
    api_as: Any, make_observation: Any, changes: dict[str, Any], field: str | None
) -> None:
    api = api_as("surveyor")
    baseline = make_observation(api)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": baseline["id"],
        "method": "chemical",
        "performed_at": datetime.now(UTC).isoformat(),
        "details": {"product": "四聚乙醛", "registration_no": "PD20101234"},
        **changes,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v1/control-operations", json=body)
    if field is None:
        assert response.status_code == 201, response.get_json()
        return
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert api.get("/api/v1/control-operations").get_json()["total"] == 0


def test_weed_method_refused_for_snails(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    baseline = make_observation(api)
    response = api.post(
        "/api/v1/control-operations",
        json={
            "client_uuid": str(uuid.uuid4()),
            "observation_id": baseline["id"],
            "method": "manual_removal",
            "performed_at": datetime.now(UTC).isoformat(),
        },
    )
    assert response.status_code == 422
    assert "method" in response.get_json()["errors"]


def test_treated_site_is_under_control_and_timeline_shows_it(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="hand_collection", days_ago=2)
    site = api.get(f"/api/v1/sites/{operation['site_id']}").get_json()
    assert site["status"] == "under_control"
    kinds = [entry["kind"] for entry in site["timeline"]]
    assert kinds[:2] == ["observation", "control_operation"]
    assert kinds.count("follow_up") == 3  # +7, +14 and the next-spring check


def test_next_spring_check_date() -> None:
    assert next_spring_check(date(2026, 11, 13), "03-15") == date(2027, 3, 15)
    assert next_spring_check(date(2027, 1, 10), "03-15") == date(2027, 3, 15)  # 64 days on
    # Never sooner than 60 days after the treatment: 20 January is 54 days before 15 March.
    assert next_spring_check(date(2027, 1, 20), "03-15") == date(2028, 3, 15)
    assert next_spring_check(date(2027, 3, 10), "03-15") == date(2028, 3, 15)  # spring: the next one
    assert next_spring_check(date(2027, 3, 15), "03-15") == date(2028, 3, 15)


def test_a_next_spring_check_on_29_february_falls_on_28_february_without_one() -> None:
    # 2027 has no 29 February: its last day of February; 2028 has one.
    assert next_spring_check(date(2026, 11, 13), "02-29") == date(2027, 2, 28)
    assert next_spring_check(date(2027, 11, 13), "02-29") == date(2028, 2, 29)
    # 60 days after 10 January 2027 is 11 March: the next one is 2028's 29 February.
    assert next_spring_check(date(2027, 1, 10), "02-29") == date(2028, 2, 29)
    # 60 days after 1 December 2027 is 30 January 2028: 29 February 2028.
    assert next_spring_check(date(2027, 12, 1), "02-29") == date(2028, 2, 29)
    # 60 days after 1 January 2028 is 1 March 2028: 2029 has none, so 28 February 2029.
    assert next_spring_check(date(2028, 1, 1), "02-29") == date(2029, 2, 28)


def _last(month: int, day: int) -> datetime:
    """The most recent `month`-`day`, 10:00 in Liangping (02:00 UTC), that is at least a day past."""
    now = datetime.now(UTC)
    moment = datetime(now.year, month, day, 2, tzinfo=UTC)
    return moment if moment < now - timedelta(days=1) else moment.replace(year=now.year - 1)


def _days_ago(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds() / 86400


def _spring_checks(api: Any, site_id: int) -> list[dict[str, Any]]:
    items = api.get(f"/api/v1/follow-ups?site_id={site_id}&per_page=100").get_json()["items"]
    return [f for f in items if f["kind"] == "next_spring"]


def test_an_operation_in_march_is_checked_the_following_spring(api_as: Any, treat: Any) -> None:
    march = _last(3, 10)
    operation, _ = treat(api_as("surveyor"), days_ago=_days_ago(march))
    spring = [f for f in operation["follow_ups"] if f["kind"] == "next_spring"]
    assert [f["due_on"] for f in spring] == [f"{march.year + 1}-03-15"]  # not five days later
    assert spring[0]["offset_days"] == (date(march.year + 1, 3, 15) - march.date()).days


def test_an_operation_in_autumn_is_checked_the_next_spring(api_as: Any, treat: Any) -> None:
    autumn = _last(10, 8)
    operation, _ = treat(api_as("surveyor"), days_ago=_days_ago(autumn))
    spring = [f for f in operation["follow_ups"] if f["kind"] == "next_spring"]
    assert [f["due_on"] for f in spring] == [f"{autumn.year + 1}-03-15"]


def test_two_treatments_of_one_site_leave_one_pending_spring_check(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    march = _last(3, 10)
    november = datetime(march.year - 1, 11, 1, 2, tzinfo=UTC)
    first, baseline = treat(api, days_ago=_days_ago(november))
    assert [f["due_on"] for f in _spring_checks(api, first["site_id"])] == [f"{march.year}-03-15"]

    # Treated again in March, five days before that check: one check remains, the spring after.
    second, _ = treat(api, method="hand_collection", days_ago=_days_ago(march), baseline=baseline)
    assert second["site_id"] == first["site_id"]
    checks = [f for f in _spring_checks(api, first["site_id"]) if f["status"] == "pending"]
    assert [(f["due_on"], f["control_operation_id"]) for f in checks] == [
        (f"{march.year + 1}-03-15", second["id"])
    ]

    # A third treatment whose own check would fall on the same day adds nothing.
    third, _ = treat(api, method="hand_collection", days_ago=_days_ago(march) - 1, baseline=baseline)
    checks = [f for f in _spring_checks(api, first["site_id"]) if f["status"] == "pending"]
    assert [f["due_on"] for f in checks] == [f"{march.year + 1}-03-15"]
    assert not [f for f in third["follow_ups"] if f["kind"] == "next_spring"]


def test_operation_photos_before_and_after(api_as: Any, treat: Any, tmp_path: Any, app: Any) -> None:
    import io

    from tests.photos.test_photos_api import phone_jpeg

    app.config["IAS_STORAGE_DIR"], original = str(tmp_path), app.config["IAS_STORAGE_DIR"]
    try:
        api = api_as("surveyor")
        operation, _ = treat(api)
        url = f"/api/v1/control-operations/{operation['id']}/photos"
        before = api.post(
            url, data={"file": (io.BytesIO(phone_jpeg()), "a.jpg")}, content_type="multipart/form-data"
        )
        after = api.post(
            url + "?stage=after",
            data={"file": (io.BytesIO(phone_jpeg(colour=(90, 90, 20))), "b.jpg")},
            content_type="multipart/form-data",
        )
        wrong = api.post(
            url + "?stage=during",
            data={"file": (io.BytesIO(phone_jpeg()), "c.jpg")},
            content_type="multipart/form-data",
        )
        assert before.status_code == after.status_code == 201
        assert wrong.status_code == 422 and "stage" in wrong.get_json()["errors"]
        photos = api.get(f"/api/v1/control-operations/{operation['id']}").get_json()["photos"]
        assert [p["stage"] for p in photos] == ["before", "after"]
    finally:
        app.config["IAS_STORAGE_DIR"] = original


def test_a_refusal_names_the_methods_own_fields_by_their_labels(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    baseline = make_observation(api)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "observation_id": baseline["id"],
        "method": "chemical",
        "performed_at": datetime.now(UTC).isoformat(),
        "details": {"dose_g_per_mu": -5},
    }
    response = api.post("/api/v1/control-operations", json=body)
    assert response.status_code == 422
    errors, message = response.get_json()["errors"], response.get_json()["message"]
    assert {"details.product", "details.dose_g_per_mu"} <= set(errors)
    assert all(label in message for label in ("药剂名称", "农药登记证号", "用量"))
    assert "details." not in message and "dose_g_per_mu" not in message
