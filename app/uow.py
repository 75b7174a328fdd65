"""The unit of work: one commit per API request, page post, command and job; a rollback on any error.

Services change the session and never commit. The edge commits once, here:

- **Requests**: `commit_request` runs after every view. A response under 400 commits what the view did; a
  4xx or 5xx answer (or an exception) commits nothing, so nothing is half-written. The response is already
  built when it runs, so the commit keeps what the session holds (no reload of what was just written).
- **Commands and jobs**: `@transactional` (or `with unit():`) commits when the body returns and rolls back
  when it raises.
- **Deliberate transactions of their own** inside a longer unit: `with step("why")` commits at once. Only
  the reasons in `STEPS` may do this (a sign-in attempt counted before the password is checked, a
  remembered browser's session secrets replaced, a claim on outbox deliveries or an export, each
  delivery's outcome, an export's progress), and each is named where it happens, so a reader sees every
  commit that is not the edge's.

`after_commit(fn)` runs `fn` once the current transaction has committed (and drops it on rollback): for work
that must only start when the rows it reads are visible to other connections (an export's runner).

See docs/architecture.md ("The unit of work").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from flask import Flask, Response, g, request
from sqlalchemy.orm import Session

from app.db import read_only_work
from app.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

# The only reasons a unit of work may commit before its edge (see the module docstring).
STEPS = frozenset(
    {
        "sign-in attempt",  # counted even when the sign-in then fails (app/accounts/throttle.py)
        # A remembered browser's secrets replaced before the view runs: the cookies set on the answer
        # must match what is stored, whatever the request then answers (app/accounts/sessions.py).
        "session rotation",
        # Deliveries taken by one sender, and each one's claim renewed just before it is sent: the other
        # senders see them taken at once, and a sender whose claim lapsed sees it lost before it sends.
        "outbox claim",
        "outbox outcome",  # each message's outcome kept as soon as it is sent
        "export claim",  # an export taken by one runner
        "export progress",  # the export page shows progress while the runner works
        "scheduler lease",  # the leader lease between scheduler processes
    }
)

_AFTER_COMMIT = "ias_after_commit"
# Methods that change nothing: their transactions need no write lock (app/db.py, `read_only_work`).
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def commit(session: Session | None = None) -> None:
    """Commit without expiring what the session holds: the edge has finished with the objects, and a
    reload would only cost a SELECT per object (see `commit_request`)."""
    session = session or db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def rollback(session: Session | None = None) -> None:
    (session or db.session()).rollback()


def commit_request(response: Response) -> Response:
    """Flask `after_request`: commit a successful request's unit of work; leave a failed one to roll back.

    A failure at commit (a unique key taken by a concurrent request, a lost connection) rolls back and
    re-raises, so the client gets the error answer and nothing of the request is kept.
    """
    session = db.session()
    if response.status_code >= 400:
        session.rollback()
        return response
    if not session.in_transaction():
        return response
    try:
        commit(session)
    except Exception:
        session.rollback()
        raise
    return response


@contextmanager
def unit(session: Session | None = None) -> Iterator[Session]:
    """A unit of work for a command or a job: commit when the block ends, roll back when it raises."""
    session = session or db.session()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


def transactional(fn: Callable[P, R]) -> Callable[P, R]:
    """`unit()` as a decorator, for click commands and scheduled jobs."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with unit():
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def step(reason: str, session: Session | None = None) -> Iterator[Session]:
    """A transaction of its own inside a longer unit of work, committed when the block ends.

    `reason` must be one of `STEPS`: a commit in the middle of a unit is a decision, named where it is made.
    """
    if reason not in STEPS:
        raise ValueError(f"not a named step of its own: {reason!r} (see app.uow.STEPS)")
    session = session or db.session()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


def after_commit(fn: Callable[[], Any], session: Session | None = None) -> None:
    """Run `fn` once the current transaction commits; forget it if the transaction rolls back."""
    session = session or db.session()
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        callback()


def _forget_after_commit(session: Session, previous_transaction: Any) -> None:
    if getattr(previous_transaction, "nested", False):
        return  # a savepoint rolled back (a create-once race); the unit itself goes on
    session.info.pop(_AFTER_COMMIT, None)


def mark_read_only_request() -> None:
    """Flask `before_request`: tell the database layer whether this request only reads."""
    g.ias_read_only_token = read_only_work.set(request.method in READ_ONLY_METHODS)


def unmark_request(exc: BaseException | None = None) -> None:
    """Flask `teardown_request`: the work after the request (a test's, a command's) may write again."""
    token = g.pop("ias_read_only_token", None)
    if token is None:
        return
    try:
        read_only_work.reset(token)
    except ValueError:  # the request ran in another context (a server's thread): nothing to restore
        read_only_work.set(False)


def init_app(app: Flask) -> None:
    # Registered before any other hook that could open a transaction (create_app calls this first).
    app.before_request(mark_read_only_request)
    app.teardown_request(unmark_request)
    app.after_request(commit_request)
    if not sa.event.contains(Session, "after_commit", _run_after_commit):
        sa.event.listen(Session, "after_commit", _run_after_commit)
        sa.event.listen(Session, "after_soft_rollback", _forget_after_commit)
