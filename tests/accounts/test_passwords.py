"""Password rules (length, the most common ones, not the username) and the self-service change."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from tests.accounts.test_sessions import _signed_in
from tests.accounts.test_sign_in import csrf_token, sign_in
from tests.factories import PASSWORD

NEW = "tea-terraces-at-dawn-42"


def _create(api: Any, username: str, password: str) -> Any:
    return api.post(
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "display_name": "测试",
            "role": "surveyor",
            "organization": "forestry",
        },
    )


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "characters"),
        ("password", "characters"),
        ("abc-def-9", "characters"),  # 9
        ("1234567890", "common"),
        ("qwertyuiop", "common"),
        ("Password123", "common"),  # case does not help
        ("Manchester", "common"),
        ("li.xiaoming", "username"),
        ("LI.XIAOMING", "username"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(api_as: Any, password: str, why: str) -> None:
    response = _create(api_as("admin"), "li.xiaoming", password)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["password"]
    message = response.get_json()["errors"]["password"][0]
    assert {"characters": "10", "common": "常见", "username": "用户名"}[why] in message


def test_a_ten_character_uncommon_password_is_accepted(api_as: Any) -> None:
    assert _create(api_as("admin"), "li.xiaoming", "xq7-lotus!").status_code == 201


def test_an_admin_reset_follows_the_same_rules(api_as: Any, make_user: Any) -> None:
    user = make_user()
    response = api_as("admin").patch(f"/api/v1/users/{user.id}", json={"password": "1q2w3e4r5t"})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["password"]


def test_changing_ones_own_password_by_api_ends_the_other_sessions_and_tokens(
    app: Flask, make_user: Any, api_as: Any
) -> None:
    browser, user = _signed_in(app, make_user)
    other_token = api_as(user)
    me = api_as(user)
    wrong = me.post("/api/v1/me/password", json={"current_password": "not-it-at-all", "new_password": NEW})
    assert wrong.status_code == 422 and list(wrong.get_json()["errors"]) == ["current_password"]
    weak = me.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "qwertyuiop"})
    assert weak.status_code == 422 and list(weak.get_json()["errors"]) == ["new_password"]
    assert browser.get("/").status_code == 200  # refusals change nothing

    changed = me.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert changed.status_code == 204, changed.get_json()
    assert me.get("/api/v1/me").status_code == 200  # the one asking stays signed in
    assert other_token.get("/api/v1/me").status_code == 401
    assert browser.get("/").status_code == 302
    fresh = app.test_client()
    assert sign_in(fresh, user.username, PASSWORD).status_code == 401
    assert sign_in(fresh, user.username, NEW).status_code == 302


def test_guessing_the_current_password_is_throttled(api_as: Any, make_user: Any) -> None:
    me = api_as(make_user())
    answers = [
        me.post(
            "/api/v1/me/password", json={"current_password": f"guess-{i}", "new_password": NEW}
        ).status_code
        for i in range(7)
    ]
    assert answers == [422] * 5 + [429] * 2


def test_the_change_password_page_keeps_this_browser_and_signs_out_the_others(
    app: Flask, make_user: Any
) -> None:
    browser, user = _signed_in(app, make_user)
    phone = app.test_client()
    sign_in(phone, user.username, PASSWORD)
    assert phone.get("/").status_code == 200
    page = browser.get("/account/password")
    assert page.status_code == 200 and "修改密码" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    mismatch = browser.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW + "x", "csrf_token": token},
    )
    assert mismatch.status_code == 422
    done = browser.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW, "csrf_token": token},
    )
    assert done.status_code == 302
    assert browser.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    db.session.expire_all()


@pytest.mark.parametrize("role", ["admin", "bureau_admin"])
def test_ones_own_password_is_not_set_from_the_user_admin_without_the_current_one(
    app: Flask, make_user: Any, api_as: Any, role: str
) -> None:
    """Whoever holds an administrator's session or token (a phone left signed in, a copied token) must
    not take the account over by setting a new password without knowing the current one, unthrottled:
    one's own password is changed on the password page (or POST /api/v1/me/password) only."""
    browser, user = _signed_in(app, make_user, role)
    elsewhere = app.test_client()
    assert sign_in(elsewhere, user.username, PASSWORD).status_code == 302
    page = browser.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'name="password"' not in page and "/account/password" in page
    saved = browser.post(
        f"/admin/users/{user.id}",
        data={"display_name": "自己", "email": "", "password": NEW, "csrf_token": csrf_token(page)},
    )
    assert saved.status_code == 422 and "/account/password" in saved.get_data(as_text=True)
    me = api_as(user)
    patched = me.patch(f"/api/v1/users/{user.id}", json={"password": NEW})
    assert patched.status_code == 422 and list(patched.get_json()["errors"]) == ["password"]
    assert "/api/v1/me/password" in patched.get_json()["errors"]["password"][0]
    # Nothing changed, and nobody was signed out.
    assert browser.get("/").status_code == 200 and elsewhere.get("/").status_code == 200
    assert sign_in(app.test_client(), user.username, PASSWORD).status_code == 302
    # Their name and e-mail they still change there; another user's password too.
    renamed = browser.post(
        f"/admin/users/{user.id}",
        data={"display_name": "自己", "email": "", "csrf_token": csrf_token(page)},
    )
    assert renamed.status_code == 302
    colleague = make_user("surveyor")
    db.session.commit()
    assert me.patch(f"/api/v1/users/{colleague.id}", json={"password": NEW}).status_code == 200


def test_one_signs_out_everywhere_else_with_ones_password(app: Flask, make_user: Any, api_as: Any) -> None:
    """A phone lost in the field, a station computer left signed in: its owner sees where they are
    signed in and ends every other browser and token there, after typing their password again (so a
    session picked up on that phone cannot do it to its owner), throttled like a sign-in."""
    browser, user = _signed_in(app, make_user)
    lost_phone = app.test_client()
    assert sign_in(lost_phone, user.username, PASSWORD).status_code == 302
    token = api_as(user)
    page = browser.get("/account/sessions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('class="item"') == 3  # two browsers and the token
    assert "本浏览器" in html  # which one is this one
    wrong = browser.post(
        "/account/sessions", data={"current_password": "not-it-at-all", "csrf_token": csrf_token(html)}
    )
    assert wrong.status_code == 422 and 'data-error-for="current_password"' in wrong.get_data(as_text=True)
    assert lost_phone.get("/").status_code == 200 and token.get("/api/v1/me").status_code == 200
    done = browser.post(
        "/account/sessions", data={"current_password": PASSWORD, "csrf_token": csrf_token(html)}
    )
    assert done.status_code == 302
    assert lost_phone.get("/").status_code == 302
    assert token.get("/api/v1/me").status_code == 401
    after = browser.get("/account/sessions").get_data(as_text=True)
    assert after.count('class="item"') == 1 and "已退出其他 2 个" in after
    for _ in range(5):
        browser.post("/account/sessions", data={"current_password": "guess", "csrf_token": csrf_token(html)})
    throttled = browser.post(
        "/account/sessions", data={"current_password": PASSWORD, "csrf_token": csrf_token(html)}
    )
    assert throttled.status_code == 429
