"""The record pages: my records, one record with its review history, editing, and the review queue."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, url_for

from app.extensions import db
from app.notifications.models import Notification
from app.observations.models import Observation
from tests.conftest import PADDY

# Pages built by others in the same change; until they exist, links to them get a stand-in URL.
OTHERS_ENDPOINTS = {"sites.detail", "control.new_operation", "control.follow_ups", "control.follow_up"}


@pytest.fixture(autouse=True)
def others_pages(app: Flask) -> Iterator[None]:
    def stand_in(error: Exception, endpoint: str, values: dict[str, Any]) -> str:
        if endpoint in OTHERS_ENDPOINTS:
            return f"/_stand_in/{endpoint}?" + "&".join(f"{k}={v}" for k, v in sorted(values.items()))
        raise error

    app.url_build_error_handlers.append(stand_in)
    yield
    app.url_build_error_handlers.remove(stand_in)


def _stored(observation_id: int) -> Observation:
    db.session.expire_all()
    observation = db.session.get(Observation, observation_id)
    assert observation is not None
    return observation


def _flashes(web: Any) -> str:
    """The flashed messages the next page shows."""
    html = web.get("/observations").get_data(as_text=True)
    return " ".join(re.findall(r'<p class="flash[^"]*" role="status">([^<]*)</p>', html))


def _review(web: Any, observation_id: int, decision: str, comment: str = "") -> Any:
    return web.post(
        f"/observations/{observation_id}/review",
        data={"decision": decision, "comment": comment, "next": "/review"},
    )


# ---------------------------------------------------------------------------------------------
# Review queue: who sees what, who may decide


@pytest.mark.parametrize(
    ("role", "status"),
    [("surveyor", 403), ("supervisor", 403), ("bureau_admin", 403), ("verifier", 200), ("admin", 200)],
)
def test_only_verifiers_and_admins_open_the_review_queue(web_as: Any, role: str, status: int) -> None:
    assert web_as(role).get("/review").status_code == status


def test_queue_holds_own_organizations_submitted_records_oldest_first(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    surveyor = api_as("surveyor", "forestry")
    first = make_observation(surveyor, observed_at="2026-05-04T09:00:00+08:00")
    second = make_observation(surveyor, observed_at="2026-05-01T09:00:00+08:00", latitude=PADDY[0] + 0.01)
    verified = make_observation(surveyor, latitude=PADDY[0] + 0.02)
    forestry_verifier = web_as("verifier", "forestry")
    assert _review(forestry_verifier, verified["id"], "verified").status_code == 302

    page = forestry_verifier.get("/review").get_data(as_text=True)
    links = re.findall(r'href="/observations/(\d+)"', page)
    assert links == [str(first["id"]), str(second["id"])]  # sent first, shown first; verified gone
    assert f'action="/observations/{first["id"]}/review"' in page

    agriculture_page = web_as("verifier", "agriculture").get("/review").get_data(as_text=True)
    assert f"/observations/{first['id']}" not in agriculture_page
    admin_page = web_as("admin", "agriculture").get("/review").get_data(as_text=True)
    assert f"/observations/{first['id']}" in admin_page


def test_other_organizations_verifier_cannot_review(api_as: Any, make_observation: Any, web_as: Any) -> None:
    record = make_observation(api_as("surveyor", "forestry"))
    agriculture = web_as("verifier", "agriculture")
    response = _review(agriculture, record["id"], "verified")
    assert response.status_code == 302
    assert response.headers["Location"] == "/review"
    assert _stored(record["id"]).status.value == "submitted"
    assert "记录由其所属单位或其上级局的审核员审核" in _flashes(agriculture)


def test_nobody_reviews_their_own_record(api_as: Any, make_observation: Any, web_as: Any) -> None:
    verifier_api = api_as("verifier", "forestry")
    record = make_observation(verifier_api)
    web = web_as(verifier_api.user)
    page = web.get("/review").get_data(as_text=True)
    assert f"/observations/{record['id']}" in page  # listed, but without a form
    assert f'action="/observations/{record["id"]}/review"' not in page
    _review(web, record["id"], "verified")
    assert _stored(record["id"]).status.value == "submitted"
    assert _stored(record["id"]).reviewed_by_id is None


def test_surveyor_posting_a_review_changes_nothing(api_as: Any, make_observation: Any, web_as: Any) -> None:
    record = make_observation(api_as("surveyor"))
    _review(web_as("surveyor"), record["id"], "verified")
    assert _stored(record["id"]).status.value == "submitted"


def test_verifier_returns_and_the_surveyor_sees_why(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    verifier = web_as("verifier", display_name="王审核")
    response = _review(verifier, record["id"], "returned", "  请补拍卵块的近照  ")
    assert response.status_code == 302
    stored = _stored(record["id"])
    assert stored.status.value == "returned"
    assert stored.review_comment == "请补拍卵块的近照"
    assert stored.reviewed_by_id == verifier.user.id

    surveyor = web_as(surveyor_api.user)
    page = surveyor.get(f"/observations/{record['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'class="badge returned"' in html
    assert "请补拍卵块的近照" in html
    assert "王审核" in html  # the history names who returned it
    assert f'href="/observations/{record["id"]}/edit"' in html
    notification = db.session.scalar(sa.select(Notification).where(Notification.user_id == surveyor.user.id))
    assert notification is not None
    assert notification.data["observation_id"] == record["id"]


def test_return_without_comment_is_refused(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    verifier = web_as("verifier")
    for decision in ("returned", "rejected"):
        response = _review(verifier, record["id"], decision, "   ")
        assert response.status_code == 302
        assert response.headers["Location"] == "/review"
        assert "审核意见" in _flashes(verifier)  # the field by its label, not its key
    stored = _stored(record["id"])
    assert stored.status.value == "submitted"
    assert stored.review_comment is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_unknown_decision_is_refused(api_as: Any, make_observation: Any, web_as: Any) -> None:
    record = make_observation(api_as("surveyor"))
    verifier = web_as("verifier")
    assert _review(verifier, record["id"], "submitted", "ok").status_code == 302
    assert _review(verifier, record["id"], "", "ok").status_code == 302
    assert _stored(record["id"]).status.value == "submitted"


def test_review_goes_back_only_to_a_page_of_this_site(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    record = make_observation(api_as("surveyor"))
    verifier = web_as("verifier")
    response = verifier.post(
        f"/observations/{record['id']}/review",
        data={"decision": "verified", "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == "/review"
    assert _stored(record["id"]).status.value == "verified"


def test_verifier_reviews_from_the_record_page(api_as: Any, make_observation: Any, web_as: Any) -> None:
    record = make_observation(api_as("surveyor"))
    verifier = web_as("verifier")
    page = verifier.get(f"/observations/{record['id']}").get_data(as_text=True)
    assert f'action="/observations/{record["id"]}/review"' in page
    response = verifier.post(
        f"/observations/{record['id']}/review",
        data={
            "decision": "rejected",
            "comment": "不是福寿螺，是田螺",
            "next": f"/observations/{record['id']}",
        },
    )
    assert response.headers["Location"] == f"/observations/{record['id']}"
    html = verifier.get(f"/observations/{record['id']}").get_data(as_text=True)
    assert 'class="badge rejected"' in html
    assert "不是福寿螺，是田螺" in html
    assert f'action="/observations/{record["id"]}/review"' not in html  # decided: no form any more


# ---------------------------------------------------------------------------------------------
# Editing a record awaiting review


def test_owner_edits_a_returned_record_and_it_is_submitted_again(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    _review(web_as("verifier"), record["id"], "returned", "密度偏低，请复核")
    surveyor = web_as(surveyor_api.user)

    form = surveyor.get(f"/observations/{record['id']}/edit?quick=1")  # the form without JavaScript
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert re.search(r'name="density_per_m2"\s+value="12"', html)
    assert re.search(r'name="area_mu"\s+value="2.0001"', html)  # 1333.4 m² shown in 亩
    assert 'name="cover_pct"' not in html  # 福寿螺 records no cover

    response = surveyor.post(
        f"/observations/{record['id']}/edit",
        data={
            "detected": "1",
            "area_mu": "2.0001",  # untouched
            "density_per_m2": "30",
            "egg_masses_per_m2": "3",
            "severity": "",
            "place_name": "老屋基田",
            "habitat": "paddy",
            "notes": "复核后重新计数",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/observations/{record['id']}"
    stored = _stored(record["id"])
    assert stored.status.value == "submitted"
    assert stored.density_per_m2 == 30
    assert stored.area_m2 == 1333.4  # the rounded 亩 shown did not overwrite the stored area
    assert stored.place_name == "老屋基田"
    assert stored.notes == "复核后重新计数"

    history = surveyor.get(f"/observations/{record['id']}").get_data(as_text=True)
    assert "密度偏低，请复核" in history  # the earlier comment stays in the history
    assert 'class="badge submitted"' in history


def test_area_in_mu_is_stored_in_square_metres(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    response = web_as(surveyor_api.user).post(f"/observations/{record['id']}/edit", data={"area_mu": "3"})
    assert response.status_code == 302
    assert _stored(record["id"]).area_m2 == pytest.approx(2000)


def test_only_the_owner_edits(api_as: Any, make_observation: Any, web_as: Any) -> None:
    record = make_observation(api_as("surveyor"))
    colleague = web_as("surveyor")
    assert colleague.get(f"/observations/{record['id']}/edit").status_code == 403
    response = colleague.post(f"/observations/{record['id']}/edit", data={"notes": "不是我的记录"})
    assert response.status_code == 403
    assert _stored(record["id"]).notes is None
    page = colleague.get(f"/observations/{record['id']}").get_data(as_text=True)
    assert f"/observations/{record['id']}/edit" not in page


def test_reviewed_record_is_no_longer_editable(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    _review(web_as("verifier"), record["id"], "verified")
    surveyor = web_as(surveyor_api.user)
    response = surveyor.post(f"/observations/{record['id']}/edit", data={"notes": "晚了"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/observations/{record['id']}"
    assert _stored(record["id"]).notes is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("cover_pct", "150"), ("cover_pct", "abc"), ("cover_pct", "nan"), ("count", "2.5"), ("severity", "9")],
)
def test_invalid_edit_value_names_the_field_and_writes_nothing(
    api_as: Any, make_observation: Any, web_as: Any, species_id: Any, field: str, value: str
) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(
        surveyor_api,
        species_id=species_id("alternanthera-philoxeroides"),
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
    )
    before = _stored(record["id"])
    cover, severity = before.cover_pct, before.severity
    response = web_as(surveyor_api.user).post(f"/observations/{record['id']}/edit", data={field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    # The input is marked and its message sits right under it.
    after_input = r"[^>]*>(\s*<option[^<]*</option>)*\s*(</select>)?\s*"
    assert re.search(rf'name="{field}"[^>]*class="invalid"{after_input}<p class="field-errors">', html)
    after = _stored(record["id"])
    assert (after.cover_pct, after.severity, after.count) == (cover, severity, None)


def test_service_rules_show_next_to_the_form(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    # An absence record cannot keep the density, egg masses and area it carries.
    response = web_as(surveyor_api.user).post(f"/observations/{record['id']}/edit", data={"detected": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'name="density_per_m2"[^>]*class="invalid"', html)
    assert _stored(record["id"]).detected is True


# ---------------------------------------------------------------------------------------------
# One record


def _url(app: Flask, endpoint: str, **values: Any) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def test_record_page_shows_every_fact(app: Flask, api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api, place_name="双桂湖东岸", notes="田埂上有卵块", accuracy_m=45)
    page = web_as("supervisor", "agriculture").get(f"/observations/{record['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200  # any signed-in user reads any record
    for text in (
        "福寿螺",
        "Pomacea canaliculata",
        f"{PADDY[0]:.6f}, {PADDY[1]:.6f}",
        "± 45 m",
        "双桂湖东岸",
        "田埂上有卵块",
        "2.00",  # 1333.4 m² in 亩
        surveyor_api.user.display_name,
        "梁平区林业局",
    ):
        assert text in html, text
    assert f'href="{_url(app, "sites.detail", site_id=record["site_id"])}"' in html
    operation = _url(app, "control.new_operation", observation_id=record["id"])
    assert f'href="{operation}"' in html
    assert "30 米" in html  # the low-accuracy flag explained with its limit


def test_absence_record_offers_no_control_operation(
    app: Flask, api_as: Any, make_observation: Any, web_as: Any
) -> None:
    record = make_observation(
        api_as("surveyor"), detected=False, density_per_m2=None, egg_masses_per_m2=None, area_m2=None
    )
    html = web_as("surveyor").get(f"/observations/{record['id']}").get_data(as_text=True)
    assert _url(app, "control.new_operation", observation_id=record["id"]) not in html


def test_unknown_record_is_404(web_as: Any) -> None:
    assert web_as("surveyor").get("/observations/999999").status_code == 404


def test_photos_show_as_thumbnails_linking_to_display_size(
    api_as: Any, make_observation: Any, web_as: Any, storage_dir: Path
) -> None:
    from tests.photos.images import photo

    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    buffer = io.BytesIO()
    photo().save(buffer, format="JPEG")
    upload = surveyor_api.post(
        f"/api/v1/observations/{record['id']}/photos",
        data={"file": (io.BytesIO(buffer.getvalue()), "IMG_0001.jpg")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201
    photo_json = upload.get_json()
    web = web_as("verifier")
    for path in ("/review", f"/observations/{record['id']}"):
        html = web.get(path).get_data(as_text=True)
        assert f'<a href="{photo_json["display_url"]}">' in html
        assert f'src="{photo_json["thumb_url"]}"' in html
    thumb = web.get(photo_json["thumb_url"])
    try:
        assert thumb.status_code == 200
        assert thumb.mimetype == "image/jpeg"
    finally:
        thumb.close()


# ---------------------------------------------------------------------------------------------
# My records and the district's


@pytest.fixture
def records(api_as: Any, make_observation: Any, species_id: Any) -> dict[str, Any]:
    mine = api_as("surveyor", "forestry")
    other = api_as("surveyor", "agriculture")
    lat, lon = PADDY
    snail = make_observation(mine, observed_at="2026-05-04T09:00:00+08:00")
    weed = make_observation(
        mine,
        species_id=species_id("alternanthera-philoxeroides"),
        observed_at="2026-05-05T09:00:00+08:00",
        latitude=lat + 0.05,
        longitude=lon + 0.05,
        township_code="500155002",
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=35,
    )
    theirs = make_observation(other, latitude=lat + 0.02, observed_at="2026-05-06T09:00:00+08:00")
    return {"mine": mine, "snail": snail, "weed": weed, "theirs": theirs}


def _listed(response: Any) -> list[int]:
    return [int(i) for i in re.findall(r'href="/observations/(\d+)"', response.get_data(as_text=True))]


def test_my_records_newest_first(records: dict[str, Any], web_as: Any) -> None:
    web = web_as(records["mine"].user)
    assert _listed(web.get("/observations")) == [records["weed"]["id"], records["snail"]["id"]]
    # A surveyor's "whole district" is not offered; asking for it still shows their own.
    assert _listed(web.get("/observations?scope=all")) == [records["weed"]["id"], records["snail"]["id"]]


def test_records_filters(records: dict[str, Any], web_as: Any, species_id: Any) -> None:
    web = web_as(records["mine"].user)
    snail, weed = records["snail"]["id"], records["weed"]["id"]
    assert _listed(web.get(f"/observations?species_id={species_id('pomacea-canaliculata')}")) == [snail]
    assert _listed(web.get("/observations?township_code=500155002")) == [weed]
    assert _listed(web.get("/observations?status=verified")) == []
    assert _listed(web.get("/observations?status=submitted")) == [weed, snail]


def test_desk_roles_see_the_whole_district(records: dict[str, Any], web_as: Any) -> None:
    web = web_as("supervisor", "forestry")
    assert _listed(web.get("/observations")) == []
    everyone = _listed(web.get("/observations?scope=all"))
    assert everyone == [records["theirs"]["id"], records["weed"]["id"], records["snail"]["id"]]
    township = _listed(web.get("/observations?scope=all&township_code=500155001"))
    assert township == [records["theirs"]["id"], records["snail"]["id"]]


@pytest.mark.parametrize(
    "query", ["status=lost", "species_id=abc", "species_id=²", "species_id=0", "township_code=nowhere"]
)
def test_bad_filters_are_named(records: dict[str, Any], web_as: Any, query: str) -> None:
    response = web_as(records["mine"].user).get(f"/observations?{query}")
    assert response.status_code == 422
    assert 'class="field-errors"' in response.get_data(as_text=True)


def test_records_are_paginated(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor = api_as("surveyor")
    for i in range(26):
        make_observation(surveyor, latitude=PADDY[0] + 0.001 * i)
    web = web_as(surveyor.user)
    first = web.get("/observations")
    assert len(_listed(first)) == 25
    assert 'href="/observations?page=2"' in first.get_data(as_text=True)
    assert len(_listed(web.get("/observations?page=2"))) == 1


def test_the_pager_keeps_the_filters_the_page_accepted(
    api_as: Any, make_observation: Any, web_as: Any
) -> None:
    surveyor = api_as("surveyor")
    for i in range(26):
        make_observation(surveyor, latitude=PADDY[0] + 0.001 * i)
    first = web_as(surveyor.user).get("/observations?status=submitted&junk=%3Cb%3E&page=1")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert re.findall(r'rel="next" href="([^"]*)"', html) == ["/observations?status=submitted&amp;page=2"]


@pytest.mark.parametrize("page", ["0", "abc", "-1", "1000001"])
@pytest.mark.parametrize("path", ["/observations", "/review"])
def test_a_bad_page_number_is_a_422_naming_it(web_as: Any, path: str, page: str) -> None:
    response = web_as("verifier", locale="zh").get(f"{path}?page={page}")
    assert response.status_code == 422
    assert "页码" in response.get_data(as_text=True)


def test_records_list_query_count_does_not_grow(
    api_as: Any, make_observation: Any, web_as: Any, count_queries: Any
) -> None:
    surveyor = api_as("surveyor")
    web = web_as(surveyor.user)
    make_observation(surveyor)
    web.get("/observations")  # warm-up (first request of a client)
    with count_queries() as one:
        assert len(_listed(web.get("/observations"))) == 1
    for i in range(1, 12):
        make_observation(surveyor, latitude=PADDY[0] + 0.001 * i)
    with count_queries() as twelve:
        assert len(_listed(web.get("/observations"))) == 12
    assert len(twelve) == len(one)


def test_a_returned_record_opens_in_the_full_form_and_resubmitting_tells_the_verifier(
    api_as: Any, make_observation: Any, web_as: Any, make_user: Any
) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api, area_m2=1333.4)
    verifier = make_user("verifier", "forestry", locale="en")
    _review(web_as(verifier), record["id"], "returned", "请补拍卵块近照")
    surveyor = web_as(surveyor_api.user)

    page = surveyor.get(f"/observations/{record['id']}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-kind="edit"' in html and f'data-url="/api/v1/observations/{record["id"]}"' in html
    assert "data-species-search" in html and "data-photos" in html and "data-position-map" in html
    stored = re.search(r'<script type="application/json" id="ias-record">(.*?)</script>', html)
    assert stored is not None
    values = json.loads(stored.group(1))
    assert values["density_per_m2"] == 12 and values["area_m2"] == 1333.4
    assert (values["latitude"], values["longitude"]) == (record["latitude"], record["longitude"])
    assert "请补拍卵块近照" in html

    # The home page lists it, so its form is saved for offline use.
    assert f'href="/observations/{record["id"]}/edit"' in surveyor.get("/").get_data(as_text=True)

    # Sent back (as the outbox sends it: PATCH with the changes): the verifier is told once, in English.
    for _attempt in range(2):  # a retry after a lost answer
        response = surveyor.client.patch(
            f"/api/v1/observations/{record['id']}",
            json={"density_per_m2": 15},
            headers={"X-CSRFToken": surveyor.csrf},
        )
        assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    notices = db.session.scalars(
        sa.select(Notification).where(
            Notification.user_id == verifier.id, Notification.kind == "observation_resubmitted"
        )
    ).all()
    assert len(notices) == 1
    assert notices[0].subject.startswith("[Resubmitted]")
    assert str(record["id"]) in notices[0].body


def test_a_review_sent_twice_is_applied_once(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor_api = api_as("surveyor")
    record = make_observation(surveyor_api)
    verifier = web_as("verifier")
    page = verifier.get("/review").get_data(as_text=True)
    form_id = re.search(
        rf'action="/observations/{record["id"]}/review".*?name="client_uuid" value="([0-9a-f-]{{36}})"',
        page,
        re.S,
    )
    assert form_id is not None
    data = {"decision": "returned", "comment": "请补拍", "next": "/review", "client_uuid": form_id.group(1)}
    first = verifier.post(f"/observations/{record['id']}/review", data=data)
    second = verifier.post(f"/observations/{record['id']}/review", data=data)  # a second tap
    assert first.status_code == second.status_code == 302
    flashes = verifier.get("/review").get_data(as_text=True)
    assert "不在待审核中" not in flashes and "not awaiting review" not in flashes
    db.session.expire_all()
    notices = db.session.scalars(
        sa.select(Notification).where(
            Notification.user_id == surveyor_api.user.id, Notification.kind == "observation_returned"
        )
    ).all()
    assert len(notices) == 1

    # Another review (another form) of the same record is refused: it is no longer awaiting review.
    other = dict(data, client_uuid="2f0c7c8e-8f39-4b6e-9b7a-0d5c8f1e2a33", decision="verified")
    api = verifier.client.post(
        f"/api/v1/observations/{record['id']}/review",
        json={k: other[k] for k in ("decision", "client_uuid")},
        headers={"X-CSRFToken": verifier.csrf},
    )
    assert api.status_code == 409
    again = verifier.client.post(
        f"/api/v1/observations/{record['id']}/review",
        json={k: data[k] for k in ("decision", "comment", "client_uuid")},
        headers={"X-CSRFToken": verifier.csrf},
    )
    assert again.status_code == 200 and again.get_json()["status"] == "returned"
