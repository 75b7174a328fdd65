"""Villages (村/社区): loaded with the district, listed by township, carried by records, and any
township code form (9/12 digits, a village's, a former county's) read the same everywhere."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import pytest
import sqlalchemy as sa

from app.district.loading import DistrictDataError, load_district
from app.district.models import FormerUnit, Village
from app.district.services import find_townships
from app.errors import InvalidInput
from app.extensions import db

DISTRICT = Path(__file__).resolve().parents[2] / "districts" / "liangping"


def _village(code: str) -> Village:
    village = db.session.scalar(sa.select(Village).where(Village.code == code))
    assert village is not None
    return village


def test_the_343_villages_are_loaded_under_their_townships() -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Village)) == 343
    nanhua = _village("500155001001")
    assert (nanhua.name, nanhua.short_name, nanhua.township.name_zh) == (
        "南华社区居民委员会",
        "南华社区",
        "梁山街道",
    )
    xinkou = _village("500155202204")
    assert (xinkou.name, xinkou.short_name, xinkou.township.code) == (
        "新口村村民委员会",
        "新口村",
        "500155202",
    )


def test_load_twice_leaves_the_villages_unchanged() -> None:
    report = load_district(DISTRICT)
    assert (report.villages.added, report.villages.changed, report.villages.unchanged) == (0, 0, 343)
    assert report.former_units.unchanged == 1
    assert not report.changed_anything


def test_a_renamed_village_is_reported_changed(tmp_path: Path) -> None:
    target = tmp_path / "d"
    shutil.copytree(DISTRICT, target)
    path = target / "villages.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "500155202204,新口村村民委员会,新口村,", "500155202204,新口村村民委员会,,"
        ),
        encoding="utf-8",
    )
    report = load_district(target)
    assert report.villages.unchanged == 343  # a blank short name is derived: the same 新口村
    path.write_text(
        path.read_text(encoding="utf-8").replace("新口村村民委员会,,", "新口村民委员会,新口,"),
        encoding="utf-8",
    )
    report = load_district(target)
    assert (report.villages.changed, report.villages.unchanged) == (1, 342)
    assert _village("500155202204").short_name == "新口"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "villages.csv",
            "500155202204,新口村村民委员会,新口村,500155202",
            "500155202204,新口村,,500155201",
            "not a 12-digit village code of 500155201",
        ),
        ("villages.csv", "新口村,500155202", "新口村,500155999", "unknown township_code"),
        (
            "villages.csv",
            "500155202204,新口村村民委员会",
            "500155202000,新口村村民委员会",
            "12-digit village code",
        ),
        ("villages.csv", "500155202204,新口村村民委员会", "500155202203,新口村村民委员会", "appears twice"),
        ("former_units.csv", "梁平县,500155,", "梁平县,500101,", "today_code 500101"),
        ("former_units.csv", "500228,梁平县", "5002,梁平县", "6, 9 or 12 digits"),
    ],
)
def test_broken_village_files_are_refused(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    target = tmp_path / "d"
    shutil.copytree(DISTRICT, target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Village))
    with pytest.raises(DistrictDataError) as excinfo:
        load_district(target)
    assert any(message in p for p in excinfo.value.problems), excinfo.value.problems
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Village)) == before


def test_villages_api_by_township(api_as: Any) -> None:
    api = api_as("surveyor")
    everything = api.get("/api/v1/villages?per_page=500").get_json()
    assert everything["total"] == 343
    longsheng = api.get("/api/v1/villages?township_code=500155202").get_json()
    assert [v["short_name"] for v in longsheng["items"]] == [
        "龙胜社区",
        "三和村",
        "公平村",
        "双凤村",
        "新口村",
    ]
    assert longsheng["items"][4] == {
        "code": "500155202204",
        "short_name": "新口村",
        "name": "新口村村民委员会",
        "township_code": "500155202",
        "township_name": "龙胜乡",
    }
    for form in ("500155202000", "500155202204", "龙胜乡"):
        assert api.get(f"/api/v1/villages?township_code={form}").get_json()["total"] == 5, form


def test_villages_api_searches_the_names(api_as: Any) -> None:
    api = api_as("surveyor")
    found = api.get("/api/v1/villages?q=新口").get_json()
    assert [v["code"] for v in found["items"]] == ["500155202204"]
    both = api.get("/api/v1/villages?q=和平村").get_json()
    assert [v["township_name"] for v in both["items"]] == ["福禄镇", "文化镇"]
    assert api.get("/api/v1/villages?q=居民委员会&township_code=500155001").get_json()["total"] > 0
    assert api.get("/api/v1/villages?q=%25").get_json()["total"] == 0  # a wildcard is a character
    assert api.get("/api/v1/villages?q=新口&township_code=500155001").get_json()["total"] == 0


def test_villages_api_refusals(api_as: Any) -> None:
    api = api_as("surveyor")
    unknown = api.get("/api/v1/villages?township_code=不存在镇")
    assert unknown.status_code == 422 and "township_code" in unknown.get_json()["errors"]
    former = api.get("/api/v1/villages?township_code=500228104")
    assert former.status_code == 422
    assert "梁平县" in former.get_json()["errors"]["township_code"][0]


def test_villages_need_a_signed_in_user(anonymous_api: Any) -> None:
    assert anonymous_api.get("/api/v1/villages").status_code == 401


def test_villages_are_in_the_openapi_document(api_as: Any) -> None:
    spec = api_as("surveyor").get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/v1/villages"]["get"]["parameters"]}
    assert {"township_code", "page", "per_page"} <= params


# ---------------------------------------------------------------------------------------------
# Township codes in every form


def test_township_code_forms_find_the_same_township() -> None:
    for form in ("500155104", "500155104000", "500155104201", "５００１５５１０４"):
        assert [t.code for t in find_townships(form)] == ["500155104"], form


def test_former_codes_map_where_known_and_are_refused_naming_the_old_county() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        find_townships("500228104")
    assert "梁平县" in excinfo.value.errors["township_code"][0]
    # A mapping the bureau knows (made up for the test: Liangping's old township codes are not known here).
    db.session.add(FormerUnit(code="500228104", name="旧某镇", today_code="500155104"))
    db.session.flush()
    assert [t.code for t in find_townships("500228104")] == ["500155104"]
    assert [t.code for t in find_townships("500228104000")] == ["500155104"]


def test_another_countys_code_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        find_townships("500101001")
    assert "梁平区" in excinfo.value.errors["township_code"][0]


# ---------------------------------------------------------------------------------------------
# Records carry a village


def test_a_record_carries_its_village(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"), township_code="500155001", village_code="500155001001")
    assert (record["township_code"], record["village_code"], record["village_name"]) == (
        "500155001",
        "500155001001",
        "南华社区",
    )


def test_a_village_implies_its_township(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"), township_code=None, village_code="500155001002")
    assert (record["township_code"], record["village_name"]) == ("500155001", "北池社区")
    by_township_field = make_observation(api_as("surveyor"), township_code="500155001003")
    assert (by_township_field["township_code"], by_township_field["village_code"]) == (
        "500155001",
        "500155001003",
    )


def test_a_village_by_its_short_name_within_the_township(api_as: Any, make_observation: Any) -> None:
    record = make_observation(api_as("surveyor"), township_code="500155108", village_code="和平村")
    assert record["village_code"] == "500155108207"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_village_outside_the_township_is_refused_naming_both(
    api_as: Any, observation_payload: Any, language: str
) -> None:
    response = api_as("surveyor").post(
        "/api/v1/observations",
        json=observation_payload(township_code="500155001", village_code="500155202204"),
        headers={"Accept-Language": language},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["errors"]) == {"township_code", "village_code"}
    message = body["errors"]["village_code"][0]
    assert "新口村" in message and "梁山街道" in message
    if language == "zh":
        assert "不属于" in message and "乡镇" in body["message"] and "村" in body["message"]
    else:
        assert "is not in the township" in message


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"village_code": "500155001999"}, "village_code", "GET /api/v1/villages"),
        ({"village_code": "500155001"}, "village_code", "12"),
        ({"township_code": None, "village_code": "和平村"}, "village_code", "500155119204"),
        ({"village_code": "500228001001"}, "village_code", "梁平县"),
        ({"township_code": "500228001"}, "township_code", "梁平县"),
        ({"township_code": "500155001999"}, "township_code", "GET /api/v1/villages"),
    ],
)
def test_village_refusals(
    api_as: Any, observation_payload: Any, changes: dict[str, Any], field: str, says: str
) -> None:
    response = api_as("surveyor").post("/api/v1/observations", json=observation_payload(**changes))
    assert response.status_code == 422, response.get_json()
    assert says in response.get_json()["errors"][field][0]


def test_an_edit_keeps_the_village_and_a_move_drops_it(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    record = make_observation(api, village_code="500155001001")
    kept = api.patch(f"/api/v1/observations/{record['id']}", json={"notes": "复查"}).get_json()
    assert kept["village_code"] == "500155001001"
    moved = api.patch(f"/api/v1/observations/{record['id']}", json={"township_code": "500155002"})
    assert moved.status_code == 200, moved.get_json()
    assert (moved.get_json()["township_code"], moved.get_json()["village_code"]) == ("500155002", None)
    named = api.patch(f"/api/v1/observations/{record['id']}", json={"village_code": "500155001001"})
    assert named.status_code == 422  # said outright, a village elsewhere is refused


def test_the_phone_gets_the_villages_offline(web_as: Any) -> None:
    data = web_as("surveyor").get("/app/field-data.json").get_json()
    assert len(data["villages"]) == 343
    assert {"code": "500155202204", "short_name": "新口村", "township_code": "500155202"}.items() <= next(
        v for v in data["villages"] if v["code"] == "500155202204"
    ).items()


def test_the_census_workbook_and_the_record_page_show_the_village(
    app: Any, api_as: Any, web_as: Any, make_observation: Any, tmp_path: Path
) -> None:
    api = api_as("surveyor")
    with_village = make_observation(api, village_code="500155001001", place_name="南华三组")
    without = make_observation(api, place_name="北池田边", latitude=30.70)
    target = tmp_path / "census.xlsx"
    result = app.test_cli_runner().invoke(
        args=["exports", "run", "--bureau", "forestry", "--statuses", "submitted", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(target)["调查记录"].iter_rows(values_only=True))
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[0] != "合计"]
    by_place = {r["小地名"]: r for r in records}
    assert (by_place["南华三组"]["村（社区）"], by_place["南华三组"]["村（社区）代码"]) == (
        "南华社区",
        "500155001001",
    )
    assert (by_place["北池田边"]["村（社区）"], by_place["北池田边"]["村（社区）代码"]) == (None, None)

    web = web_as(api.user)
    page = web.get(f"/observations/{with_village['id']}").get_data(as_text=True)
    assert "南华社区" in page and "500155001001" in page
    assert "南华社区" not in web.get(f"/observations/{without['id']}").get_data(as_text=True)


def test_flask_district_load_reports_the_villages(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["district", "load"])
    assert result.exit_code == 0, result.output
    assert "villages:      0 added, 0 changed, 343 unchanged" in result.output
    assert "former units:  0 added, 0 changed, 1 unchanged" in result.output
    assert "no changes." in result.output


def test_records_are_listed_by_village(api_as: Any, make_observation: Any) -> None:
    api = api_as("surveyor")
    nanhua = make_observation(api, village_code="500155001001")
    make_observation(api, village_code="500155001002", latitude=30.70)
    for form in ("500155001001", "南华社区"):
        listed = api.get(f"/api/v1/observations?village_code={form}").get_json()
        assert [o["id"] for o in listed["items"]] == [nanhua["id"]], form
    unknown = api.get("/api/v1/observations?village_code=500155001999")
    assert unknown.status_code == 422 and "village_code" in unknown.get_json()["errors"]
