"""Sign-in throttling that a stranger cannot turn against a user, and that holds under parallel requests.

Failed attempts are counted per key, never per username alone (that would let anyone lock anyone out):

- `user:NAME|addr:IP`: this username from this address. The first IAS_SIGNIN_MAX_FAILURES attempts
  go through at once; after that each attempt must wait a delay that doubles (30 s, 60 s, 120 s …) up
  to IAS_SIGNIN_WINDOW_MINUTES. A guesser elsewhere slows down only their own address.
- `user:NAME|client:ID` instead, for a browser this user signed in from before (a signed "known
  client" cookie): its own counter, and no address budget, so neither a guesser behind the same
  NAT nor one anywhere else stops a person on their usual phone.
- `addr:IP`: a budget for the whole address (IAS_SIGNIN_ADDRESS_BUDGET failures), so that one
  address cannot try many usernames; once spent, that address waits the window out.

An IPv6 "address" here is its /64 network (`network`): one subscriber (a phone on a mobile network, a
rented server) is given a whole /64 and may send from any of its 2^64 addresses, so counting single
addresses would give a guesser a fresh budget with every request. An IPv4 address written as IPv6
(`::ffff:a.b.c.d`) is that IPv4 address.

A key's count is forgotten a window after its last attempt, and a successful sign-in clears the
username's key (and gives the address its attempt back).

Every attempt is claimed before the password is checked, by one statement:
`INSERT … ON CONFLICT (key) DO UPDATE SET failures = failures + 1, blocked_until = now + delay
WHERE blocked_until <= now RETURNING failures`. It returns a row only when the attempt may go ahead,
and it moves the gate for the next one in the same step, so there is no check-then-act race: of 40
parallel guesses exactly IAS_SIGNIN_MAX_FAILURES reach the password check, on SQLite (one writer at a
time) and on PostgreSQL (the row is locked by the upsert). The claim is committed at once, before the
password hash is computed, so no lock is held while it runs.

Why not Flask-Limiter: its storage back-ends are memory (one per gunicorn worker, so not a limit at
all), Redis, Memcached or MongoDB, none of which this deployment runs; none keeps the counter in the
SQL database the app already has, and its fixed or moving windows cannot express "forget on success"
or the known-client exemption. The statement above is the whole of what is needed.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.dialects import postgresql, sqlite

from app import uow
from app.accounts.models import SignInThrottle
from app.extensions import db

KNOWN_CLIENT_COOKIE = "ias_known_client"
FIRST_DELAY_S = 30  # after the free attempts; it doubles with each further failure
_LADDER_STEPS = 16


@dataclass(frozen=True)
class Blocked:
    """An attempt that was not allowed to check a password, and how long until the next may."""

    retry_after_s: int


def _cap_seconds() -> float:
    return float(current_app.config["IAS_SIGNIN_WINDOW_MINUTES"]) * 60


def _delay(failures: sa.ColumnElement[int], free: int, cap: float, *, doubling: bool) -> sa.Case[float]:
    """Seconds the next attempt waits after `failures` (an SQL expression): nothing below `free`,
    then FIRST_DELAY_S doubling (or, without `doubling`, the cap at once), never above `cap`."""
    if not doubling:
        return sa.case((failures < free, 0.0), else_=cap)
    steps = [(failures == free + n, float(min(cap, FIRST_DELAY_S * 2**n))) for n in range(_LADDER_STEPS)]
    return sa.case((failures < free, 0.0), *steps, else_=cap)


def _claim(key: str, *, free: int, doubling: bool) -> Blocked | None:
    """Count one attempt for `key` if its gate is open (None), else say how long it stays shut."""
    now = time.time()
    cap = _cap_seconds()
    table = SignInThrottle.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # A key unused for a whole window starts counting again.
    failures = sa.case((table.c.updated_at < now - cap, 1), else_=table.c.failures + 1)
    first_wait = 0.0 if free > 1 else (min(cap, FIRST_DELAY_S) if doubling else cap)
    first = insert(table).values(key=key, failures=1, blocked_until=now + first_wait, updated_at=now)
    stmt = first.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": failures,
            "blocked_until": now + _delay(failures, free, cap, doubling=doubling),
            "updated_at": now,
        },
        where=table.c.blocked_until <= now,
    ).returning(table.c.failures)
    if db.session.execute(stmt).first() is not None:
        return None
    until = db.session.scalar(sa.select(table.c.blocked_until).where(table.c.key == key)) or now
    return Blocked(max(1, math.ceil(until - now)))


def network(ip: str | None) -> str | None:
    """What the throttle counts as one address: an IPv4 address itself, an IPv6 address's /64 network
    (all of it one subscriber's), an IPv4-mapped IPv6 address its IPv4 address; anything unreadable
    as it is."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # without an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def user_key(username: str, ip: str | None, client: str | None) -> str:
    return f"user:{username}|client:{client}" if client else f"user:{username}|addr:{network(ip) or '-'}"


def claim_attempt(username: str, ip: str | None, client: str | None) -> Blocked | None:
    """Claim one sign-in attempt (committed at once); a Blocked when it may not check a password."""
    config = current_app.config
    key = user_key(username, ip, client)
    address = network(ip)
    with uow.step("sign-in attempt"):
        blocked = _claim(key, free=int(config["IAS_SIGNIN_MAX_FAILURES"]), doubling=True)
        if blocked is None and client is None and address:
            blocked = _claim(f"addr:{address}", free=int(config["IAS_SIGNIN_ADDRESS_BUDGET"]), doubling=False)
            if blocked is not None:  # the username's attempt was not used after all
                _give_back(key)
    return blocked


def _give_back(key: str) -> None:
    table = SignInThrottle.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.key == key, table.c.failures > 0)
        .values(failures=table.c.failures - 1, blocked_until=0.0)
    )


def succeeded(username: str, ip: str | None, client: str | None) -> None:
    """A correct password: the username's count is cleared, the address gets its attempt back."""
    table = SignInThrottle.__table__
    db.session.execute(sa.delete(table).where(table.c.key == user_key(username, ip, client)))
    address = network(ip)
    if client is None and address:
        db.session.execute(
            sa.update(table)
            .where(table.c.key == f"addr:{address}", table.c.failures > 0)
            .values(failures=table.c.failures - 1)
        )


# ---------------------------------------------------------------------------------------------
# Known clients: browsers a user signed in from before


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="ias-known-client")


def known_client(cookie: str | None, username: str) -> str | None:
    """The client id in a known-client cookie issued to `username`, or None."""
    if not cookie:
        return None
    try:
        value = _serializer().loads(cookie)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("u") != username or not isinstance(value.get("c"), str):
        return None
    return str(value["c"])


def known_client_cookie(username: str) -> str:
    """A new known-client cookie for `username` (a random client id, signed)."""
    return str(_serializer().dumps({"u": username, "c": secrets.token_urlsafe(16)}))
