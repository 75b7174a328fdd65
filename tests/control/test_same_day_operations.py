"""Two control operations of one site on one day (two teams, or one team recording twice with new
client_uuids) send one re-inspection to the site per due day, not two; and the census counts a site's
re-inspection due on a day once, also where earlier versions scheduled it twice (docs/census.md,
Re-inspections due). (Written from a review that found the second operation scheduling a full set of
its own, and 应复查 counting them twice.)"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl  # noqa: TID251
import sqlalchemy as sa

from app.control.models import FollowUp, FollowUpKind, FollowUpStatus
from app.exports import writing
from app.exports.models import ExportKind
from app.extensions import db

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHEMICAL = [1, 3, 7, 15, 30]  # 福寿螺 after 化学防治 (docs/contract.md, Follow-up)
HAND = [7, 14]  # after 人工捡螺


def _second(api: Any, first: dict[str, Any], method: str = "chemical", **fields: Any) -> dict[str, Any]:
    """Another operation of the first's site, an hour later on the same day, with its own client_uuid."""
    details = {
        "chemical": {"product": "四聚乙醛", "registration_no": "PD20101234", "dose_g_per_mu": 500},
        "hand_collection": {"kg_removed": 3.0},
    }[method]
    at = datetime.fromisoformat(first["performed_at"])
    performed = at + timedelta(minutes=30)
    if performed.astimezone(SHANGHAI).date() != at.astimezone(SHANGHAI).date():
        performed = at - timedelta(minutes=30)  # the same local day either way
    body = {
        "client_uuid": str(uuid.uuid4()),
        "site_id": first["site_id"],
        "method": method,
        "performed_at": performed.isoformat(),
        "area_m2": 1000,
        "details": details,
        "team": "第二组",
        **fields,
    }
    response = api.post("/api/v1/control-operations", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _site_follow_ups(site_id: int) -> list[FollowUp]:
    db.session.expire_all()
    stmt = sa.select(FollowUp).where(FollowUp.site_id == site_id).order_by(FollowUp.id)
    return list(db.session.scalars(stmt))


def _day(operation: dict[str, Any]) -> date:
    return datetime.fromisoformat(operation["performed_at"]).astimezone(SHANGHAI).date()


def test_two_operations_of_one_site_on_one_day_schedule_each_re_inspection_once(
    api_as: Any, treat: Any
) -> None:
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    second = _second(api, first)
    day = _day(first)
    assert _day(second) == day
    scheduled = [f for f in _site_follow_ups(first["site_id"]) if f.kind == FollowUpKind.SCHEDULED]
    assert sorted(f.due_on for f in scheduled) == [day + timedelta(days=d) for d in CHEMICAL]
    assert {f.control_operation_id for f in scheduled} == {first["id"]}
    # The second's answer has no re-inspection of its own: the site's are already pending.
    assert [f for f in second["follow_ups"] if f["kind"] == "scheduled"] == []
    spring = [f for f in _site_follow_ups(first["site_id"]) if f.kind == FollowUpKind.NEXT_SPRING]
    assert len(spring) == 1


def test_the_second_operation_answers_with_the_re_inspections_it_joined(api_as: Any, treat: Any) -> None:
    """The answer to the second operation still says when the site is re-inspected: the first's
    pending re-inspections it joined, in the shape of its own, on a retry and on its own GET too."""
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    second = _second(api, first)
    day = _day(first)
    joined = second["joined_follow_ups"]
    assert [(f["kind"], f["due_on"]) for f in joined if f["kind"] == "scheduled"] == [
        ("scheduled", (day + timedelta(days=d)).isoformat()) for d in CHEMICAL
    ]
    assert {f["control_operation_id"] for f in joined} == {first["id"]}
    assert [f["id"] for f in joined] == [f["id"] for f in first["follow_ups"]]  # the spring check too
    assert set(joined[0]) == set(first["follow_ups"][0])  # the same shape as its own
    assert first["joined_follow_ups"] == []

    body = {k: v for k, v in second.items() if k in _SENT}
    retry = api.post("/api/v1/control-operations", json=body)
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["joined_follow_ups"] == joined
    assert api.get(f"/api/v1/control-operations/{second['id']}").get_json()["joined_follow_ups"] == joined
    # The list does not ask for them row by row.
    listed = api.get("/api/v1/control-operations").get_json()["items"]
    assert all("joined_follow_ups" not in item for item in listed)


def test_a_re_inspection_cancelled_since_is_no_longer_listed_as_joined(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    second = _second(api, first, "hand_collection")
    day = _day(first)
    joined = [f for f in second["joined_follow_ups"] if f["kind"] == "scheduled"]
    assert [f["due_on"] for f in joined] == [(day + timedelta(days=7)).isoformat()]  # +14 is its own
    plus_seven = db.session.get(FollowUp, joined[0]["id"])
    assert plus_seven is not None
    plus_seven.status = FollowUpStatus.CANCELLED
    plus_seven.cancelled_reason = "rain"
    db.session.commit()
    again = api.get(f"/api/v1/control-operations/{second['id']}").get_json()
    assert [f for f in again["joined_follow_ups"] if f["kind"] == "scheduled"] == []


_SENT = {"client_uuid", "site_id", "method", "performed_at", "area_m2", "details", "team"}


def test_another_method_on_the_same_day_adds_only_its_other_days(api_as: Any, treat: Any) -> None:
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    second = _second(api, first, "hand_collection")
    day = _day(first)
    scheduled = [f for f in _site_follow_ups(first["site_id"]) if f.kind == FollowUpKind.SCHEDULED]
    expected = sorted({day + timedelta(days=d) for d in CHEMICAL + HAND})  # +7 is due once
    assert sorted(f.due_on for f in scheduled) == expected
    assert [f["due_on"] for f in second["follow_ups"] if f["kind"] == "scheduled"] == [
        (day + timedelta(days=14)).isoformat()
    ]


def test_a_re_inspection_done_or_cancelled_is_not_joined(api_as: Any, treat: Any) -> None:
    """Only a pending one is joined: one cancelled for the first operation is scheduled again for the
    second (it asks for it anew)."""
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    day = _day(first)
    plus_one = next(f for f in _site_follow_ups(first["site_id"]) if f.due_on == day + timedelta(days=1))
    plus_one.status = FollowUpStatus.CANCELLED
    plus_one.cancelled_reason = "rain"
    db.session.commit()
    second = _second(api, first)
    assert [f["due_on"] for f in second["follow_ups"] if f["kind"] == "scheduled"] == [
        (day + timedelta(days=1)).isoformat()
    ]


def _export(bureau: str, date_from: date, date_to: date) -> dict[str, list[dict[str, Any]]]:
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau=bureau,
        kind=ExportKind.CENSUS,
        date_from=date_from,
        date_to=date_to,
        filters={"statuses": ["verified", "submitted"]},
        generated_by="review",
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    tables = {}
    for ws in book.worksheets:
        rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
        if rows:
            tables[ws.title] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] != "合计"]
    return tables


def test_duplicates_scheduled_by_earlier_versions_are_counted_once(api_as: Any, treat: Any) -> None:
    """Re-inspections scheduled twice before scheduling joined pending ones (rows as earlier versions
    left them) count once in 应复查, 已复查 and 逾期未复查, on 乡镇汇总 and 复查汇总 alike."""
    api = api_as("surveyor", "agriculture")
    first, _ = treat(api, days_ago=10.5)
    day = _day(first)
    originals = [f for f in _site_follow_ups(first["site_id"]) if f.kind == FollowUpKind.SCHEDULED]
    assert len(originals) == len(CHEMICAL)
    # Earlier versions: the second operation's full set, as a copy of each.
    for f in originals:
        db.session.add(
            FollowUp(
                site_id=f.site_id,
                control_operation_id=f.control_operation_id,
                organization_id=f.organization_id,
                kind=f.kind,
                offset_days=f.offset_days,
                due_on=f.due_on,
                assignee_id=f.assignee_id,
            )
        )
    # One copy of +1 done (its twin still pending), one of +3 cancelled (its twin pending).
    done = next(f for f in originals if f.offset_days == 1)
    done.status = FollowUpStatus.DONE
    cancelled = next(f for f in originals if f.offset_days == 3)
    cancelled.status = FollowUpStatus.CANCELLED
    cancelled.cancelled_reason = "rain"
    db.session.commit()
    assert len([f for f in _site_follow_ups(first["site_id"]) if f.kind == FollowUpKind.SCHEDULED]) == 10

    # The period holds the scheduled days, not the next spring's check.
    date_from, date_to = day, day + timedelta(days=max(CHEMICAL))
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    due_days = [day + timedelta(days=d) for d in CHEMICAL]
    expected_due = len(due_days)  # five days, each once, none of them cancelled on both copies
    expected_done = 1  # +1
    expected_overdue = len([d for d in due_days if d < today and d != day + timedelta(days=1)])
    assert expected_overdue == 2  # +3 and +7 (10.5 days ago); +15 and +30 are still to come

    book = _export("agriculture", date_from, date_to)
    township = book["乡镇汇总"]
    assert sum(r["应复查"] or 0 for r in township) == expected_due
    assert sum(r["已复查"] or 0 for r in township) == expected_done
    assert sum(r["逾期未复查"] or 0 for r in township) == expected_overdue
    summary = book["复查汇总"]
    assert sum(r["应复查"] or 0 for r in summary) == expected_due
    assert sum(r["已完成"] or 0 for r in summary) == expected_done
    assert sum(r["待复查"] or 0 for r in summary) == expected_due - expected_done
    assert sum(r["逾期"] or 0 for r in summary) == expected_overdue
    assert sum(r["已取消"] or 0 for r in summary) == 0  # +3 is still due on its twin
