"""Reliability tests: the app attacked from outside, through a real gunicorn on the suite's own database.

Every test here commits for real (marker `real_commits`): the server answers from other processes. The
rows a test made are deleted after it (tests/conftest.py); the server's storage and temporary folders
are the test's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.accounts.tokens import issue_token
from app.extensions import db
from tests.notifications.servers import SmtpServer
from tests.reliability.server import Gunicorn


@pytest.fixture
def gunicorn(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Gunicorn]:
    """gunicorn, 2 workers, on the suite's (already migrated) database; stopped after the test."""
    with Gunicorn(database_url, tmp_path / "gunicorn") as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback (tests/notifications/servers.py)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def people_with_tokens(make_user: Any) -> Callable[..., list[tuple[int, str]]]:
    """`people_with_tokens(50, "surveyor")`: that many users (spread over `organizations`), committed,
    as (user id, bearer token) pairs. The test's session is closed after: it must hold no transaction
    while the server works (on SQLite it would block the server's writes)."""

    def make(count: int, role: str = "surveyor", organizations: tuple[str, ...] = ("forestry",)) -> Any:
        people = []
        for i in range(count):
            user = make_user(role, organizations[i % len(organizations)])
            token, _ = issue_token(user)
            people.append((user.id, token))
        db.session.commit()
        db.session.remove()
        return people

    return make


def stored_files(root: Path) -> set[str]:
    """Every file under a storage root, as a storage key (temporary files included, as they are named)."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
