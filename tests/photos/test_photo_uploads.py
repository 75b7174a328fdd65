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

from tests.photos.test_photos_api import _stored_files, _upload, phone_jpeg

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own


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


@pytest.mark.parametrize(
    ("how", "status"),
    [("raw image/jpeg body", 415), ("JSON body", 415), ("file as a text field", 422)],
)
def test_a_photo_sent_the_wrong_way_is_told_how_to_send_it(
    api_as: Any, make_observation: Any, app: Flask, how: str, status: int
) -> None:
    """An API client that posts the bytes themselves, JSON, or the file as a plain form field (no file
    name) is told to send a multipart file part in `file`, in Chinese first: not "send JSON", not
    "missing", not "must not contain NUL characters"."""
    api = api_as("surveyor")
    record = make_observation(api)
    url = f"/api/v1/observations/{record['id']}/photos"
    data = phone_jpeg(size=(100, 80))
    zh = {"Accept-Language": "zh-CN"}
    if how == "raw image/jpeg body":
        response = api.post(url, data=data, content_type="image/jpeg", headers=zh)
    elif how == "JSON body":
        response = api.post(url, json={"file": "base64…"}, headers=zh)
    else:
        boundary = "x-photo"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        multipart = f"multipart/form-data; boundary={boundary}"
        response = api.post(url, data=body, content_type=multipart, headers=zh)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert list(answer["errors"]) == ["file"]
    assert "multipart/form-data" in answer["message"] and "file" in answer["message"]
    assert "文件" in answer["message"]
    assert "JSON" not in answer["message"]
    assert _stored_files(app) == []
