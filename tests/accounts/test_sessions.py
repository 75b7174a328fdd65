"""Sessions the server can end: sign-out, password changes, deactivation and role changes end them;
the remember-me cookie is random, stored hashed, expiring and replaced on use; sign-in renews the
session; `make run` keeps its secret key private."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_login.utils import encode_cookie

from app.accounts.models import UserSession
from app.accounts.sessions import PARALLEL_GRACE, REMEMBER_COOKIE
from app.extensions import db
from tests.accounts.test_sign_in import csrf_token, sign_in
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _signed_in(app: Flask, make_user: Any, role: str = "surveyor", **fields: Any) -> tuple[Any, Any]:
    user = make_user(role, **fields)
    db.session.commit()
    browser = app.test_client()
    assert sign_in(browser, user.username, PASSWORD).status_code == 302
    assert browser.get("/").status_code == 200
    return browser, user


def _copy(app: Flask, browser: Any, *names: str) -> Any:
    """Another browser holding the cookies an attacker copied from `browser`."""
    thief = app.test_client()
    for name in names:
        cookie = browser.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def test_a_copied_session_cookie_stops_working_at_sign_out(app: Flask, make_user: Any) -> None:
    browser, _user = _signed_in(app, make_user)
    thief = _copy(app, browser, "session", REMEMBER_COOKIE)
    assert thief.get("/").status_code == 200
    token = csrf_token(browser.get("/").get_data(as_text=True))
    assert browser.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert browser.get_cookie(REMEMBER_COOKIE) is None
    assert thief.get("/").status_code == 302  # to the sign-in page
    assert _copy(app, thief, "session").get("/api/v1/me").status_code == 401


def test_signing_out_one_browser_leaves_the_others_signed_in(app: Flask, make_user: Any) -> None:
    desk, user = _signed_in(app, make_user)
    phone = app.test_client()
    sign_in(phone, user.username, PASSWORD)
    token = csrf_token(desk.get("/").get_data(as_text=True))
    desk.post("/sign-out", data={"csrf_token": token})
    assert phone.get("/").status_code == 200


def test_a_password_reset_ends_every_session_and_token(app: Flask, make_user: Any, api_as: Any) -> None:
    browser, user = _signed_in(app, make_user)
    other_browser = _copy(app, browser, "session")
    remembered = _copy(app, browser, REMEMBER_COOKIE)
    own_api = api_as(user)
    admin = api_as("admin")
    reset = admin.patch(f"/api/v1/users/{user.id}", json={"password": "a-new-long-passphrase"})
    assert reset.status_code == 200, reset.get_json()
    assert browser.get("/").status_code == 302
    assert other_browser.get("/").status_code == 302
    assert remembered.get("/").status_code == 302
    assert own_api.get("/api/v1/me").status_code == 401


def test_deactivation_and_role_change_end_every_session_and_token(
    app: Flask, make_user: Any, api_as: Any
) -> None:
    admin = api_as("admin")
    for change in ({"active": False}, {"role": "verifier"}, {"organization": "agriculture"}):
        browser, user = _signed_in(app, make_user)
        api = api_as(user)
        assert admin.patch(f"/api/v1/users/{user.id}", json=change).status_code == 200
        assert browser.get("/").status_code == 302, change
        assert api.get("/api/v1/me").status_code == 401, change


def test_a_name_change_ends_nothing(app: Flask, make_user: Any, api_as: Any) -> None:
    browser, user = _signed_in(app, make_user)
    assert api_as("admin").patch(f"/api/v1/users/{user.id}", json={"display_name": "新名"}).status_code == 200
    assert browser.get("/").status_code == 200


def test_the_remember_cookie_is_random_stored_hashed_and_replaced_on_use(app: Flask, make_user: Any) -> None:
    browser, user = _signed_in(app, make_user)
    first = browser.get_cookie(REMEMBER_COOKIE).value
    again = app.test_client()
    sign_in(again, user.username, PASSWORD)
    assert again.get_cookie(REMEMBER_COOKIE).value != first  # not derived from the user
    assert str(user.id) not in first.split("|")
    stored = set(db.session.scalars(sa.select(UserSession.remember_hash)))
    assert first not in stored  # only its hash

    # The browser is closed (its session cookie is gone) and opened again: still signed in, new cookie.
    reopened = _copy(app, browser, REMEMBER_COOKIE)
    assert reopened.get("/").status_code == 200
    rotated = reopened.get_cookie(REMEMBER_COOKIE).value
    assert rotated != first
    # A request the browser sent beside that one, with the old cookie, is let through without a new
    # remember cookie (the newer one stays); once that moment has passed, the used cookie, copied
    # before, is worth nothing.
    parallel = _copy(app, browser, REMEMBER_COOKIE)
    answer = parallel.get("/")
    assert answer.status_code == 200
    assert not any(REMEMBER_COOKIE in c for c in answer.headers.getlist("Set-Cookie"))
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(remember_rotated_at=datetime.now(UTC) - PARALLEL_GRACE - timedelta(seconds=1))
    )
    db.session.commit()
    assert _copy(app, browser, REMEMBER_COOKIE).get("/").status_code == 302
    later = app.test_client()
    later.set_cookie(REMEMBER_COOKIE, rotated)
    assert later.get("/").status_code == 200


def test_the_remember_cookie_expires_on_the_server(app: Flask, make_user: Any) -> None:
    browser, user = _signed_in(app, make_user)
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    assert _copy(app, browser, REMEMBER_COOKIE).get("/").status_code == 302
    assert browser.get("/").status_code == 302


def test_a_session_ends_at_its_absolute_lifetime_however_often_it_is_renewed(
    app: Flask, make_user: Any
) -> None:
    """Each use of the remember cookie moves its expiry on, so a browser (or whoever copied its
    cookies) that keeps coming back would otherwise stay signed in for good: IAS_SESSION_MAX_DAYS after
    signing in, the password is asked for again."""
    browser, user = _signed_in(app, make_user)
    maximum = app.config["IAS_SESSION_MAX_DAYS"]
    signed_in_at = datetime.now(UTC) - timedelta(days=maximum) + timedelta(hours=1)
    db.session.execute(
        sa.update(UserSession).where(UserSession.user_id == user.id).values(created_at=signed_in_at)
    )
    db.session.commit()
    # Renewed an hour before the end: it lasts that hour, not the remember duration again.
    reopened = _copy(app, browser, REMEMBER_COOKIE)
    assert reopened.get("/").status_code == 200
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert row is not None and row.expires_at <= signed_in_at + timedelta(days=maximum)
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(created_at=signed_in_at - timedelta(hours=2))
    )
    db.session.commit()
    assert browser.get("/").status_code == 302  # the session cookie too
    assert reopened.get("/").status_code == 302
    assert _copy(app, reopened, REMEMBER_COOKIE).get("/").status_code == 302


def test_flask_logins_remember_cookie_minted_with_the_secret_key_opens_nothing(
    app: Flask, make_user: Any
) -> None:
    admin = make_user("admin")
    db.session.commit()
    with app.test_request_context():
        minted = encode_cookie(str(admin.id))  # user id | HMAC(SECRET_KEY), what used to sign in
    for name in ("remember_token", app.config["REMEMBER_COOKIE_NAME"], REMEMBER_COOKIE):
        forger = app.test_client()
        forger.set_cookie(name, minted)
        assert forger.get("/").status_code == 302, name
        assert forger.get("/api/v1/me").status_code == 401, name


def test_a_session_cookie_without_its_server_row_opens_nothing(app: Flask, make_user: Any) -> None:
    """With the secret key one can sign any session cookie; the session secret cannot be forged."""
    admin = make_user("admin")
    db.session.commit()
    forger = app.test_client()
    with forger.session_transaction() as session:
        session["_user_id"] = str(admin.id)
        session["_fresh"] = True
        session["ias_sid"] = "guessed"
    assert forger.get("/").status_code == 302


def test_sign_in_renews_the_session_and_its_csrf_secret(app: Flask, make_user: Any) -> None:
    user = make_user("admin")
    db.session.commit()
    browser = app.test_client()
    before = csrf_token(browser.get("/sign-in").get_data(as_text=True))
    signed_in = {"username": user.username, "password": PASSWORD, "csrf_token": before}
    response = browser.post("/sign-in", data=signed_in)
    assert response.status_code == 302
    body = {
        "username": "planted",
        "password": "a-long-enough-passphrase",
        "display_name": "x",
        "role": "surveyor",
        "organization": "forestry",
    }
    refused = browser.post("/api/v1/users", json=body, headers={"X-CSRFToken": before})
    assert refused.status_code == 400, refused.get_json()
    after = csrf_token(browser.get("/").get_data(as_text=True))
    assert after != before
    assert browser.post("/api/v1/users", json=body, headers={"X-CSRFToken": after}).status_code == 201


def test_make_run_keeps_the_secret_key_private(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    # The usual umask, under which files come out world-readable.
    make = ["sh", "-c", "umask 022; make -s instance/secret_key"]
    subprocess.run(make, cwd=tmp_path, check=True)  # noqa: S603
    key = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 43
    # A key left readable by an earlier version is made private on the next run.
    written = key.read_text()
    key.chmod(0o644)
    subprocess.run(make, cwd=tmp_path, check=True)  # noqa: S603
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text() == written  # and kept: a new key would sign everyone out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_ended_sessions_and_old_sign_in_counts_are_pruned(app: Flask, make_user: Any) -> None:
    from app.accounts.models import SignInThrottle
    from app.accounts.services import prune_sign_in_records

    browser, user = _signed_in(app, make_user)
    ended, _ = _signed_in(app, make_user)
    token = csrf_token(ended.get("/").get_data(as_text=True))
    ended.post("/sign-out", data={"csrf_token": token})
    sign_in(app.test_client(), user.username, "wrong-password")
    later = datetime.now(UTC) + timedelta(days=2)
    # The username's count and the address's.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == 2
    assert prune_sign_in_records(later) == 3  # and the ended session
    db.session.commit()
    assert browser.get("/").status_code == 200  # the live session stays
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == 0
