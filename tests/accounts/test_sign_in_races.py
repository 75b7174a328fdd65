"""A sign-in under way while the user's password is reset keeps nothing: whoever knew only the old
password is not left holding a session or a token that outlived the reset (docs/contract.md §6).

The reset lands while the sign-in is checking the old password's hash (about a tenth of a second of
scrypt, so a guesser who knows the old password and signs in again and again is nearly always inside
that window). On SQLite the reset waits for the sign-in's write transaction and then ends what it made;
on PostgreSQL the sign-in reads the password again, locked, once its check is done
(app/accounts/services.py `authenticate`)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from app.accounts import services
from app.accounts.models import User
from app.accounts.tokens import issue_token
from app.extensions import db
from tests.accounts.test_sign_in import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.real_commits


class ResetWhileChecking:
    """The next check of PASSWORD resets the user's password (committed by another thread) before it
    answers."""

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch, user_id: int) -> None:
        self.app, self.user_id = app, user_id
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None
        self.real_check = services.check_password_hash
        monkeypatch.setattr(services, "check_password_hash", self.check)

    def reset(self) -> None:
        try:
            with self.app.app_context():
                user = db.session.get(User, self.user_id)
                assert user is not None
                services.update_user(actor=None, user=user, changes={"password": "a-new-long-passphrase"})
                db.session.commit()
        except BaseException as exc:  # reported by finish()
            self.errors.append(exc)

    def check(self, pwhash: str, password: str) -> bool:
        answer = bool(self.real_check(pwhash, password))
        if password == PASSWORD and self.thread is None:
            self.thread = threading.Thread(target=self.reset)
            self.thread.start()
            self.thread.join(timeout=2)  # SQLite: it waits for this sign-in's transaction instead
        return answer

    def finish(self) -> None:
        assert self.thread is not None, "the password was never checked"
        self.thread.join(timeout=30)
        assert not self.errors, self.errors


def test_a_page_sign_in_racing_a_password_reset_keeps_no_session(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    db.session.commit()
    user_id, username = user.id, user.username
    db.session.remove()
    reset = ResetWhileChecking(app, monkeypatch, user_id)
    browser = app.test_client()
    answer = sign_in(browser, username, PASSWORD)
    reset.finish()
    assert answer.status_code in (302, 401)
    assert browser.get("/").status_code == 302  # to the sign-in page: nobody is signed in
    assert browser.get("/api/v1/me").status_code == 401


def test_a_token_request_racing_a_password_reset_keeps_no_token(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    db.session.commit()
    user_id, username = user.id, user.username
    db.session.remove()
    reset = ResetWhileChecking(app, monkeypatch, user_id)
    client = app.test_client()
    answer = client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
    reset.finish()
    assert answer.status_code in (201, 401)
    if answer.status_code == 201:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {answer.get_json()['token']}"})
        assert me.status_code == 401


def test_ones_own_password_change_racing_a_reset_does_not_undo_it(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    plain, _token = issue_token(user)
    db.session.commit()
    user_id, username = user.id, user.username
    db.session.remove()
    reset = ResetWhileChecking(app, monkeypatch, user_id)
    client = app.test_client()
    answer = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "the-holders-own-choice"},
        headers={"Authorization": f"Bearer {plain}"},
    )
    reset.finish()
    assert answer.status_code in (204, 422)
    # The reset stands: the password chosen with the old one opens nothing.
    tokens = app.test_client().post(
        "/api/v1/auth/tokens", json={"username": username, "password": "the-holders-own-choice"}
    )
    assert tokens.status_code == 401
