"""The hostile corpus (corpus/) through the real server: photo uploads and census imports.

Each file goes to gunicorn (2 workers) as a client would send it. Every answer must be a 4xx in the
API's error envelope naming the `file` field, or a correct result; nothing may be left in storage or in
the server's temporary folder; and memory stays bounded: the workers' peak resident set (VmHWM, reset
before each file) stays under MEMORY_BOUND_MB — generous (a worker starts at about 100 MB, and a 50 MP
photo decodes to ~150 MB), but far below what the bombs inflate to (GBs).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl  # noqa: TID251 - the row report is a workbook
import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.observations.models import Observation
from app.photos.models import Photo
from tests.reliability.clients import Reply, Request, call, get_request, json_request, upload_request
from tests.reliability.conftest import stored_files
from tests.reliability.corpus import Case, photos, workbooks
from tests.reliability.server import Gunicorn

pytestmark = pytest.mark.real_commits

MEMORY_BOUND_MB = 400
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # IAS_MAX_UPLOAD_MB's default


def _checked_refusal(case: str, reply: Reply) -> None:
    """A 4xx in the API's envelope, with a message for people and the `file` field named."""
    body = reply.json()
    assert body["code"] == reply.status and body["message"], (case, body)
    if reply.status != 413 or body.get("errors"):
        assert "file" in body["errors"], (case, body)


class Run:
    """Sends the corpus, noting each file's answer and the workers' peak memory while handling it."""

    def __init__(self, server: Gunicorn) -> None:
        self.server = server
        self.peaks: dict[str, float] = {}
        self.answers: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.problems: list[str] = []

    def send(self, case: Case, path: str, token: str) -> Reply | None:
        data = case.build()
        self.server.reset_peaks()
        started = time.monotonic()
        request = upload_request(path, token, data, filename=case.filename, content_type=case.content_type)
        try:
            reply = call(self.server.host, self.server.port, request)
        except OSError as exc:
            self.problems.append(f"{case}: no answer ({exc!r})")
            return None
        self.seconds[case.name] = time.monotonic() - started
        self.peaks[case.name] = self.server.peak_rss_mb()
        self.answers[case.name] = reply.status
        if reply.status not in case.expect:
            self.problems.append(f"{case}: {reply!r}, expected {case.expect}")
            return None
        if reply.status >= 400:
            try:
                _checked_refusal(case.name, reply)
            except AssertionError as exc:
                self.problems.append(f"{case}: {exc}")
        elif case.check is not None:
            try:
                case.check(reply.json())
            except AssertionError as exc:
                self.problems.append(f"{case}: {exc} in {reply!r}")
        return reply

    def verdict(self) -> str:
        worst = max(self.peaks, key=self.peaks.__getitem__)
        slowest = max(self.seconds, key=self.seconds.__getitem__)
        each = "\n".join(
            f"  {name}: {self.answers[name]}, {self.peaks[name]:.0f} MB, {self.seconds[name]:.1f} s"
            for name in self.answers
        )
        return (
            f"{len(self.peaks)} files; peak worker RSS {self.peaks[worst]:.0f} MB ({worst}); "
            f"slowest {self.seconds[slowest]:.1f} s ({slowest})\n{each}"
        )

    def assert_clean(self) -> None:
        assert not self.problems, self.problems
        over = {name: mb for name, mb in self.peaks.items() if mb >= MEMORY_BOUND_MB}
        assert not over, over
        assert list(self.server.tmp.iterdir()) == []
        assert self.server.open_deleted_files() == []
        assert self.server.tracebacks() == []


@pytest.fixture(scope="module")
def server(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """One server for both tests: it only answers one file at a time here."""
    running = Gunicorn(database_url, tmp_path_factory.mktemp("hostile"))
    running.start()
    try:
        yield running
    finally:
        running.stop(graceful=False)  # nothing is in flight (every request was answered): no need to wait


def test_hostile_photos(server: Gunicorn, people_with_tokens: Any, observation_payload: Any) -> None:
    ((_, token),) = people_with_tokens(1, "surveyor")
    created = call(
        server.host,
        server.port,
        json_request("POST", "/api/v1/observations", token, observation_payload()),
    )
    assert created.status == 201, created
    record = created.json()["id"]
    run = Run(server)
    accepted = []
    for case in photos.photo_cases():
        reply = run.send(case, f"/api/v1/observations/{record}/photos", token)
        if reply is not None and reply.status == 201:
            accepted.append((case.name, reply.json()))

    # A body declared past the limit is refused from its headers, before it is read.
    too_big = upload_request(f"/api/v1/observations/{record}/photos", token, b"")
    head = dict(too_big.headers, **{"Content-Length": str(MAX_UPLOAD_BYTES + 1)})
    oversize = call(server.host, server.port, Request("POST", too_big.path, b"", head), timeout=30)
    assert oversize.status == 413 and oversize.json()["code"] == 413, oversize
    # Just under the limit, it is read (to a temporary file) and refused as no image.
    noise = Case("24 MB of noise", lambda: photos.noise(24 * 1024 * 1024, b"big"), (415,), "big.jpg")
    run.send(noise, f"/api/v1/observations/{record}/photos", token)
    # Someone else's record: refused before anything is written.
    ((_, other_token),) = people_with_tokens(1, "surveyor")
    forbidden = call(
        server.host,
        server.port,
        upload_request(f"/api/v1/observations/{record}/photos", other_token, photos.ordinary_jpeg()),
    )
    assert forbidden.status == 403, forbidden

    # The copies others see are clean JPEGs: nothing of a polyglot's payload survives.
    for name, result in accepted:
        for variant in ("display", "thumb"):
            served = call(
                server.host, server.port, get_request(f"/api/v1/photos/{result['id']}/{variant}", token)
            )
            assert served.status == 200 and served.headers["content-type"] == "image/jpeg", (name, served)
            assert served.headers["x-content-type-options"] == "nosniff"
            assert served.body.startswith(b"\xff\xd8") and b"<script" not in served.body, name
            assert b"PK\x03\x04" not in served.body and b"Exif" not in served.body, name

    print(run.verdict())  # the figures, shown with -s
    run.assert_clean()
    keys = db.session.execute(
        sa.select(Photo.original_key, Photo.display_key, Photo.thumb_key).where(
            Photo.observation_id == record
        )
    ).all()
    db.session.rollback()
    assert len(keys) == len(accepted)
    assert stored_files(server.storage) == {key for row in keys for key in row}


def _observations_count() -> int:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Observation))
    db.session.rollback()
    return int(count or 0)


def test_hostile_workbooks(server: Gunicorn, people_with_tokens: Any) -> None:
    ((admin_id, token),) = people_with_tokens(1, "bureau_admin", ("agriculture",))
    path = f"/api/v1/imports?bureau={workbooks.BUREAU}"
    run = Run(server)
    files_before = stored_files(server.storage)
    before = _observations_count()
    when = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    for case in workbooks.workbook_cases(when):
        run.send(case, path, token)
    assert _observations_count() == before  # nothing half-written by a refused workbook
    # Members named outside the archive are never unpacked anywhere: the workbook is read in memory.
    traversal = Case(
        "members named ../../",
        lambda: workbooks.path_traversal_members(when),
        (200,),
        "x.xlsx",
        workbooks.XLSX,
    )
    reply = run.send(traversal, path, token)
    assert reply is not None and reply.json()["imported"] == 1, reply

    # Text that looks like a formula is imported as the text typed; a formula is never evaluated.
    injection = Case(
        "formula injection", lambda: workbooks.formula_injection(when), (200,), "census.xlsx", workbooks.XLSX
    )
    reply_floor = db.session.scalar(sa.select(sa.func.max(Observation.id))) or 0
    db.session.rollback()
    reply = run.send(injection, path, token)
    assert reply is not None and reply.json()["imported"] == len(workbooks.INJECTIONS) + 1, reply
    notes = db.session.execute(
        sa.select(Observation.notes, Observation.place_name).where(
            Observation.surveyor_id == admin_id, Observation.id > reply_floor
        )
    ).all()
    db.session.rollback()
    assert sorted(n for n, _ in notes if n is not None) == sorted(workbooks.INJECTIONS)
    assert sorted(p for _, p in notes if p is not None) == sorted(text[:50] for text in workbooks.INJECTIONS)
    assert sum(1 for n, _ in notes if n is None) == 1  # the formula cell: no cached value, not "2"
    # The row report as a workbook (this time every row was imported before) holds no formula either.
    report = call(
        server.host,
        server.port,
        upload_request(
            f"{path}&report=xlsx", token, workbooks.formula_injection(when), filename="census.xlsx"
        ),
    )
    assert report.status == 200, report
    sheet = openpyxl.load_workbook(io.BytesIO(report.body)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    # Big and sparse sheets: read in bounded memory, every row accounted for.
    huge = run.send(
        Case(
            "huge sheet",
            lambda: workbooks.huge_sheet(workbooks.HUGE_ROWS, workbooks.HUGE_COLUMNS),
            (200,),
            "big.xlsx",
        ),
        path,
        token,
    )
    assert huge is not None and huge.json()["rejected"] == workbooks.HUGE_ROWS, huge
    corner = run.send(
        Case("one cell at XFD1048576", workbooks.far_corner, (200,), "corner.xlsx"), path, token
    )
    assert corner is not None and corner.json()["rows"] == [], corner

    print(run.verdict())  # the figures, shown with -s
    run.assert_clean()
    assert stored_files(server.storage) == files_before
