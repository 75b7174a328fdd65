"""The accounts pages read their input through marshmallow schemas (app/pages.py, issue 16 point 5): a
blank, too long, unknown or wrongly typed value is answered 422 with the message beside its field, in
Chinese by default (English when chosen), and nothing changes."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts import throttle
from app.accounts.models import Role, User
from app.extensions import db
from tests.accounts.test_sign_in import csrf_token
from tests.factories import PASSWORD


def beside(html: str, field: str) -> list[str]:
    """The messages the page shows beside `field` (its input marked invalid)."""
    assert re.search(rf'<(input|select) id="{field}"[^>]* class="invalid" aria-invalid="true"', html), field
    found = re.search(
        rf'<ul class="field-errors" role="alert" data-error-for="{field}">(.*?)</ul>', html, re.S
    )
    assert found, f"no message beside {field}"
    return re.findall(r"<li>(.*?)</li>", found.group(1))


def _user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


# ---------------------------------------------------------------------------------------------
# Sign-in


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"username": "", "password": PASSWORD}, "username", "该字段是必填字段。"),
        ({"username": "   ", "password": PASSWORD}, "username", "该字段是必填字段。"),
        ({"username": "formcheck", "password": ""}, "password", "该字段是必填字段。"),
        ({"username": "f" * 81, "password": PASSWORD}, "username", "字段长度不能超过 80 个字符。"),
        ({"username": "formcheck", "password": "p" * 257}, "password", "字段长度不能超过 256 个字符。"),
    ],
)
def test_a_bad_sign_in_form_is_422_naming_the_field(
    client: Any, make_user: Any, form: dict[str, str], field: str, message: str
) -> None:
    make_user(username="formcheck")
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    response = client.post("/sign-in", data={**form, "csrf_token": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'class="invalid"' in html
    assert f'id="{field}"' in html
    assert client.get("/").status_code == 302  # still signed out
    if form["username"].strip():
        assert f'value="{form["username"]}"' in html  # the name typed is kept; the password never
    assert 'type="password" value' not in html


def test_a_good_sign_in_still_sets_the_known_browser_cookie(client: Any, make_user: Any) -> None:
    make_user(username="cookiecheck")
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"username": " CookieCheck ", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{throttle.KNOWN_CLIENT_COOKIE}=") and "HttpOnly" in c for c in cookies)


# ---------------------------------------------------------------------------------------------
# One's own password


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"current_password": "", "new_password": "x" * 12, "confirm": "x" * 12},
            "current_password",
            "This field is required.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "x" * 257, "confirm": "x" * 257},
            "new_password",
            "Field cannot be longer than 256 characters.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "x" * 12, "confirm": ""},
            "confirm",
            "This field is required.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "x" * 12, "confirm": "y" * 12},
            "confirm",
            "The two new passwords differ.",
        ),
    ],
)
def test_a_bad_password_form_is_422_naming_the_field(
    web_as: Any, form: dict[str, str], field: str, message: str
) -> None:
    web = web_as("surveyor")
    web.post("/language", data={"lang": "en", "next": "/"})
    before = web.user.password_hash
    response = web.post("/account/password", data=form)
    assert response.status_code == 422
    assert message in beside(response.get_data(as_text=True), field)
    db.session.expire_all()
    assert db.session.get(User, web.user.id).password_hash == before  # type: ignore[union-attr]


def test_the_password_page_speaks_chinese(web_as: Any) -> None:
    web = web_as("surveyor")
    response = web.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": "x" * 12, "confirm": "y"}
    )
    assert response.status_code == 422
    assert "两次输入的新密码不一致。" in beside(response.get_data(as_text=True), "confirm")


# ---------------------------------------------------------------------------------------------
# The admin's user forms


def new_user(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "formuser",
        "display_name": "表单用户",
        "password": "a-long-password",
        "role": "surveyor",
        "organization": "forestry",
        "email": "formuser@example.org",
    } | overrides


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "该字段是必填字段。"),
        ({"username": "u" * 81}, "username", "字段长度不能超过 80 个字符。"),
        ({"display_name": "名" * 121}, "display_name", "字段长度不能超过 120 个字符。"),
        ({"password": ""}, "password", "该字段是必填字段。"),
        ({"password": "p" * 257}, "password", "字段长度不能超过 256 个字符。"),
        ({"role": ""}, "role", "该字段是必填字段。"),
        ({"role": "overlord"}, "role", "不是有效的选择。"),
        ({"role": "admin"}, "role", "不是有效的选择。"),  # a bureau admin may not grant it
        ({"organization": "nowhere"}, "organization", "不是有效的选择。"),
        ({"email": "a@" + "b" * 250 + ".org"}, "email", "字段长度不能超过 254 个字符。"),
        ({"email": "no-at-sign"}, "email", "电子邮箱地址无效。"),
    ],
)
def test_a_bad_new_user_is_422_beside_the_field(
    web_as: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    web = web_as("bureau_admin", "forestry")
    response = web.post("/admin/users/new", data=new_user(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in beside(html, field)
    assert 'value="表单用户"' in html or field == "display_name"  # the form comes back as typed
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.display_name == "表单用户"))
        == 0
    )


def test_the_services_refusal_shows_beside_its_field(web_as: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    web.post("/language", data={"lang": "en", "next": "/"})
    response = web.post("/admin/users/new", data=new_user(password="short"))
    assert response.status_code == 422
    assert "Use at least 10 characters." in beside(response.get_data(as_text=True), "password")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"display_name": ""}, "display_name", "This field is required."),
        ({"display_name": "n" * 121}, "display_name", "Field cannot be longer than 120 characters."),
        ({"role": "overlord"}, "role", "Not a valid choice."),
        ({"role": ""}, "role", "This field is required."),
        ({"email": "nope"}, "email", "Not a valid e-mail address."),
        ({"password": "p" * 257}, "password", "Field cannot be longer than 256 characters."),
    ],
)
def test_a_bad_user_edit_is_422_beside_the_field(
    web_as: Any, make_user: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    target = make_user("surveyor", "forestry", display_name="原名")
    db.session.commit()
    web = web_as("bureau_admin", "forestry")
    web.post("/language", data={"lang": "en", "next": "/"})
    form = {"display_name": "新名", "email": "", "role": "verifier", "active": "y"} | changes
    response = web.post(f"/admin/users/{target.id}", data=form)
    assert response.status_code == 422
    assert message in beside(response.get_data(as_text=True), field)
    db.session.expire_all()
    user = db.session.get(User, target.id)
    assert user is not None and (user.display_name, user.role) == ("原名", Role.SURVEYOR)


def test_ones_own_page_needs_no_role_and_keeps_it(web_as: Any) -> None:
    """A disabled select is not sent: one's own page saves without a role, and the role stays."""
    web = web_as("bureau_admin", "forestry")
    response = web.post(f"/admin/users/{web.user.id}", data={"display_name": "自己", "email": ""})
    assert response.status_code == 302
    db.session.expire_all()
    me = db.session.get(User, web.user.id)
    assert me is not None and (me.display_name, me.role, me.active) == ("自己", Role.BUREAU_ADMIN, True)
