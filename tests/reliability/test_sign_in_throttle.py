"""Parallel password guesses against gunicorn (2 workers) on the suite's database: the throttle holds.

Each attempt is claimed by one INSERT … ON CONFLICT … RETURNING before its password is checked, so of
40 guesses sent at once exactly IAS_SIGNIN_MAX_FAILURES are checked (401) and the rest are refused
(429), on SQLite and on PostgreSQL. The check-then-act version it replaced let 15 of 40 through.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from tests.reliability.clients import Request, call
from tests.reliability.server import Gunicorn

GUESSES = 40
FREE = 5  # IAS_SIGNIN_MAX_FAILURES's default


@pytest.mark.real_commits
def test_forty_parallel_guesses_check_only_the_allowed_five(gunicorn: Gunicorn, make_user: Any) -> None:
    user = make_user("admin")
    username = user.username
    db.session.commit()
    db.session.remove()  # no transaction held while the server writes (SQLite's single writer)
    barrier = threading.Barrier(GUESSES)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        body = json.dumps({"username": username, "password": f"guess-{i}"}).encode()
        request = Request("POST", "/api/v1/auth/tokens", body, {"Content-Type": "application/json"})
        barrier.wait()
        reply = call(gunicorn.host, gunicorn.port, request)
        with lock:
            statuses.append(reply.status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(statuses) == {401: FREE, 429: GUESSES - FREE}, gunicorn.tracebacks()
    checked = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditLog)
        .where(AuditLog.action == "sign_in_failed", AuditLog.entity_id == username)
    )
    assert checked == FREE
