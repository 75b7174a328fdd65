"""Every name the bureaus reported finding nothing for is found first, and polyphonic names read right."""

from __future__ import annotations

from typing import Any

import pytest

from app.species.names import pinyin_full, pinyin_initials


@pytest.fixture
def api(api_as: Any) -> Any:
    return api_as("surveyor")


def first_hit(api: Any, q: str) -> dict[str, Any]:
    response = api.get("/api/v1/species", query_string={"q": q})
    assert response.status_code == 200
    items = response.json["items"]
    assert items, f"nothing found for {q!r}"
    return items[0]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Chinese names people type (issue 20), each sourced in species_lists/README.md.
        ("小龙虾", "克氏原螯虾"),
        ("清道夫", "豹纹翼甲鲇"),
        ("金宝螺", "福寿螺"),
        ("五色梅", "马缨丹"),
        ("美洲商陆", "垂序商陆"),
        ("藤三七", "落葵薯"),
        ("黄莺", "加拿大一枝黄花"),
        ("麒麟草", "加拿大一枝黄花"),
        ("革命草", "喜旱莲子草"),
        ("水浮莲", "大薸"),
        ("大聚藻", "粉绿狐尾藻"),
        ("野塘蒿", "香丝草"),
        # English common names.
        ("golden apple snail", "福寿螺"),
        ("Golden Apple", "福寿螺"),
        ("water hyacinth", "凤眼莲"),
        ("crayfish", "克氏原螯虾"),
        ("American bullfrog", "美洲牛蛙"),
        # Latin synonyms.
        ("Ampullaria gigas", "福寿螺"),
        ("Pontederia crassipes", "凤眼莲"),
        ("Conyza bonariensis", "香丝草"),
        ("Iva xanthiifolia", "假苍耳"),
        ("Eupatorium odoratum", "飞机草"),
        ("Aquarana catesbeiana", "美洲牛蛙"),
        # Pinyin (full and initials) of aliases, and the polyphonic names read as they are said.
        ("xiaolongxia", "克氏原螯虾"),
        ("xlx", "克氏原螯虾"),
        ("qdf", "豹纹翼甲鲇"),
        ("jbl", "福寿螺"),
        ("wsm", "马缨丹"),
        ("tsq", "落葵薯"),
        ("gmc", "喜旱莲子草"),
        ("dajuzao", "粉绿狐尾藻"),
        ("yth", "香丝草"),
        ("cmx", "长芒苋"),
        ("changmangxian", "长芒苋"),
        ("ccjlc", "长刺蒺藜草"),
        ("kxq", "喀西茄"),
        ("kaxiqie", "喀西茄"),
        ("hhcq", "黄花刺茄"),
    ],
)
def test_names_people_type_find_the_species_first(api: Any, q: str, expected: str) -> None:
    assert first_hit(api, q)["name_zh"] == expected


@pytest.mark.parametrize("wrong", ["zmx", "zcjlc", "kxj", "hhcj"])
def test_the_wrong_readings_of_polyphonic_names_are_gone(api: Any, wrong: str) -> None:
    names = [i["name_zh"] for i in api.get("/api/v1/species", query_string={"q": wrong}).json["items"]]
    assert not {"长芒苋", "长刺蒺藜草", "喀西茄", "黄花刺茄"} & set(names)


def test_a_reading_overrides_pypinyin() -> None:
    assert pinyin_full("长芒苋") == "zhangmangxian"  # what pypinyin alone says
    assert pinyin_full("长芒苋", "chang mang xian") == "changmangxian"
    assert pinyin_initials("长芒苋", "chang mang xian") == "cmx"


def test_species_carry_english_names_and_census_categories(api: Any) -> None:
    snail = first_hit(api, "福寿螺")
    assert "golden apple snail" in snail["names_en"]
    assert "金宝螺" in snail["aliases"] and "Ampullaria gigas" in snail["synonyms"]
    # Counted in the agriculture census both as a crop pest and as an aquatic animal.
    assert set(snail["census_categories"]) == {"ag_pest", "ag_aquatic", "fg_animal"}
    assert first_hit(api, "长芒苋")["census_categories"] == ["ag_plant"]


@pytest.mark.parametrize(
    ("q", "bureaus"),
    [
        ("美洲大蠊", []),  # sanitary pests: neither bureau's census
        ("德国小蠊", []),
        ("苹果蠹蛾", ["agriculture", "forestry"]),
        ("扶桑绵粉蚧", ["agriculture", "forestry"]),
        ("落葵薯", ["forestry", "agriculture"]),
        ("日本菟丝子", ["forestry", "agriculture"]),
        ("克氏原螯虾", ["agriculture", "forestry"]),
        ("鳄雀鳝", ["agriculture", "forestry"]),
        ("红耳彩龟", ["agriculture", "forestry"]),
    ],
)
def test_reviewed_bureau_assignments(api: Any, q: str, bureaus: list[str]) -> None:
    hit = first_hit(api, q)
    assert hit["name_zh"] == q
    assert sorted(hit["bureaus"]) == sorted(bureaus)
