"""A surveyor's photo upload on one bar of signal: too large, cut off, retried.

An upload larger than IAS_MAX_UPLOAD_MB is refused by Werkzeug before any view reads it; the answer still
names the file field and the limit, in the reader's language (docs/contract.md §6)."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.photos.test_photos_api import _stored_files, _upload, phone_jpeg, storage_dir  # noqa: F401


def _multipart(name: str, data: bytes, filename: str, **fields: str) -> dict[str, Any]:
    """A multipart body built in memory: the test client spools a large one to a temporary file, which
    stays open (a ResourceWarning) when the app refuses the body without reading it."""
    boundary, body = encode_multipart({**fields, name: FileStorage(io.BytesIO(data), filename)})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_a_40_mb_photo_is_refused_naming_the_file_in_chinese(
    api_as: Any, make_observation: Any, app: Flask
) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    big = phone_jpeg(size=(64, 64)) + os.urandom(40 * 1024 * 1024)
    response = api.post(
        f"/api/v1/observations/{record['id']}/photos",
        **_multipart("file", big, "IMG_0002.jpg"),
        headers={"Accept-Language": "zh-CN"},
    )
    body = response.get_json()
    assert response.status_code == 413, body
    assert body["errors"] == {"file": ["文件大于 25 MB，超过单次上传的上限。"]}, body
    assert body["message"] == body["errors"]["file"][0]
    assert _stored_files(app) == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/observations/1/photos",
        "/api/v1/control-operations/1/photos",
        "/api/v1/plots/1/photos",
        "/api/v1/imports?bureau=forestry",
        "/api/v1/species-lists/x/import",
    ],
)
def test_every_upload_too_large_names_its_file_field_and_the_limit(
    api_as: Any, app: Flask, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = api_as("admin").post(
        path, **_multipart("file", os.urandom(1024 * 1024 + 1), "big.bin"), headers={"Accept-Language": "en"}
    )
    body = response.get_json()
    assert response.status_code == 413, body
    assert body["errors"] == {"file": ["The file is larger than 1 MB, the most one upload may be."]}, body


def test_a_json_body_too_large_is_not_called_a_file(
    api_as: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = api_as("surveyor").post("/api/v1/observations", json={"notes": "x" * 2048})
    body = response.get_json()
    assert response.status_code == 413, body
    assert "file" not in body["errors"]


def test_a_page_upload_too_large_says_the_limit(
    web_as: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    web = web_as("bureau_admin")
    body = _multipart("import-file", os.urandom(1024 * 1024 + 1), "census.xlsx", csrf_token=web.csrf)
    response = web.client.post("/exports/import", **body)
    assert response.status_code == 413
    assert "文件大于 1 MB，超过单次上传的上限。" in response.get_data(as_text=True)


def test_a_photo_retried_three_times_is_one_photo(api_as: Any, make_observation: Any, app: Flask) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    data = phone_jpeg()
    cut = _upload(api, record["id"], data[: len(data) // 2])  # the first try, cut off half-way
    assert cut.status_code in (400, 422), cut.get_json()
    statuses = [_upload(api, record["id"], data).status_code for _ in range(3)]
    assert statuses == [201, 200, 200]
    assert len(api.get(f"/api/v1/observations/{record['id']}").get_json()["photos"]) == 1
    assert len(_stored_files(app)) == 3
