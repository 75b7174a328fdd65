"""Pages read their input through marshmallow schemas and webargs (app/pages.py), like the API: a bad
value is refused with a message naming the field in the reader's language (Chinese by default), and
nothing changes (issue 16 point 5). One test per form that used to read request.form / request.args by
hand: the home search, the language form, sign-in's `next`, the control form's ids, the review form, the
record edit form and the species admin forms."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.species.models import ListMembership, Species, SpeciesList
from tests.accounts.test_sign_in import csrf_token, sign_in
from tests.factories import PASSWORD

EVIL = "https://evil.example/x"


def flashes(web: Any) -> list[tuple[str, str]]:
    with web.client.session_transaction() as session:
        return list(session.get("_flashes", []))


def errors_flashed(web: Any) -> str:
    return " ".join(message for category, message in flashes(web) if category == "error")


# ---------------------------------------------------------------------------------------------
# Home search, language, sign-in


def test_a_search_longer_than_100_characters_is_refused_naming_it(web_as: Any) -> None:
    web = web_as("surveyor")
    response = web.get("/?q=" + quote("福" * 101))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "查询物种: 最多输入 100 个字" in html
    assert 'aria-invalid="true"' in html
    ok = web.get("/?q=" + quote("  福寿螺  "))  # spaces around are not part of it
    assert ok.status_code == 200 and "Pomacea canaliculata" in ok.get_data(as_text=True)


def test_an_unknown_language_is_refused_and_nothing_changes(web_as: Any) -> None:
    web = web_as("surveyor")
    response = web.post("/language", data={"lang": "fr", "next": "/observations"})
    assert response.status_code == 302 and response.headers["Location"] == "/observations"
    assert "语言" in errors_flashed(web) and "请选择中文 (zh) 或 English (en)" in errors_flashed(web)
    assert web.user.locale != "fr"
    assert 'lang="zh-CN"' in web.get("/").get_data(as_text=True)


def test_a_language_form_naming_another_site_goes_home_and_says_why(web_as: Any) -> None:
    web = web_as("surveyor")
    response = web.post("/language", data={"lang": "en", "next": EVIL})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "返回的页面" in errors_flashed(web)  # said in the language the form was sent from
    assert 'lang="en"' in web.get("/").get_data(as_text=True)  # the choice itself was fine


def test_sign_in_names_a_next_page_on_another_site(client: Any, make_user: Any) -> None:
    make_user(username="nextcheck")
    page = client.get("/sign-in?next=" + quote(EVIL))
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "data-next-error" in html and "返回的页面" in html
    csrf_token(html)  # the form is still there: signing in works, and goes home
    response = sign_in(client, "nextcheck", PASSWORD, next_url=quote(EVIL))
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_sign_in_goes_to_a_next_page_of_this_site(client: Any, make_user: Any) -> None:
    make_user(username="nextgood")
    assert client.get("/sign-in?next=/observations").status_code == 200
    response = sign_in(client, "nextgood", PASSWORD, next_url="/observations")
    assert response.status_code == 302 and response.headers["Location"] == "/observations"


def test_sign_in_reads_signed_out_through_its_schema(client: Any) -> None:
    # The page always has the phone forget the last person's pages
    # (tests/browser/test_security_shared_phone.py); signed_out is still checked like any page input.
    script = "js/signed-out.js"
    assert script in client.get("/sign-in?signed_out=1").get_data(as_text=True)
    assert script in client.get("/sign-in").get_data(as_text=True)
    bad = client.get("/sign-in?signed_out=maybe")
    assert bad.status_code == 422
    assert "退出登录" in bad.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Control form, review form, record edit form


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("observation_id=abc", "observation_id"),
        ("observation_id=0", "observation_id"),
        ("site_id=-3", "site_id"),
        ("site_id=99999999999999", "site_id"),
        ("site_id=1.5", "site_id"),
    ],
)
def test_the_control_form_refuses_a_bad_id_naming_it(web_as: Any, query: str, field: str) -> None:
    response = web_as("surveyor").get(f"/control-operations/new?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"{field} 必须是正整数" in html


def _record(api_as: Any, make_observation: Any) -> tuple[Any, dict[str, Any]]:
    surveyor = api_as("surveyor")
    return surveyor, make_observation(surveyor)


def test_a_review_with_an_unknown_decision_is_refused(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    _api, record = _record(api_as, make_observation)
    web = web_as("verifier")
    response = web.post(f"/observations/{record['id']}/review", data={"decision": "approved"})
    assert response.status_code == 302
    assert "请选择审核通过、退回修改或驳回。" in errors_flashed(web)
    assert db.session.get(Observation, record["id"]).status == ReviewStatus.SUBMITTED


def test_a_review_going_back_to_another_site_goes_to_the_queue_and_says_why(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    _api, record = _record(api_as, make_observation)
    web = web_as("verifier")
    response = web.post(f"/observations/{record['id']}/review", data={"decision": "verified", "next": EVIL})
    assert response.status_code == 302 and response.headers["Location"] == "/review"
    assert "返回的页面" in errors_flashed(web)
    db.session.expire_all()
    assert db.session.get(Observation, record["id"]).status == ReviewStatus.VERIFIED


def test_the_edit_form_refuses_a_bad_quick_and_an_overlong_note(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    _api, record = _record(api_as, make_observation)
    web = web_as(_surveyor_of(record))
    url = f"/observations/{record['id']}/edit"
    assert web.get(url + "?quick=maybe").status_code == 422
    assert web.get(url + "?quick=1").status_code == 200
    response = web.post(url, data={"notes": "长" * 10_001, "place_name": ""})
    assert response.status_code == 422
    assert "最多输入 10000 个字" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Observation, record["id"]).notes is None


def test_the_edit_form_still_clears_a_value_left_blank(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    _api, record = _record(api_as, make_observation)
    web = web_as(_surveyor_of(record))
    response = web.post(f"/observations/{record['id']}/edit", data={"egg_masses_per_m2": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Observation, record["id"]).egg_masses_per_m2 is None


def _surveyor_of(record: dict[str, Any]) -> Any:
    observation = db.session.get(Observation, record["id"])
    assert observation is not None
    return observation.surveyor


# ---------------------------------------------------------------------------------------------
# Species admin forms


@pytest.fixture
def agri(web_as: Any) -> Any:
    web = web_as("bureau_admin", "agriculture")
    response = web.post(
        "/admin/species-lists", data={"code": "lp-agri", "name": "农业普查清单", "bureau": "agriculture"}
    )
    assert response.status_code == 302
    return web


def _members(code: str) -> int:
    return len(
        db.session.scalars(sa.select(ListMembership).join(SpeciesList).where(SpeciesList.code == code)).all()
    )


@pytest.mark.parametrize("field", ["added_on"])
def test_adding_a_member_with_a_bad_day_is_refused_naming_it(agri: Any, field: str) -> None:
    response = agri.post("/admin/species-lists/lp-agri/members", data={"name": "福寿螺", field: "2025-13-01"})
    assert response.status_code == 302
    message = errors_flashed(agri)
    assert "列入日期" in message and "2024-05-01" in message
    assert _members("lp-agri") == 0


def test_removing_a_member_with_a_bad_day_is_refused(agri: Any) -> None:
    agri.post("/admin/species-lists/lp-agri/members", data={"name": "福寿螺"})
    membership = db.session.scalars(
        sa.select(ListMembership).join(SpeciesList).where(SpeciesList.code == "lp-agri")
    ).one()
    flashes(agri)  # read (and keep) the earlier ones; the next check looks at the newest
    response = agri.post(
        f"/admin/species-lists/lp-agri/members/{membership.id}/remove", data={"removed_on": "tomorrow"}
    )
    assert response.status_code == 302
    assert "移出日期" in errors_flashed(agri)
    db.session.expire_all()
    assert db.session.get(ListMembership, membership.id).removed_on is None


def test_an_import_with_a_bad_apply_box_is_refused(agri: Any) -> None:
    data = {"apply": "maybe", "file": (io.BytesIO("名称\n福寿螺\n".encode()), "names.csv")}
    response = agri.client.post(
        "/admin/species-lists/lp-agri/import",
        data={**data, "csrf_token": agri.csrf},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "请勾选或留空" in response.get_data(as_text=True)
    assert _members("lp-agri") == 0


def test_a_new_species_without_its_names_is_refused_naming_them(web_as: Any) -> None:
    web = web_as("admin")
    one = web.post("/admin/species/new", data={"name_zh": "  ", "name_sci": "Pomacea nova", "like": "福寿螺"})
    assert one.status_code == 422
    assert "中文名" in one.get_data(as_text=True) and "此项必填" in one.get_data(as_text=True)
    both = web.post("/admin/species/new", data={"name_zh": "", "name_sci": "", "like": "福寿螺"})
    assert both.status_code == 422
    assert "中文名" in both.get_data(as_text=True) and "学名" in both.get_data(as_text=True)
    assert db.session.scalar(sa.select(Species).where(Species.name_sci == "Pomacea nova")) is None


def test_a_species_edit_with_a_reading_without_equals_is_refused(web_as: Any, species_id: Any) -> None:
    web = web_as("admin")
    url = f"/admin/species/{species_id('pomacea-canaliculata')}"
    response = web.post(url, data={"aliases": "金宝螺\n苹果螺", "pinyin": "福寿螺 fu shou luo"})
    assert response.status_code == 422
    species = db.session.get(Species, species_id("pomacea-canaliculata"))
    assert species is not None and "苹果螺" not in (species.local_aliases or [])


def test_a_follow_up_form_with_an_unknown_action_or_a_bad_day_is_refused(
    web_as: Any, api_as: Any, treat: Any
) -> None:
    operation, _baseline = treat(api_as("surveyor"))
    url = f"/follow-ups/{operation['follow_ups'][0]['id']}"
    supervisor = web_as("supervisor")
    unknown = supervisor.post(url, {"action": "explode"})
    assert unknown.status_code == 422
    garbled = supervisor.post(url, {"action": "reschedule", "due_on": "2025-02-30"})
    assert garbled.status_code == 422
    assert "YYYY-MM-DD" in garbled.get_data(as_text=True)
    nobody = supervisor.post(url, {"action": "reassign", "assignee_id": "someone"})
    assert nobody.status_code == 422
    assert "请选择复查人。" in nobody.get_data(as_text=True)
