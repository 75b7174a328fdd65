"""Bearer tokens: issue, use, expire, revoke; wrong input; throttled sign-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.tokens import issue_token
from app.audit.models import AuditLog
from app.extensions import db
from tests.factories import PASSWORD


def test_token_for_a_valid_user(anonymous_api: Any, make_user: Any) -> None:
    user = make_user("surveyor", username="zhangsan")
    response = anonymous_api.post("/api/v1/auth/tokens", json={"username": "ZhangSan", "password": PASSWORD})
    assert response.status_code == 201
    body = response.json
    assert body["token"].startswith("ias_")
    assert body["user"]["username"] == "zhangsan" and body["user"]["organization"] == "forestry"
    assert "+" in body["expires_at"] or body["expires_at"].endswith("Z")
    me = anonymous_api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json["id"] == user.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "zhangsan"}, "password"),
        ({"username": 42, "password": PASSWORD}, "username"),
        ({"username": "zhangsan", "password": PASSWORD, "remember": True}, "remember"),
    ],
)
def test_bad_token_requests_name_the_field(anonymous_api: Any, body: dict[str, Any], field: str) -> None:
    response = anonymous_api.post("/api/v1/auth/tokens", json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]
    # Named as the user reads it; a field the API does not know, by the key that was sent.
    assert {"username": "用户名", "password": "密码", "remember": "remember"}[field] in response.json[
        "message"
    ]


def test_malformed_json_is_400(anonymous_api: Any) -> None:
    response = anonymous_api.post(
        "/api/v1/auth/tokens", data='{"username": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["code"] == 400 and response.json["errors"]


def test_wrong_password_is_401_and_recorded(anonymous_api: Any, make_user: Any) -> None:
    make_user(username="lisi")
    response = anonymous_api.post(
        "/api/v1/auth/tokens", json={"username": "lisi", "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert response.json["status"] == "Unauthorized"
    failures = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "sign_in_failed", AuditLog.entity_id == "lisi")
    ).all()
    assert len(failures) == 1


def test_unknown_user_and_deactivated_user_get_the_same_answer(anonymous_api: Any, make_user: Any) -> None:
    make_user(username="gone", deactivated=True)
    unknown = anonymous_api.post("/api/v1/auth/tokens", json={"username": "nobody", "password": PASSWORD})
    inactive = anonymous_api.post("/api/v1/auth/tokens", json={"username": "gone", "password": PASSWORD})
    assert unknown.status_code == inactive.status_code == 401
    assert unknown.json["message"] == inactive.json["message"]


def test_repeated_failures_are_throttled_even_with_the_right_password(
    app: Any, anonymous_api: Any, make_user: Any
) -> None:
    make_user(username="wangwu")
    limit = app.config["IAS_SIGNIN_MAX_FAILURES"]
    for _ in range(limit):
        assert (
            anonymous_api.post(
                "/api/v1/auth/tokens", json={"username": "wangwu", "password": "nope-nope"}
            ).status_code
            == 401
        )
    response = anonymous_api.post("/api/v1/auth/tokens", json={"username": "wangwu", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    # Another person is not locked out by wangwu's failures.
    make_user(username="zhaoliu")
    assert (
        anonymous_api.post(
            "/api/v1/auth/tokens", json={"username": "zhaoliu", "password": PASSWORD}
        ).status_code
        == 201
    )


def test_expired_token_is_401_saying_so(anonymous_api: Any, make_user: Any) -> None:
    plain, _token = issue_token(make_user(), ttl=timedelta(seconds=-1))
    db.session.commit()
    response = anonymous_api.get("/api/v1/townships", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    assert "过期" in response.json["message"]  # Chinese unless the client asks otherwise
    assert "Authorization" in response.json["errors"]
    assert 'error="invalid_token", error_description="expired"' in response.headers["WWW-Authenticate"]
    english = anonymous_api.get(
        "/api/v1/townships", headers={"Authorization": f"Bearer {plain}", "Accept-Language": "en"}
    )
    assert "expired" in english.json["message"]


def test_revoked_token_stops_working(api_as: Any) -> None:
    api = api_as("surveyor")
    assert api.get("/api/v1/townships").status_code == 200
    assert api.delete("/api/v1/auth/tokens/current").status_code == 204
    response = api.get("/api/v1/townships")
    assert response.status_code == 401
    assert 'error_description="revoked"' in response.headers["WWW-Authenticate"]


def test_garbage_token_is_401(anonymous_api: Any) -> None:
    response = anonymous_api.get("/api/v1/townships", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


def test_no_credentials_is_401(anonymous_api: Any) -> None:
    response = anonymous_api.get("/api/v1/species")
    assert response.status_code == 401
    assert response.json["message"]


def test_deactivating_a_user_revokes_their_tokens(api_as: Any, make_user: Any) -> None:
    surveyor = api_as("surveyor")
    admin = api_as("admin")
    assert admin.patch(f"/api/v1/users/{surveyor.user.id}", json={"active": False}).status_code == 200
    assert surveyor.get("/api/v1/townships").status_code == 401
