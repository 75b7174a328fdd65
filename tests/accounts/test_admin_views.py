"""The user-management pages: who sees and changes whom, and the service's rules shown beside fields."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Role, User
from app.extensions import db


def new_user(**overrides: Any) -> dict[str, Any]:
    form = {
        "username": "chenqi",
        "display_name": "陈七",
        "password": "a-long-password",
        "role": "surveyor",
        "organization": "forestry",
        "email": "chenqi@example.org",
    }
    form.update(overrides)
    return form


def _user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor"])
def test_staff_are_refused_every_admin_page(web_as: Any, make_user: Any, role: str) -> None:
    web = web_as(role)
    colleague = make_user("surveyor")
    db.session.commit()
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{colleague.id}"):
        assert web.get(path).status_code == 403, path
    assert web.post("/admin/users/new", data=new_user()).status_code == 403
    assert web.post(f"/admin/users/{colleague.id}", data={"display_name": "x"}).status_code == 403
    assert _user("chenqi") is None


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_bureau_admin_sees_only_their_own_organization(web_as: Any, make_user: Any) -> None:
    forester = make_user("surveyor", "forestry", username="forester")
    farmer = make_user("surveyor", "agriculture", username="farmer", email="farmer@example.org")
    web = web_as("bureau_admin", "agriculture")
    page = web.get("/admin/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "farmer" in html and "farmer@example.org" in html
    assert "forester" not in html
    assert f"/admin/users/{farmer.id}" in html
    assert web.get(f"/admin/users/{farmer.id}").status_code == 200
    assert web.get(f"/admin/users/{forester.id}").status_code == 403
    refused = web.post(f"/admin/users/{forester.id}", data={"display_name": "改名", "role": "surveyor"})
    assert refused.status_code == 403
    db.session.expire_all()
    assert _user("forester").display_name != "改名"  # type: ignore[union-attr]


def test_admin_sees_every_organization(web_as: Any, make_user: Any) -> None:
    make_user("surveyor", "forestry", username="forester")
    make_user("surveyor", "agriculture", username="farmer")
    html = web_as("admin").get("/admin/users").get_data(as_text=True)
    assert "forester" in html and "farmer" in html


def test_bureau_admin_creates_a_user_who_appears_in_the_list(web_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    form = web.get("/admin/users/new").get_data(as_text=True)
    assert 'name="username"' in form and 'name="password"' in form
    assert 'value="admin"' not in form  # a bureau admin is not offered the admin role
    assert 'value="forestry"' not in form  # nor another organization

    response = web.post("/admin/users/new", data=new_user(organization="agriculture", role="verifier"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/users")
    user = _user("chenqi")
    assert user is not None
    assert (user.role, user.organization.code, user.email) == (
        Role.VERIFIER,
        "agriculture",
        "chenqi@example.org",
    )
    assert user.password_hash != "a-long-password"
    listing = web.get("/admin/users").get_data(as_text=True)
    assert "chenqi" in listing and "陈七" in listing


def test_admin_creates_users_in_any_organization(web_as: Any) -> None:
    web = web_as("admin", "forestry")
    response = web.post("/admin/users/new", data=new_user(organization="agriculture", role="bureau_admin"))
    assert response.status_code == 302
    user = _user("chenqi")
    assert user is not None and user.organization.code == "agriculture" and user.role == Role.BUREAU_ADMIN


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "short"}, "password", "Use at least 10 characters."),
        ({"username": "陈 七"}, "username", "2–80 characters: letters, digits, dot, dash or underscore."),
        ({"role": "admin"}, "role", "Not a valid choice"),
        ({"organization": "agriculture"}, "organization", "Not a valid choice"),
        ({"display_name": ""}, "display_name", "This field is required."),
        ({"email": "not-an-address"}, "email", "Not a valid e-mail address."),
    ],
)
def test_bad_new_users_are_refused_beside_the_field(
    web_as: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    web = web_as("bureau_admin", "forestry")
    web.post("/language", data={"lang": "en", "next": "/"})
    response = web.post("/admin/users/new", data=new_user(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="{field}"' in html and 'class="invalid"' in html
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username.like("%七"))) == 0
    )
    assert _user("chenqi") is None


def test_a_taken_username_is_refused(web_as: Any, make_user: Any) -> None:
    make_user("surveyor", "agriculture", username="chenqi", display_name="原来的陈七")
    web = web_as("admin")
    web.post("/language", data={"lang": "en", "next": "/"})
    response = web.post("/admin/users/new", data=new_user(username="ChenQi", display_name="新的"))
    assert response.status_code == 422
    assert "Already taken." in response.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "chenqi")) == 1
    )
    assert _user("chenqi").display_name == "原来的陈七"  # type: ignore[union-attr]


def test_deactivating_a_user_stops_their_sessions(web_as: Any, make_user: Any) -> None:
    admin = web_as("bureau_admin", "forestry")
    surveyor = web_as("surveyor", "forestry")
    target = surveyor.user
    page = admin.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert 'name="active"' in page and "checked" in page
    response = admin.post(
        f"/admin/users/{target.id}",
        data={"display_name": "新名字", "email": "new@example.org", "role": "supervisor"},  # active unticked
    )
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, target.id)
    assert user is not None
    assert (user.active, user.role, user.display_name, user.email) == (
        False,
        Role.SUPERVISOR,
        "新名字",
        "new@example.org",
    )
    assert surveyor.get("/").status_code == 302  # signed out: sent to the sign-in page
    reactivated = admin.post(
        f"/admin/users/{target.id}",
        data={"display_name": "新名字", "role": "supervisor", "active": "y"},
    )
    assert reactivated.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, target.id).active is True  # type: ignore[union-attr]


def test_edits_break_no_rule(web_as: Any, make_user: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    web.post("/language", data={"lang": "en", "next": "/"})
    target = make_user("surveyor", "forestry", display_name="原名")
    db.session.commit()
    url = f"/admin/users/{target.id}"

    short = web.post(
        url, data={"display_name": "新名", "role": "verifier", "active": "y", "password": "short"}
    )
    assert short.status_code == 422
    assert "Use at least 10 characters." in short.get_data(as_text=True)
    promote = web.post(url, data={"display_name": "新名", "role": "admin", "active": "y"})
    assert promote.status_code == 422
    db.session.expire_all()
    user = db.session.get(User, target.id)
    assert user is not None and (user.display_name, user.role) == ("原名", Role.SURVEYOR)

    # One's own role and activity are not offered, and a forged change is ignored, not applied.
    own = web.user
    page = web.get(f"/admin/users/{own.id}").get_data(as_text=True)
    assert 'name="active"' not in page
    response = web.post(f"/admin/users/{own.id}", data={"display_name": "我自己", "role": "surveyor"})
    assert response.status_code == 302
    db.session.expire_all()
    me = db.session.get(User, own.id)
    assert me is not None and (me.display_name, me.role, me.active) == ("我自己", Role.BUREAU_ADMIN, True)


def test_a_bureau_admin_cannot_change_an_admin_of_their_organization(web_as: Any, make_user: Any) -> None:
    boss = make_user("admin", "forestry", display_name="管理员")
    web = web_as("bureau_admin", "forestry")
    response = web.post(
        f"/admin/users/{boss.id}", data={"display_name": "改了", "role": "admin", "active": "y"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, boss.id).display_name == "管理员"  # type: ignore[union-attr]
