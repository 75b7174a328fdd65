"""The users and organizations API and its permission rules (docs/contract.md §1, §3.2)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db


def new_user(**overrides: Any) -> dict[str, Any]:
    body = {
        "username": "chenqi",
        "password": "a-long-password",
        "display_name": "陈七",
        "role": "surveyor",
        "organization": "forestry",
        "email": "chenqi@example.org",
    }
    body.update(overrides)
    return body


def test_organizations_are_listed_for_any_signed_in_user(api_as: Any) -> None:
    response = api_as("surveyor").get("/api/v1/organizations")
    assert response.status_code == 200
    codes = {o["code"]: o for o in response.json["items"]}
    assert codes["forestry"]["name"] == "梁平区林业局"
    assert codes["agriculture"]["name"] == "梁平区农业农村委"
    assert response.json["total"] == 2 and response.json["page"] == 1


def test_admin_creates_a_user_who_can_then_sign_in(api_as: Any, anonymous_api: Any) -> None:
    response = api_as("admin").post("/api/v1/users", json=new_user(organization="agriculture"))
    assert response.status_code == 201
    assert response.json["organization"] == "agriculture"
    assert "password" not in response.json
    token = anonymous_api.post(
        "/api/v1/auth/tokens", json={"username": "chenqi", "password": "a-long-password"}
    )
    assert token.status_code == 201


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor"])
def test_staff_cannot_create_or_list_users(api_as: Any, role: str) -> None:
    api = api_as(role)
    assert api.post("/api/v1/users", json=new_user()).status_code == 403
    assert api.get("/api/v1/users").status_code == 403
    assert db.session.scalar(sa.select(User).where(User.username == "chenqi")) is None


def test_bureau_admin_manages_only_their_own_organization(api_as: Any, make_user: Any) -> None:
    api = api_as("bureau_admin", "forestry")
    assert api.post("/api/v1/users", json=new_user()).status_code == 201
    other_org = api.post("/api/v1/users", json=new_user(username="other1", organization="agriculture"))
    assert other_org.status_code == 403
    make_admin = api.post("/api/v1/users", json=new_user(username="boss", role="admin"))
    assert make_admin.status_code == 403

    outsider = make_user("surveyor", "agriculture")
    assert api.patch(f"/api/v1/users/{outsider.id}", json={"active": False}).status_code == 403
    assert api.get(f"/api/v1/users/{outsider.id}").status_code == 403
    listed = {u["organization"] for u in api.get("/api/v1/users").json["items"]}
    assert listed == {"forestry"}


def test_bureau_admin_cannot_promote_to_admin_or_touch_an_admin(api_as: Any, make_user: Any) -> None:
    api = api_as("bureau_admin", "forestry")
    colleague = make_user("surveyor", "forestry")
    assert api.patch(f"/api/v1/users/{colleague.id}", json={"role": "admin"}).status_code == 403
    assert api.patch(f"/api/v1/users/{colleague.id}", json={"role": "verifier"}).status_code == 200
    admin = make_user("admin", "forestry")
    assert api.patch(f"/api/v1/users/{admin.id}", json={"display_name": "x"}).status_code == 403


def test_nobody_deactivates_themselves(api_as: Any) -> None:
    api = api_as("admin")
    response = api.patch(f"/api/v1/users/{api.user.id}", json={"active": False})
    assert response.status_code == 403


def test_duplicate_username_is_409(api_as: Any, make_user: Any) -> None:
    make_user(username="chenqi")
    response = api_as("admin").post("/api/v1/users", json=new_user(username="ChenQi"))
    assert response.status_code == 409
    assert "username" in response.json["errors"]


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"role": "emperor"}, "role", 422),
        ({"organization": "no-such-org"}, "organization", 422),
        ({"password": "short"}, "password", 422),
        ({"email": "not-an-email"}, "email", 422),
        ({"username": "两个字"}, "username", 422),
        ({"username": None}, "username", 422),
        ({"is_superuser": True}, "is_superuser", 422),
    ],
)
def test_invalid_user_fields_are_named(
    api_as: Any, overrides: dict[str, Any], field: str, status: int
) -> None:
    response = api_as("admin").post("/api/v1/users", json=new_user(**overrides))
    assert response.status_code == status
    assert field in response.json["errors"], response.json
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "chenqi")) == 0
    )


def test_a_bad_username_and_a_bad_password_are_named_together(api_as: Any) -> None:
    """One answer for the whole form: the admin corrects both at once, not one per try."""
    response = api_as("admin").post(
        "/api/v1/users", json=new_user(username="a b", password="short"), headers={"Accept-Language": "zh"}
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"username", "password"}
    assert "用户名" in response.json["message"] and "密码" in response.json["message"]


def test_patch_needs_at_least_one_field(api_as: Any, make_user: Any) -> None:
    """Said in the reader's language, like every other refusal (docs/contract.md §6)."""
    admin = api_as("admin")
    response = admin.patch(f"/api/v1/users/{make_user().id}", json={})
    assert response.status_code == 422
    assert response.get_json()["errors"]["_schema"] == ["请至少提交一个要修改的字段。"]
    organization = admin.patch("/api/v1/organizations/forestry", json={})
    assert organization.status_code == 422
    assert organization.get_json()["errors"]["_schema"] == ["请至少提交一个要修改的字段。"]


def test_patch_unknown_user_is_404(api_as: Any) -> None:
    assert api_as("admin").patch("/api/v1/users/999999", json={"active": False}).status_code == 404


def test_users_list_filters_and_paginates(api_as: Any, make_user: Any) -> None:
    for _ in range(3):
        make_user("verifier", "agriculture")
    api = api_as("admin")
    response = api.get("/api/v1/users?role=verifier&organization=agriculture&per_page=2&page=2")
    assert response.status_code == 200
    assert response.json["total"] == 3 and response.json["per_page"] == 2 and len(response.json["items"]) == 1
    assert api.get("/api/v1/users?per_page=501").status_code == 422
    assert api.get("/api/v1/users?page=0").status_code == 422
