"""The accounts domain's scheduled work (app/accounts/jobs.py)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.accounts import jobs
from app.accounts.models import SignInThrottle
from app.extensions import db


def test_prune_sign_ins_deletes_old_counts_and_says_how_many() -> None:
    long_ago = time.time() - 7 * 24 * 3600
    db.session.add(
        SignInThrottle(key="addr:192.0.2.9", failures=3, blocked_until=long_ago, updated_at=long_ago)
    )
    db.session.add(
        SignInThrottle(key="addr:192.0.2.10", failures=1, blocked_until=0.0, updated_at=time.time())
    )
    db.session.flush()
    assert jobs.prune_sign_ins() == "1 ended sessions and old sign-in counts deleted"
    kept = db.session.scalars(sa.select(SignInThrottle.key)).all()
    assert kept == ["addr:192.0.2.10"]
    assert jobs.prune_sign_ins() == ""  # nothing left to prune: nothing to log
