"""Fifty phones on a bad network against gunicorn (2 workers): every record lands once, none is lost.

For LOAD_SECONDS, each of CLIENTS threads (one surveyor and token each) records observations with a
`client_uuid` and attaches photos to them. A quarter of the requests are given up on: written and
the connection closed before the answer (the server may or may not have acted), or abandoned after a
short wait, or (photos) cut off half-way through the upload. Given-up requests are retried later with
the same bytes, as the app's outbox does. Afterwards every request never acknowledged is sent once more
and must be answered 200 or 201; then the server is stopped (gracefully: requests it still held
finish) and the database and the storage folder are compared with what the clients were told:

- no answer was a 5xx (or anything but 200/201 for a well-formed request);
- each client_uuid attempted is exactly one row, with the id the acknowledgements gave;
- each (observation, photo bytes) attempted is exactly one photo row; no file in storage lacks a row,
  no row lacks its files, and no temporary file is left (in storage or the server's TMPDIR).

Runs on SQLite (two processes writing one file: BEGIN IMMEDIATE queues them) and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.observations.models import Observation
from app.photos.models import Photo
from tests.conftest import PADDY
from tests.photos.images import encode, photo
from tests.reliability.clients import Request, call, json_request, send_and_drop, upload_request
from tests.reliability.conftest import stored_files
from tests.reliability.server import Gunicorn

pytestmark = pytest.mark.real_commits

CLIENTS = 50
LOAD_SECONDS = 15.0
PHOTO_SHARE = 0.3  # of the steps, once a client has a record to attach to
RETRY_SHARE = 0.5  # of the steps, while a client has something unacknowledged
SEED = int(os.environ.get("RELIABILITY_SEED") or random.SystemRandom().randrange(1_000_000))


@dataclass
class Ledger:
    """What the clients sent and what they were told, shared by all client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: dict[str, Request] = field(default_factory=dict)  # client_uuid → the request
    acked: dict[str, int] = field(default_factory=dict)  # client_uuid → id in the acknowledgement
    photos: dict[tuple[int, str], Request] = field(default_factory=dict)  # (observation, sha256)
    photos_acked: dict[tuple[int, str], int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    tally: Counter[str] = field(default_factory=Counter)

    def count(self, what: str) -> None:
        with self.lock:
            self.tally[what] += 1

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def _ack_record(ledger: Ledger, client_uuid: str, reply: Any) -> bool:
    if reply.status not in (200, 201):
        ledger.fail(f"observation {client_uuid}: {reply!r}")
        return False
    record_id = reply.json()["id"]
    with ledger.lock:
        earlier = ledger.acked.setdefault(client_uuid, record_id)
        ledger.tally[f"observation {reply.status}"] += 1
    if earlier != record_id:
        ledger.fail(f"observation {client_uuid} acknowledged as {earlier} and as {record_id}")
    return True


def _ack_photo(ledger: Ledger, key: tuple[int, str], reply: Any) -> bool:
    if reply.status not in (200, 201):
        ledger.fail(f"photo {key}: {reply!r}")
        return False
    body = reply.json()
    if body["sha256"] != key[1]:
        ledger.fail(f"photo {key} answered with sha256 {body['sha256']}")
    with ledger.lock:
        earlier = ledger.photos_acked.setdefault(key, body["id"])
        ledger.tally[f"photo {reply.status}"] += 1
    if earlier != body["id"]:
        ledger.fail(f"photo {key} acknowledged as {earlier} and as {body['id']}")
    return True


def _send(
    server: Gunicorn, request: Request, rng: random.Random, ledger: Ledger, kind: str, cut: bool
) -> Any:
    """Send one way or another: the reply when one was read, else None (given up on)."""
    roll = rng.random()
    try:
        if roll < 0.12:
            send_and_drop(server.host, server.port, request)
            ledger.count(f"{kind} dropped after sending")
            return None
        if cut and roll < 0.2:
            send_and_drop(server.host, server.port, request, fraction=rng.uniform(0.2, 0.9))
            ledger.count(f"{kind} cut off mid-upload")
            return None
        if roll < 0.25:
            try:
                return call(server.host, server.port, request, timeout=rng.uniform(0.01, 0.3))
            except TimeoutError:
                ledger.count(f"{kind} given up waiting")
                return None
        return call(server.host, server.port, request)
    except OSError as exc:
        ledger.fail(f"{kind}: no answer from the server: {exc!r}")
        return None


def _client(
    server: Gunicorn,
    token: str,
    payload: Any,
    pictures: list[bytes],
    ledger: Ledger,
    rng: random.Random,
    deadline: float,
) -> None:
    unacked: list[str] = []
    unacked_photos: list[tuple[int, str]] = []
    mine: list[int] = []
    while time.monotonic() < deadline:
        if mine and rng.random() < PHOTO_SHARE:
            if unacked_photos and rng.random() < RETRY_SHARE:
                key = unacked_photos.pop(rng.randrange(len(unacked_photos)))
                request = ledger.photos[key]
            else:
                picture = rng.choice(pictures)
                key = (rng.choice(mine), hashlib.sha256(picture).hexdigest())
                request = upload_request(f"/api/v1/observations/{key[0]}/photos", token, picture)
                with ledger.lock:
                    request = ledger.photos.setdefault(key, request)
            reply = _send(server, request, rng, ledger, "photo", cut=True)
            if reply is None or not _ack_photo(ledger, key, reply):
                unacked_photos.append(key)
            continue
        if unacked and rng.random() < RETRY_SHARE:
            client_uuid = unacked.pop(rng.randrange(len(unacked)))
            request = ledger.records[client_uuid]
        else:
            body = payload(
                latitude=PADDY[0] + rng.uniform(-0.02, 0.02),
                longitude=PADDY[1] + rng.uniform(-0.02, 0.02),
                density_per_m2=round(rng.uniform(0, 40), 1),
            )
            client_uuid = body["client_uuid"]
            request = json_request("POST", "/api/v1/observations", token, body)
            with ledger.lock:
                ledger.records[client_uuid] = request
        reply = _send(server, request, rng, ledger, "observation", cut=False)
        if reply is not None and _ack_record(ledger, client_uuid, reply):
            mine.append(reply.json()["id"])
        else:
            unacked.append(client_uuid)


def test_fifty_clients_retrying_lose_nothing_and_duplicate_nothing(
    gunicorn: Gunicorn, people_with_tokens: Any, observation_payload: Any
) -> None:
    people = people_with_tokens(CLIENTS, "surveyor", ("forestry", "agriculture"))
    user_ids = [user_id for user_id, _ in people]
    pictures = [encode(photo(160, 120), "JPEG", quality=80) for _ in range(24)]
    ledger = Ledger()
    deadline = time.monotonic() + LOAD_SECONDS
    threads = [
        threading.Thread(
            target=_client,
            args=(
                gunicorn,
                token,
                observation_payload,
                pictures,
                ledger,
                random.Random(f"{SEED}:{i}"),  # noqa: S311 - chance, not secrets
                deadline,
            ),
            name=f"client-{i}",
        )
        for i, (_, token) in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads)

    # Whatever was never acknowledged is sent once more, and must now be answered.
    never_answered = [u for u in ledger.records if u not in ledger.acked]
    for client_uuid in never_answered:
        reply = call(gunicorn.host, gunicorn.port, ledger.records[client_uuid])
        _ack_record(ledger, client_uuid, reply)
    photos_never_answered = [k for k in ledger.photos if k not in ledger.photos_acked]
    for key in photos_never_answered:
        _ack_photo(ledger, key, call(gunicorn.host, gunicorn.port, ledger.photos[key]))
    tracebacks = gunicorn.tracebacks()
    gunicorn.stop()  # requests the workers still held (given up on by their clients) finish first

    summary = (
        f"seed {SEED}: {len(ledger.records)} records, {len(never_answered)} resent at the end; "
        f"{len(ledger.photos)} photos, {len(photos_never_answered)} resent; {dict(ledger.tally)}"
    )
    print(summary)  # the run's figures, shown with -s
    assert not ledger.failures, (summary, ledger.failures[:20])
    assert not tracebacks, tracebacks[:3]
    assert ledger.tally["photo 201"] > 0 and ledger.tally["observation dropped after sending"] > 0, summary

    rows = db.session.execute(
        sa.select(Observation.client_uuid, Observation.id).where(Observation.surveyor_id.in_(user_ids))
    ).all()
    per_uuid = Counter(str(client_uuid) for client_uuid, _ in rows)
    assert [u for u, n in per_uuid.items() if n > 1] == []  # no duplicate
    assert set(per_uuid) == set(ledger.records)  # nothing lost, nothing extra
    assert {str(client_uuid): record_id for client_uuid, record_id in rows} == ledger.acked

    photos = db.session.execute(
        sa.select(
            Photo.observation_id,
            Photo.sha256,
            Photo.id,
            Photo.original_key,
            Photo.display_key,
            Photo.thumb_key,
        )
        .join(Observation, Observation.id == Photo.observation_id)
        .where(Observation.surveyor_id.in_(user_ids))
    ).all()
    db.session.rollback()
    per_key = Counter((p.observation_id, p.sha256) for p in photos)
    assert [k for k, n in per_key.items() if n > 1] == []
    assert set(per_key) == set(ledger.photos)
    assert {(p.observation_id, p.sha256): p.id for p in photos} == ledger.photos_acked

    keys = {key for p in photos for key in (p.original_key, p.display_key, p.thumb_key)}
    files = stored_files(gunicorn.storage)
    assert sorted(files - keys) == []  # no file without its row (temporary files included)
    assert sorted(keys - files) == []  # no row without its files
    assert list(gunicorn.tmp.iterdir()) == []
