"""Browser sign-in: CSRF-protected form, Chinese by default, safe redirects, language choice."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from tests.factories import PASSWORD


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: Any, username: str, password: str, next_url: str = "") -> Any:
    page = client.get("/sign-in" + (f"?next={next_url}" if next_url else ""))
    token = csrf_token(page.get_data(as_text=True))
    return client.post(
        "/sign-in" + (f"?next={next_url}" if next_url else ""),
        data={"username": username, "password": password, "csrf_token": token},
    )


def test_pages_need_sign_in(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_sign_in_page_speaks_chinese_by_default(client: Any) -> None:
    html = client.get("/sign-in", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html and "用户名" in html


def test_sign_in_and_search_species(client: Any, make_user: Any) -> None:
    make_user(username="zhouyi")
    response = sign_in(client, "zhouyi", PASSWORD)
    assert response.status_code == 302
    html = client.get("/?q=fsl").get_data(as_text=True)
    assert "福寿螺" in html and "Pomacea canaliculata" in html


def test_wrong_password_shows_an_error(client: Any, make_user: Any) -> None:
    make_user(username="wuer")
    response = sign_in(client, "wuer", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_sign_in_without_csrf_token_is_refused(client: Any, make_user: Any) -> None:
    make_user(username="zhengsan")
    response = client.post("/sign-in", data={"username": "zhengsan", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still signed out


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example/x"])
def test_no_open_redirect_after_sign_in(client: Any, make_user: Any, target: str) -> None:
    make_user(username="wangwu2")
    response = sign_in(client, "wangwu2", PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_session_api_calls_need_the_csrf_header(client: Any, make_user: Any) -> None:
    make_user("admin", username="boss")
    sign_in(client, "boss", PASSWORD)
    assert client.get("/api/v1/townships").status_code == 200  # reads need no token
    body = {
        "username": "x1",
        "password": "a-long-password",
        "display_name": "x",
        "role": "surveyor",
        "organization": "forestry",
    }
    refused = client.post("/api/v1/users", json=body)
    assert refused.status_code == 400 and "X-CSRFToken" in refused.json["errors"]
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/api/v1/users", json=body, headers={"X-CSRFToken": token}).status_code == 201


def test_english_is_selectable_and_remembered(client: Any, make_user: Any) -> None:
    user = make_user(username="english")
    sign_in(client, "english", PASSWORD)
    token = csrf_token(client.get("/").get_data(as_text=True))
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    html = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in html and "Species search" in html
    # The preference is stored on the user, so it follows them to another device.
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"


def test_sign_out(client: Any, make_user: Any) -> None:
    make_user(username="leaving")
    sign_in(client, "leaving", PASSWORD)
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_language_switch_stays_on_this_site(client: Any) -> None:
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    response = client.post("/language", data={"lang": "en", "next": "//evil.example/", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    back = client.post("/language", data={"lang": "zh", "next": "/sign-in?x=1", "csrf_token": token})
    assert back.headers["Location"] == "/sign-in?x=1"


def test_a_bearer_header_that_authenticates_nothing_does_not_skip_csrf(client: Any, make_user: Any) -> None:
    """A cross-site page cannot set a valid token, but it can send any Authorization header; the
    cookie beside it still authenticates, so the CSRF check must stay."""
    make_user("admin", username="boss2")
    sign_in(client, "boss2", PASSWORD)
    body = {
        "username": "forged",
        "password": "a-long-enough-passphrase",
        "display_name": "x",
        "role": "admin",
        "organization": "forestry",
    }
    for header in ("Bearer not-a-token", "Bearer ias_" + "x" * 43, "Basic Zm9vOmJhcg=="):
        refused = client.post("/api/v1/users", json=body, headers={"Authorization": header})
        assert refused.status_code == 400 and "X-CSRFToken" in refused.json["errors"], header
    assert db.session.scalar(sa.select(User.id).where(User.username == "forged")) is None


def test_a_valid_bearer_token_needs_no_csrf(api_as: Any) -> None:
    admin = api_as("admin")
    body = {
        "username": "by-token",
        "password": "a-long-enough-passphrase",
        "display_name": "x",
        "role": "surveyor",
        "organization": "forestry",
    }
    assert admin.post("/api/v1/users", json=body).status_code == 201
