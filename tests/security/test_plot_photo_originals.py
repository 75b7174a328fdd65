"""A survey plot's original photos (with the camera's GPS) follow the records' rule (docs/contract.md §1,
§6): the plot's organization and its bureau may download them, a sibling unit and its bureau's own plots'
units may not, and every download is audited — a conditional request and a HEAD as well as a GET."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.audit.models import AuditLog
from app.extensions import db
from tests.photos.test_photos_api import LAT, LON, phone_jpeg
from tests.surveys.test_plots import _upload, plot_body


def _org(code: str) -> Organization:
    found = db.session.scalar(sa.select(Organization).where(Organization.code == code))
    assert found is not None
    return found


def _downloads(photo_id: int) -> list[int]:
    return sorted(
        db.session.scalars(
            sa.select(AuditLog.actor_id).where(
                AuditLog.action == "photo_original_downloaded", AuditLog.entity_id == str(photo_id)
            )
        )
    )


def test_plot_originals_are_for_its_unit_and_bureau_and_every_download_is_audited(
    storage_dir: Path, api_as: Any, make_observation: Any, species_id: Any
) -> None:
    for code in ("lp-station", "lp-farm"):
        db.session.add(
            Organization(
                code=code, name=code, kind=OrganizationKind.TOWNSHIP_STATION, parent=_org("forestry")
            )
        )
    db.session.commit()
    site = make_observation(api_as("surveyor"))
    station = api_as("surveyor", "lp-station")
    plot = station.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    photo = _upload(station, plot["id"], phone_jpeg(gps=(LAT, LON))).get_json()
    bureau = api_as("verifier", "forestry")
    for api in (station, bureau):
        answer = api.get(photo["original_url"])
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
        etag = answer.headers["ETag"]
        answer.close()
        again = api.get(photo["original_url"], headers={"If-None-Match": etag})  # a 304 is a download too
        again.close()
        head = api.open("HEAD", photo["original_url"])
        head.close()
        assert (again.status_code, head.status_code) == (304, 200)
    for api in (
        api_as("verifier", "lp-farm"),
        api_as("verifier", "agriculture"),
    ):  # a sibling, another bureau
        answer = api.get(photo["original_url"])
        answer.close()
        assert answer.status_code == 403
    assert _downloads(photo["id"]) == sorted([station.user.id] * 3 + [bureau.user.id] * 3)

    # The bureau's own plot stays closed to its units' staff.
    own = api_as("surveyor", "forestry")
    bureau_plot = own.post("/api/v1/plots", json=plot_body(species_id, site["site_id"])).get_json()
    bureau_photo = _upload(own, bureau_plot["id"], phone_jpeg(gps=(LAT, LON))).get_json()
    refused = api_as("verifier", "lp-station").get(bureau_photo["original_url"])
    refused.close()
    assert refused.status_code == 403 and _downloads(bureau_photo["id"]) == []
