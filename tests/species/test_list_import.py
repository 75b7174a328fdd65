"""Importing a district list from a spreadsheet of names: a row report first, then the matched rows."""

from __future__ import annotations

import io
from typing import Any

import openpyxl  # noqa: TID251 - tests build the bureau's spreadsheet
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.species.models import ListMembership, Species, SpeciesList

NAMES = [
    "福寿螺",  # Chinese name
    "水花生",  # alias of 喜旱莲子草
    "Pomacea canaliculata",  # the same species again, by Latin name
    "Erigeron bonariensis (L.) Cronquist",  # Latin name with an authority
    "Conyza canadensis",  # old synonym of 小蓬草
    "golden apple snail",  # English (福寿螺 once more)
    "小管福寿螺",  # not in the registry
    "野胡萝卜",  # already on the list
    "同名草",  # ambiguous: made an alias of two species below
]


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def species_id(key: str) -> int:
    found = db.session.scalar(sa.select(Species.id).where(Species.key == key))
    assert found is not None
    return found


@pytest.fixture
def agri(api_as: Any) -> Any:
    api = api_as("bureau_admin", "agriculture")
    assert (
        api.post("/api/v1/species-lists", json={"code": "lp-agri", "name": "农业普查清单"}).status_code == 201
    )
    carrot = species_id("daucus-carota")
    assert api.post("/api/v1/species-lists/lp-agri/members", json={"species_id": carrot}).status_code == 201
    admin = api_as("admin")
    for key in ("galinsoga-parviflora", "veronica-persica"):
        assert admin.patch(
            f"/api/v1/species/{species_id(key)}", json={"aliases": ["同名草"]}
        ).status_code in (
            200,
            422,
        )
    return api


def upload(api: Any, data: bytes, name: str, **query: Any) -> Any:
    return api.post(
        "/api/v1/species-lists/lp-agri/import",
        query_string=query,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def members() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Species.name_zh)
            .join(ListMembership, ListMembership.species_id == Species.id)
            .join(SpeciesList)
            .where(SpeciesList.code == "lp-agri", ListMembership.removed_on.is_(None))
            .order_by(ListMembership.row)
        )
    )


def test_the_report_names_every_row_and_changes_nothing(agri: Any) -> None:
    # The second species to take 同名草 is refused (an alias belongs to one species), so make the
    # ambiguity the way a spreadsheet meets it: a name that is an alias of one and the name of another.
    response = upload(agri, xlsx([["名称", "备注"], *[[n, ""] for n in NAMES]]), "清单.xlsx")
    assert response.status_code == 200, response.json
    report = response.json
    assert report["applied"] is False
    by_name = {r["name"]: r for r in report["rows"]}
    assert by_name["福寿螺"]["status"] == "matched" and by_name["福寿螺"]["row"] == 2
    assert by_name["水花生"]["species"]["name_zh"] == "喜旱莲子草"
    assert by_name["Pomacea canaliculata"]["status"] == "duplicate"
    assert by_name["Erigeron bonariensis (L.) Cronquist"]["species"]["name_zh"] == "香丝草"
    assert by_name["Conyza canadensis"]["species"]["name_zh"] == "小蓬草"
    assert by_name["golden apple snail"]["status"] == "duplicate"
    assert by_name["小管福寿螺"]["status"] == "unknown"
    assert by_name["野胡萝卜"]["status"] == "on_list"
    assert by_name["同名草"]["status"] == "matched"  # the alias went to the first species only
    counts = report["counts"]
    assert counts["matched"] == 5 and counts["unknown"] == 1 and counts["duplicate"] == 2
    assert sum(counts.values()) == len(NAMES)
    assert members() == ["野胡萝卜"]  # a report only


def test_an_ambiguous_name_lists_its_candidates(agri: Any, api_as: Any) -> None:
    admin = api_as("admin")
    # 香丝草's English name "hairy fleabane" also made a local English name of 小蓬草: two species.
    assert (
        admin.patch(
            f"/api/v1/species/{species_id('erigeron-canadensis')}", json={"names_en": ["hairy fleabane"]}
        ).status_code
        == 200
    )
    response = upload(agri, b"name\nhairy fleabane\n", "names.csv")
    row = response.json["rows"][0]
    assert row["status"] == "ambiguous" and row["species"] is None
    assert sorted(c["name_zh"] for c in row["candidates"]) == ["小蓬草", "香丝草"]


def test_apply_adds_the_matched_rows(agri: Any) -> None:
    data = "\n".join(["物种", *NAMES]).encode("gb18030")  # a CSV saved by Chinese Excel
    response = upload(agri, data, "清单.csv", apply="true", added_on="2026-06-01")
    assert response.status_code == 200, response.json
    assert response.json["counts"]["added"] == 5
    assert members() == ["野胡萝卜", "福寿螺", "喜旱莲子草", "香丝草", "小蓬草", "牛膝菊"]
    added_on = db.session.scalars(
        sa.select(ListMembership.added_on)
        .join(SpeciesList)
        .where(SpeciesList.code == "lp-agri", ListMembership.name_as_listed == "水花生")
    ).all()
    assert [d.isoformat() for d in added_on] == ["2026-06-01"]  # as listed in the file
    again = upload(agri, data, "清单.csv", apply="true")
    # Every name but the unknown one now finds its species on the list: nothing is added twice.
    assert again.json["counts"]["added"] == 0 and again.json["counts"]["on_list"] == len(NAMES) - 1


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"not a workbook", "names.xlsx"),
        (b"\xff\xfe\x00garbage\x81", "names.csv"),
        (b"a,b", "names.txt"),
    ],
)
def test_a_bad_file_is_422_naming_it(agri: Any, data: bytes, name: str) -> None:
    response = upload(agri, data, name, apply="true")
    assert response.status_code == 422, response.json
    assert "file" in response.json["errors"]
    assert members() == ["野胡萝卜"]


def test_too_many_names_are_refused(agri: Any) -> None:
    data = "\n".join(f"名{i}" for i in range(2101)).encode()
    response = upload(agri, data, "names.csv")
    assert response.status_code == 422 and "file" in response.json["errors"]


def test_only_the_lists_bureau_imports(agri: Any, api_as: Any) -> None:
    forestry = api_as("bureau_admin", "forestry")
    assert upload(forestry, "福寿螺".encode(), "n.csv", apply="true").status_code == 403
    assert upload(api_as("surveyor", "agriculture"), "福寿螺".encode(), "n.csv").status_code == 403
    assert members() == ["野胡萝卜"]
