"""Requests (or any calls) made at the same moment, for the tests of concurrency (marker `real_commits`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from app.extensions import db


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` in threads released together by a barrier; their answers, in order. The test's own
    session is rolled back first: it must hold no transaction (on SQLite, a write lock) beside them."""
    db.session.rollback()
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[i] = calls[i]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return answers


def post_together(api: Any, path: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """One POST of each body to `path`, all at once."""
    return at_once(*(lambda body=body: api.post(path, json=body) for body in bodies))


def waiting_on_a_lock(timeout: float = 10) -> bool:
    """PostgreSQL: whether, within `timeout` seconds, a session of this database waits on a lock (a
    request held behind another's advisory or row lock): awaited, not slept for."""
    until = time.monotonic() + timeout
    with db.engine.connect() as connection:
        while time.monotonic() < until:
            waiting = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            connection.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    return False
