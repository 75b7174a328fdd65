"""Uploading photos to observations through the API: derivatives, EXIF, de-duplication, bad files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image  # noqa: TID251 -- tests build their own images

from app import uow
from tests.conftest import PADDY

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own

LAT, LON = PADDY


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    return float(degrees), float(minutes), round((minutes_float - minutes) * 60, 4)


def phone_jpeg(
    *,
    size: tuple[int, int] = (2400, 1800),
    gps: tuple[float, float] | None = None,
    taken: str | None = "2026:05:04 09:30:00",
    orientation: int | None = None,
    colour: tuple[int, int, int] = (40, 160, 60),
) -> bytes:
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"  # Make
    if orientation:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
    if gps:
        lat, lon = gps
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd.update({1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def _upload(api: Any, observation_id: int, data: bytes, name: str = "IMG_0001.jpg") -> Any:
    return api.post(
        f"/api/v1/observations/{observation_id}/photos",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _stored_files(app: Flask) -> list[Path]:
    root = Path(app.config["IAS_STORAGE_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_phone_photo_is_stored_with_derivatives_and_exif(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = _upload(api, record["id"], phone_jpeg(gps=(LAT, LON)))
    assert response.status_code == 201, response.get_json()
    photo = response.get_json()
    assert (photo["width"], photo["height"]) == (2400, 1800)
    assert photo["taken_at"] == "2026-05-04T09:30:00+08:00"  # EXIF time without offset is local
    assert photo["gps"]["latitude"] == pytest.approx(LAT, abs=1e-5)
    assert photo["gps"]["longitude"] == pytest.approx(LON, abs=1e-5)
    assert photo["gps_distance_m"] < 5
    assert len(photo["sha256"]) == 64

    files = {}
    for variant in ("display", "thumb", "original"):
        response = api.get(photo[f"{variant}_url"])
        assert response.status_code == 200
        # The copies may stay in the browser's own cache; the original, with its GPS, never.
        expected = "no-store" if variant == "original" else "private, max-age=86400, immutable"
        assert response.headers["Cache-Control"] == expected
        files[variant] = response.data
        response.close()  # send_file streams from an open file
    with Image.open(io.BytesIO(files["display"])) as image:
        assert max(image.size) == 1600
        assert not image.getexif()
    with Image.open(io.BytesIO(files["thumb"])) as image:
        assert max(image.size) == 320
    assert b"HUAWEI" not in files["display"] and b"HUAWEI" not in files["thumb"]
    assert b"HUAWEI" in files["original"]  # the original is kept as uploaded

    listed = api.get(f"/api/v1/observations/{record['id']}").get_json()
    assert [p["id"] for p in listed["photos"]] == [photo["id"]]
    assert listed["flags"] == []


def test_photos_are_behind_sign_in(api_as: Any, make_observation: Any, anonymous_api: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    photo = _upload(api, record["id"], phone_jpeg()).get_json()
    for url in (photo["thumb_url"], photo["display_url"], photo["original_url"]):
        assert anonymous_api.get(url).status_code == 401


def test_same_photo_twice_is_one_photo(api_as: Any, make_observation: Any, app: Flask) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    data = phone_jpeg()
    first = _upload(api, record["id"], data)
    files = _stored_files(app)
    again = _upload(api, record["id"], data, name="copy.jpg")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _stored_files(app) == files
    assert len(files) == 3  # original, display, thumbnail


def test_photo_far_from_the_record_flags_it(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = _upload(api, record["id"], phone_jpeg(gps=(LAT + 0.01, LON)))  # ~1.1 km north
    assert response.status_code == 201
    assert response.get_json()["gps_distance_m"] > 1000
    assert api.get(f"/api/v1/observations/{record['id']}").get_json()["flags"] == ["photo_gps_far"]
    moved = api.patch(f"/api/v1/observations/{record['id']}", json={"latitude": LAT + 0.01, "longitude": LON})
    assert moved.get_json()["flags"] == []  # the position was corrected to where the photo was taken


def test_orientation_is_applied(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    photo = _upload(api, record["id"], phone_jpeg(size=(400, 300), orientation=6)).get_json()
    assert (photo["width"], photo["height"]) == (300, 400)


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (b"just some notes\n", "notes.jpg", 415),
        (b"GIF89a" + b"\x00" * 64, "anim.gif", 415),
        (phone_jpeg()[:4000], "cut.jpg", 422),
        (b"", "empty.jpg", 415),
    ],
)
def test_bad_files_are_refused_and_leave_nothing(
    api_as: Any, make_observation: Any, app: Flask, data: bytes, name: str, status: int
) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = _upload(api, record["id"], data, name)
    assert response.status_code == status, response.get_json()
    assert "file" in response.get_json()["errors"]
    assert _stored_files(app) == []
    assert api.get(f"/api/v1/observations/{record['id']}").get_json()["photos"] == []


def test_decompression_bomb_is_refused(api_as: Any, make_observation: Any, app: Flask) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")  # 144 MP, a few kB
    response = _upload(api, record["id"], bomb.getvalue(), "bomb.png")
    assert response.status_code == 413
    assert "file" in response.get_json()["errors"]
    assert _stored_files(app) == []


def test_missing_file_field_is_named(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api)
    response = api.post(
        f"/api/v1/observations/{record['id']}/photos",
        data={"photo": (io.BytesIO(phone_jpeg()), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]


def test_only_the_surveyor_adds_photos_and_only_before_review(api_as: Any, make_observation: Any) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    assert _upload(api_as("surveyor"), record["id"], phone_jpeg()).status_code == 403
    api_as("verifier").post(f"/api/v1/observations/{record['id']}/review", json={"decision": "verified"})
    assert _upload(surveyor, record["id"], phone_jpeg()).status_code == 409
    assert _upload(surveyor, 987654, phone_jpeg()).status_code == 404


@pytest.mark.parametrize("decision", ["verified", "rejected"])
def test_a_photo_sent_again_after_a_lost_answer_is_the_same_photo_once_the_record_is_reviewed(
    api_as: Any, make_observation: Any, app: Flask, decision: str
) -> None:
    """One bar: the photo reached the server but its answer did not; a verifier reviews the record before
    the phone tries again. The retry must hear that the server has the photo (200, the same one), not that
    it is refused (409): a refusal keeps it on the phone as "not accepted" although it is saved."""
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    data = phone_jpeg()
    first = _upload(surveyor, record["id"], data)
    assert first.status_code == 201
    files = _stored_files(app)
    reviewed = api_as("verifier").post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": decision, "comment": "看过了"}
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    again = _upload(surveyor, record["id"], data)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _stored_files(app) == files
    # A photo the record does not have yet is still refused once it is reviewed.
    other = _upload(surveyor, record["id"], phone_jpeg(colour=(200, 30, 30)))
    assert other.status_code == 409
    assert _upload(api_as("surveyor"), record["id"], data).status_code == 403  # not theirs: still refused


def test_originals_are_for_the_recording_organization_and_every_download_is_audited(
    api_as: Any, make_observation: Any, make_user: Any
) -> None:
    import sqlalchemy as sa

    from app.audit.models import AuditLog
    from app.extensions import db

    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    photo = _upload(surveyor, record["id"], phone_jpeg(gps=(LAT, LON))).get_json()
    allowed = [surveyor, api_as("verifier"), api_as("supervisor"), api_as("admin", "agriculture")]
    refused = [api_as(role, "agriculture") for role in ("surveyor", "verifier", "supervisor", "bureau_admin")]
    for api in refused:
        answer = api.get(photo["original_url"])
        assert answer.status_code == 403, api.user.role
        assert "original" in answer.get_json()["message"].lower() or "原图" in answer.get_json()["message"]
        copy = api.get(photo["display_url"])  # the copy without metadata stays visible to everyone
        assert copy.status_code == 200
        copy.close()
    for api in allowed:
        answer = api.get(photo["original_url"])
        assert answer.status_code == 200, api.user.role
        assert b"HUAWEI" in answer.data
        answer.close()
    downloads = db.session.scalars(
        sa.select(AuditLog.actor_id).where(
            AuditLog.action == "photo_original_downloaded", AuditLog.entity_id == str(photo["id"])
        )
    ).all()
    assert sorted(downloads) == sorted(api.user.id for api in allowed)


def test_the_position_read_from_a_photo_is_for_those_who_may_have_its_original(
    api_as: Any, make_observation: Any
) -> None:
    """docs/contract.md §6: a photo's EXIF position is the original's (where the phone was). Everyone signed
    in sees the record and its photo's copies; only the recording bureau's staff and admins see `gps` and
    `gps_distance_m`, in the record, the records list and the site's history alike."""
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    north = LAT + 0.0003  # about 33 m from the record
    photo = _upload(surveyor, record["id"], phone_jpeg(gps=(north, LON))).get_json()
    site_id = surveyor.get(f"/api/v1/observations/{record['id']}").get_json()["site_id"]
    assert site_id is not None

    def seen(api: Any) -> list[dict[str, Any]]:
        """The photo as each answer that carries it shows it to `api`'s user."""
        one = api.get(f"/api/v1/observations/{record['id']}").get_json()["photos"]
        listed = api.get("/api/v1/observations", query_string={"site_id": site_id}).get_json()["items"]
        site = api.get(f"/api/v1/sites/{site_id}").get_json()
        on_site = [p for o in site["observations"] for p in o["photos"]]
        every = [*one, *(p for o in listed for p in o["photos"]), *on_site]
        found = [p for p in every if p["id"] == photo["id"]]
        assert len(found) == 3, api.user.role
        return found

    for api in (surveyor, api_as("verifier"), api_as("supervisor"), api_as("admin", "agriculture")):
        for shown in seen(api):
            assert shown["gps"]["latitude"] == pytest.approx(north, abs=1e-5), api.user.role
            assert shown["gps"]["longitude"] == pytest.approx(LON, abs=1e-5)
            assert 25 < shown["gps_distance_m"] < 40
    for role in ("surveyor", "verifier", "supervisor", "bureau_admin"):
        api = api_as(role, "agriculture")
        for shown in seen(api):
            assert shown["gps"] is None, role
            assert shown["gps_distance_m"] is None
            assert shown["display_url"] == photo["display_url"]  # the copy without metadata stays visible


def test_a_units_originals_are_for_its_bureau_too_and_not_for_another_bureau(
    api_as: Any, make_observation: Any
) -> None:
    """docs/contract.md §1: a township station's originals go to its own staff and to its bureau's
    (its verifiers among them); another bureau and a sibling unit are refused. Every download audited."""
    import sqlalchemy as sa

    from app.accounts.models import Organization, OrganizationKind
    from app.audit.models import AuditLog
    from app.extensions import db

    def org(code: str) -> Organization:
        found = db.session.scalar(sa.select(Organization).where(Organization.code == code))
        assert found is not None
        return found

    for code, parent in (("lp-station", "forestry"), ("lp-farm", "forestry"), ("ag-station", "agriculture")):
        db.session.add(
            Organization(code=code, name=code, kind=OrganizationKind.TOWNSHIP_STATION, parent=org(parent))
        )
    db.session.commit()
    surveyor = api_as("surveyor", "lp-station")
    record = make_observation(surveyor)
    photo = _upload(surveyor, record["id"], phone_jpeg(gps=(LAT, LON))).get_json()
    allowed = [surveyor, api_as("verifier", "forestry"), api_as("supervisor", "forestry")]
    refused = [
        api_as("verifier", "agriculture"),
        api_as("bureau_admin", "agriculture"),
        api_as("verifier", "ag-station"),
        api_as("verifier", "lp-farm"),  # a sibling unit acts for itself only
    ]
    for api in refused:
        answer = api.get(photo["original_url"])
        assert answer.status_code == 403, (api.user.role, api.user.organization.code)
        answer.close()
    for api in allowed:
        answer = api.get(photo["original_url"])
        assert answer.status_code == 200, (api.user.role, api.user.organization.code)
        assert b"HUAWEI" in answer.data
        answer.close()
    downloads = db.session.scalars(
        sa.select(AuditLog.actor_id).where(
            AuditLog.action == "photo_original_downloaded", AuditLog.entity_id == str(photo["id"])
        )
    ).all()
    assert sorted(downloads) == sorted(api.user.id for api in allowed)

    # A bureau's own record stays closed to its units' staff.
    bureau_record = make_observation(api_as("surveyor", "forestry"))
    bureau_photo = _upload(
        api_as("admin"), bureau_record["id"], phone_jpeg(gps=(LAT, LON)), name="IMG_0002.jpg"
    ).get_json()
    answer = api_as("verifier", "lp-station").get(bureau_photo["original_url"])
    assert answer.status_code == 403
    answer.close()


def test_files_are_removed_when_the_unit_of_work_does_not_commit(
    api_as: Any, make_observation: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are written before the row; a request whose commit fails (app/uow.py) leaves none."""

    api = api_as("surveyor")
    record = make_observation(api)

    def failing_commit(session: Any = None) -> None:
        raise RuntimeError("the database went away at commit")

    monkeypatch.setattr(uow, "commit", failing_commit)
    try:
        response = _upload(api, record["id"], phone_jpeg())
    except RuntimeError:
        pass
    else:
        assert response.status_code == 500
    assert _stored_files(app) == []
    monkeypatch.undo()
    assert _upload(api, record["id"], phone_jpeg()).status_code == 201
    assert len(_stored_files(app)) == 3


def test_a_photo_is_on_disk_for_good_before_its_row_is_committed(
    api_as: Any, make_observation: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The phone frees its copy once the server answers 201, so the files must survive a power cut from the
    moment the row is committed: each file, and the directory entries naming it (new directories too), are
    synced to the disk before the commit. Without that a power cut leaves a row whose files are empty or
    gone, and the photo is lost on both sides."""
    import os

    from app import storage

    synced: list[int] = []  # inodes: a file is synced under its temporary name, then renamed
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    committed: list[set[int]] = []
    real_commit = uow.commit

    def commit(session: Any = None) -> None:
        committed.append(set(synced))
        real_commit(session)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    monkeypatch.setattr(uow, "commit", commit)
    api = api_as("surveyor")
    record = make_observation(api)
    synced.clear()
    committed.clear()
    assert _upload(api, record["id"], phone_jpeg()).status_code == 201
    files = _stored_files(app)
    assert len(files) == 3
    root = Path(app.config["IAS_STORAGE_DIR"]).resolve()
    for file in files:
        assert file.stat().st_ino in committed[-1], file
        # The directory naming the file, and each directory made for it (named by its parent).
        for directory in file.resolve().parents:
            assert directory.stat().st_ino in committed[-1], directory
            if directory == root:
                break


def test_a_photo_whose_files_were_lost_is_made_whole_by_sending_it_again(
    api_as: Any, make_observation: Any, app: Flask
) -> None:
    """A row without its files: the commit reached the database but its answer did not (the unit of work
    then removes the files it wrote), or a disk was restored from an older copy. The phone, told 5xx,
    still has the photo and sends it again: the retry writes the files back under the row's keys instead of
    answering "already here" for a photo nobody can open. Meanwhile asking for a lost file is a 404 that
    says so, not a 500."""
    api = api_as("surveyor")
    record = make_observation(api)
    data = phone_jpeg(gps=(LAT, LON))
    photo = _upload(api, record["id"], data).get_json()
    for file in _stored_files(app):
        file.unlink()
    for variant in ("thumb", "display", "original"):
        lost = api.get(photo[f"{variant}_url"], headers={"Accept-Language": "zh-CN"})
        assert lost.status_code == 404, variant
        assert "重新" in lost.get_json()["message"]
    again = _upload(api, record["id"], data)
    assert again.status_code == 200
    assert again.get_json()["id"] == photo["id"]
    assert len(_stored_files(app)) == 3
    original = api.get(photo["original_url"])
    assert original.status_code == 200
    assert original.data == data
    original.close()
    for variant in ("thumb", "display"):
        copy = api.get(photo[f"{variant}_url"])
        assert copy.status_code == 200
        with Image.open(io.BytesIO(copy.data)) as image:
            assert max(image.size) == {"thumb": 320, "display": 1600}[variant]
        copy.close()


@pytest.mark.parametrize("signal", [SystemExit(1), KeyboardInterrupt()], ids=["worker-timeout", "interrupt"])
def test_files_are_removed_when_the_worker_is_stopped_before_the_commit(
    api_as: Any, make_observation: Any, app: Flask, monkeypatch: pytest.MonkeyPatch, signal: BaseException
) -> None:
    """gunicorn stops a worker that overran its timeout with SIGABRT, which the worker turns into
    `sys.exit(1)` wherever the request is: past the files and the row's flush, the exception is no
    Exception, so no 5xx answer and no rollback runs, only the session's close. The row is not kept, and
    the files (the original with its GPS) must not be either."""
    api = api_as("surveyor")
    record = make_observation(api)

    def stopped(session: Any = None) -> None:
        raise signal

    monkeypatch.setattr(uow, "commit", stopped)
    with pytest.raises(type(signal)):
        _upload(api, record["id"], phone_jpeg())
    monkeypatch.undo()
    assert _stored_files(app) == []
    assert api.get(f"/api/v1/observations/{record['id']}").get_json()["photos"] == []
