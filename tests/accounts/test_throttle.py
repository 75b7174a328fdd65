"""Sign-in throttling: a stranger cannot lock anyone out, delays grow, a known browser is unaffected."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import SignInThrottle
from app.accounts.throttle import KNOWN_CLIENT_COOKIE
from app.extensions import db
from tests.accounts.test_sign_in import sign_in
from tests.factories import PASSWORD

STRANGER = "203.0.113.66"
OFFICE = "198.51.100.7"


def _token(client: Any, username: str, password: str, ip: str) -> Any:
    return client.post(
        "/api/v1/auth/tokens",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def _time_passes(key_part: str) -> None:
    """The wait of every key naming `key_part` is over (instead of sleeping through it)."""
    db.session.execute(
        sa.update(SignInThrottle).where(SignInThrottle.key.contains(key_part)).values(blocked_until=0.0)
    )
    db.session.commit()


def test_a_stranger_guessing_cannot_lock_the_admin_out(client: Any, make_user: Any) -> None:
    admin = make_user("admin")
    db.session.commit()
    answers = [_token(client, admin.username, f"guess-{i}", STRANGER).status_code for i in range(20)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    # The right password from the stranger's address waits too: the guesses there are what counts.
    assert _token(client, admin.username, PASSWORD, STRANGER).status_code == 429
    # The admin, anywhere else, is not affected.
    assert _token(client, admin.username, PASSWORD, OFFICE).status_code == 201


def test_delays_grow_with_each_further_failure(client: Any, make_user: Any) -> None:
    user = make_user()
    db.session.commit()
    for _ in range(5):
        assert _token(client, user.username, "wrong", STRANGER).status_code == 401
    waits = []
    for _ in range(4):
        blocked = _token(client, user.username, "wrong", STRANGER)
        assert blocked.status_code == 429
        assert user.username not in blocked.get_json()["message"]
        waits.append(int(blocked.headers["Retry-After"]))
        _time_passes(f"user:{user.username}|")
        assert _token(client, user.username, "wrong", STRANGER).status_code == 401
    assert [round(w, -1) for w in waits] == [30, 60, 120, 240]


def test_a_successful_sign_in_clears_the_count(client: Any, make_user: Any) -> None:
    user = make_user()
    db.session.commit()
    for _ in range(4):
        _token(client, user.username, "typo", OFFICE)
    assert _token(client, user.username, PASSWORD, OFFICE).status_code == 201
    for _ in range(5):
        assert _token(client, user.username, "typo", OFFICE).status_code == 401


def test_one_address_trying_many_usernames_spends_its_budget(
    client: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    monkeypatch.setitem(app.config, "IAS_SIGNIN_ADDRESS_BUDGET", 8)
    user = make_user()
    db.session.commit()
    answers = [_token(client, f"name{i}", "guess", STRANGER).status_code for i in range(12)]
    assert answers == [401] * 8 + [429] * 4
    assert _token(client, user.username, PASSWORD, STRANGER).status_code == 429
    assert _token(client, user.username, PASSWORD, OFFICE).status_code == 201


def test_a_known_browser_behind_the_guessers_nat_still_signs_in(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "IAS_SIGNIN_ADDRESS_BUDGET", 8)
    user = make_user()
    db.session.commit()
    phone = app.test_client()
    phone.environ_base["REMOTE_ADDR"] = STRANGER
    assert sign_in(phone, user.username, PASSWORD).status_code == 302
    assert phone.get_cookie(KNOWN_CLIENT_COOKIE) is not None
    phone.post("/sign-out", data={"csrf_token": _page_csrf(phone)})
    # Someone behind the same address guesses this user's password and spends the address's budget.
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = STRANGER
    for i in range(12):
        _token(attacker, user.username if i % 2 else f"other{i}", "guess", STRANGER)
    assert _token(attacker, user.username, PASSWORD, STRANGER).status_code == 429
    assert sign_in(attacker, user.username, PASSWORD).status_code == 429  # a new browser waits
    # The user's own phone, which signed in here before, is let through.
    assert sign_in(phone, user.username, PASSWORD).status_code == 302
    assert phone.get("/").status_code == 200


def test_a_known_client_cookie_of_another_user_or_forged_is_ignored(app: Flask, make_user: Any) -> None:
    first, second = make_user(), make_user()
    db.session.commit()
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = STRANGER
    sign_in(browser, first.username, PASSWORD)
    browser.delete_cookie("session")  # closed and opened again, signed out; the known-client cookie stays
    browser.delete_cookie("ias_remember")
    assert browser.get_cookie(KNOWN_CLIENT_COOKIE) is not None
    for _ in range(5):
        assert sign_in(browser, second.username, "wrong").status_code == 401
    assert sign_in(browser, second.username, "wrong").status_code == 429
    browser.set_cookie(KNOWN_CLIENT_COOKIE, "eyJ1Ijoibm9ib2R5In0.forged")
    assert sign_in(browser, second.username, "wrong").status_code == 429


def _page_csrf(client: Any) -> str:
    from tests.accounts.test_sign_in import csrf_token

    return csrf_token(client.get("/").get_data(as_text=True))


def test_a_guesser_changing_address_within_one_ipv6_network_is_still_throttled(
    client: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    # One subscriber (a phone on a mobile network, a rented server) holds a whole /64: 2^64 addresses.
    monkeypatch.setitem(app.config, "IAS_SIGNIN_ADDRESS_BUDGET", 8)
    admin = make_user("admin")
    db.session.commit()
    answers = [_token(client, admin.username, "guess", f"2001:db8:6:6::{i:x}").status_code for i in range(12)]
    assert answers == [401] * 5 + [429] * 7
    others = [_token(client, f"name{i}", "guess", f"2001:db8:6:6:{i:x}::1").status_code for i in range(8)]
    assert others == [401] * 3 + [429] * 5  # the network's budget of 8, 5 of them spent above
    # Another network, and the same network's IPv4-mapped form of an IPv4 address, are not affected.
    assert _token(client, admin.username, PASSWORD, "2001:db8:6:7::1").status_code == 201
    assert _token(client, admin.username, PASSWORD, f"::ffff:{OFFICE}").status_code == 201


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(client: Any, make_user: Any) -> None:
    user = make_user()
    db.session.commit()
    for _ in range(5):
        assert _token(client, user.username, "guess", STRANGER).status_code == 401
    assert _token(client, user.username, "guess", f"::ffff:{STRANGER}").status_code == 429
