"""`flask district load` and the townships API."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.district.loading import DistrictDataError, load_district
from app.district.services import find_townships, get_district
from app.extensions import db

DISTRICT = Path(__file__).resolve().parents[2] / "districts" / "liangping"


def test_townships_api_lists_all_33(api_as: Any) -> None:
    response = api_as("surveyor").get("/api/v1/townships")
    assert response.status_code == 200
    body = response.json
    assert body["total"] == 33 and len(body["items"]) == 33
    kinds = [t["kind"] for t in body["items"]]
    assert (kinds.count("subdistrict"), kinds.count("town"), kinds.count("township")) == (5, 26, 2)
    first = body["items"][0]
    assert first == {**first, "code": "500155001", "name_zh": "梁山街道", "kind_zh": "街道"}
    assert {a["name"] for a in first["aliases"]} == {"梁山镇", "城东乡"}


def test_district_api(api_as: Any) -> None:
    district = api_as("surveyor").get("/api/v1/district").json
    assert district["code"] == "500155" and district["name"] == "梁平区"
    assert district["bounds"]["min_lat"] == pytest.approx(30.4167)
    assert district["former_codes"] == ["500228"]


def test_load_twice_changes_nothing() -> None:
    report = load_district(DISTRICT)
    assert not report.changed_anything
    assert (report.townships.unchanged, report.organizations.unchanged, report.aliases.unchanged) == (
        33,
        2,
        9,
    )


def test_old_names_find_the_current_townships() -> None:
    assert [t.name_zh for t in find_townships("安胜乡")] == ["安胜镇"]
    assert sorted(t.name_zh for t in find_townships("梁山镇")) == ["双桂街道", "梁山街道"]
    assert [t.code for t in find_townships("500155201")] == ["500155201"]
    assert find_townships("不存在镇") == []


def test_bounds_check_with_buffer() -> None:
    district = get_district()
    assert district is not None
    assert district.contains(107.80, 30.67)  # 梁平城区
    assert district.contains(107.395, 30.67)  # inside the 0.01° buffer
    assert not district.contains(106.55, 29.56)  # 重庆主城


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("townships.csv", "500155202,龙胜乡,乡", "500155202,龙胜乡,村", "kind"),
        ("townships.csv", "500155202,龙胜乡", "500228202,龙胜乡", "9-digit code of this district"),
        ("township_aliases.csv", "安胜乡,500155128", "安胜乡,500155999", "unknown township_code"),
        ("district.toml", "min_lat = 30.4167", 'min_lat = "north"', "bounds.min_lat"),
        ("district.toml", 'kind = "forestry_bureau"', 'kind = "ministry"', "organization #1: kind"),
    ],
)
def test_broken_district_files_are_refused(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    target = tmp_path / "d"
    shutil.copytree(DISTRICT, target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(DistrictDataError) as excinfo:
        load_district(target)
    assert any(message in p for p in excinfo.value.problems), excinfo.value.problems


def test_the_loader_keeps_bureaus_and_units_apart(tmp_path: Path) -> None:
    """`flask district load` changes an organization's kind by the API's rules (docs/contract.md §2): a
    unit that reports to a bureau does not become a bureau (that would put one bureau under the other),
    and a bureau with units under it stays a bureau."""
    forestry = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
    db.session.add(
        Organization(
            code="ls-station", name="梁山林业站", kind=OrganizationKind.TOWNSHIP_STATION, parent=forestry
        )
    )
    db.session.flush()
    target = tmp_path / "d"
    shutil.copytree(DISTRICT, target)
    toml = target / "district.toml"
    original = toml.read_text(encoding="utf-8")
    toml.write_text(
        original + '\n[[organization]]\ncode = "ls-station"\nname = "梁山林业局"\nkind = "forestry_bureau"\n',
        encoding="utf-8",
    )
    with pytest.raises(DistrictDataError) as excinfo:
        load_district(target)
    assert any("organization #3 (ls-station)" in p for p in excinfo.value.problems), excinfo.value.problems

    toml.write_text(original.replace('kind = "forestry_bureau"', 'kind = "other"', 1), encoding="utf-8")
    with pytest.raises(DistrictDataError) as excinfo:
        load_district(target)
    assert any("organization #1 (forestry)" in p for p in excinfo.value.problems), excinfo.value.problems
