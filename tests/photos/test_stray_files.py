"""Photo files an upload left behind when its process died before the commit (killed, out of memory, a
power cut): nothing serves them, but an original keeps the surveyor's GPS. The nightly job deletes them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.photos import jobs
from app.photos.services import storage
from app.storage import new_key
from tests.photos.test_photos_api import _stored_files, _upload, phone_jpeg

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own

TWO_DAYS = 2 * 24 * 3600


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_files_no_photo_names_are_deleted_once_a_day_old(
    api_as: Any, make_observation: Any, app: Flask
) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    photo = _upload(api, record["id"], phone_jpeg()).get_json()
    kept = _stored_files(app)
    assert len(kept) == 3
    store = storage()
    # An upload killed after writing its files: three files, no row, two days ago.
    strays = []
    for variant, extension in (("original", ".jpg"), ("display", ".jpg"), ("thumb", ".jpg")):
        key = new_key(f"photos/{variant}", extension)
        store.put(key, b"\xff\xd8 an upload cut short")
        strays.append(store.path(key))
    # A write cut short before its rename.
    temporary = strays[0].parent / ".tmp-k2j4x9_a"
    temporary.write_bytes(b"half")
    strays.append(temporary)
    # An upload under way right now (its files written, its row not committed yet), and another
    # domain's file: both stay.
    in_flight_key = new_key("photos/original", ".heic")
    store.put(in_flight_key, b"being uploaded")
    export_key = "exports/forestry/census.xlsx"
    store.put(export_key, b"a workbook")
    for path in [*kept, *strays, store.path(export_key)]:
        _age(path, TWO_DAYS)

    assert jobs.remove_stray_files() == 4
    assert not any(path.exists() for path in strays)
    assert sorted(_stored_files(app)) == sorted([*kept, store.path(in_flight_key), store.path(export_key)])
    assert jobs.remove_stray_files() == 0  # safe to run twice
    for variant in ("thumb", "display", "original"):
        response = api.get(photo[f"{variant}_url"])
        assert response.status_code == 200
        response.close()
