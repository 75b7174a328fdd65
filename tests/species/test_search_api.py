"""Species search the way surveyors type: Chinese name, alias, pinyin, initials, Latin, old names."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def api(api_as: Any) -> Any:
    return api_as("surveyor")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("fsl", "福寿螺"),
        ("FSL", "福寿螺"),
        ("fushouluo", "福寿螺"),
        ("fu shou luo", "福寿螺"),
        ("福寿螺", "福寿螺"),
        ("大瓶螺", "福寿螺"),
        ("苹果螺", "福寿螺"),
        ("Pomacea", "福寿螺"),
        ("pomacea canaliculata", "福寿螺"),
        ("水花生", "喜旱莲子草"),
        ("空心莲子草", "喜旱莲子草"),
        ("Alternanthera", "喜旱莲子草"),
        ("水葫芦", "凤眼莲"),
        ("Conyza canadensis", "小蓬草"),
        ("Achatina fulica", "非洲大蜗牛"),
        ("巴西龟", "红耳彩龟"),
        ("Solidago", "加拿大一枝黄花"),
    ],
)
def test_search_finds_the_species_first(api: Any, q: str, expected: str) -> None:
    response = api.get("/api/v1/species", query_string={"q": q})
    assert response.status_code == 200
    items = response.json["items"]
    assert items, f"nothing found for {q!r}"
    assert items[0]["name_zh"] == expected, [i["name_zh"] for i in items[:5]]


def test_species_items_carry_their_lists(api: Any) -> None:
    item = api.get("/api/v1/species?q=福寿螺").json["items"][0]
    assert item["name_sci"] == "Pomacea canaliculata"
    assert item["group"] == "mollusc"
    assert set(item["aliases"]) >= {"大瓶螺", "苹果螺"}
    lists = {m["code"]: m for m in item["lists"]}
    assert lists["moa-567"]["row"] == 53 and lists["moa-567"]["verified"] is True
    assert {"mee-ias-1", "lp-forestry-national"} <= set(lists)


def test_unconfirmed_rows_are_flagged_not_presented_as_certain(api: Any) -> None:
    item = api.get("/api/v1/species?q=Matsucoccus").json["items"][0]
    row = next(m for m in item["lists"] if m["code"] == "moa-567")
    assert row["row"] == 40 and row["verified"] is False and row["status"] == "unconfirmed"


def test_filter_by_list_and_group(api: Any) -> None:
    response = api.get("/api/v1/species?list=moa-567&per_page=500")
    assert response.json["total"] == 59
    plants = api.get("/api/v1/species?list=moa-567&group=plant&per_page=500").json
    assert plants["total"] == 33
    assert all(i["group"] == "plant" for i in plants["items"])
    molluscs = api.get("/api/v1/species?q=螺&group=mollusc").json["items"]
    assert "福寿螺" in [i["name_zh"] for i in molluscs]
    assert {i["group"] for i in molluscs} == {"mollusc"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"list": "no-such-list"}, "list"),
        ({"group": "dragon"}, "group"),
        ({"per_page": 501}, "per_page"),
        ({"per_page": 0}, "per_page"),
        ({"page": "two"}, "page"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_search_parameters_name_the_field(api: Any, query: dict[str, Any], field: str) -> None:
    response = api.get("/api/v1/species", query_string=query)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_like_wildcards_in_the_query_are_literal(api: Any) -> None:
    assert api.get("/api/v1/species?q=%25").json["total"] == 0
    assert api.get("/api/v1/species?q=_").json["total"] == 0


def test_query_count_does_not_grow_with_page_size(api: Any, count_queries: Any) -> None:
    with count_queries() as small:
        assert len(api.get("/api/v1/species?per_page=5").json["items"]) == 5
    with count_queries() as large:
        assert len(api.get("/api/v1/species?per_page=90").json["items"]) == 90
    assert len(large) == len(small)


def test_species_detail_has_metrics_severity_and_follow_ups(api: Any) -> None:
    item = api.get("/api/v1/species?q=fsl").json["items"][0]
    detail = api.get(f"/api/v1/species/{item['id']}").json
    assert detail["follow_up_days"]["chemical"] == [1, 3, 7, 15, 30]
    assert detail["follow_up_days"]["hand_collection"] == [7, 14]
    assert detail["next_spring_check"] is True
    assert set(detail["metrics"]) >= {"density", "egg_masses"}
    assert len(detail["severity"]["thresholds"]) == 4 and detail["severity"]["provisional"] is True
    assert api.get("/api/v1/species/999999").status_code == 404


def test_species_lists_with_counts(api: Any) -> None:
    response = api.get("/api/v1/species-lists")
    assert response.status_code == 200
    lists = {sl["code"]: sl for sl in response.json["items"]}
    assert lists["moa-567"]["species_count"] == 59
    assert lists["moa-567"]["published_on"] == "2022-12-20"
    assert lists["moa-567"]["level"] == "national"
    counts = [lists[f"mee-ias-{n}"]["species_count"] for n in (1, 2, 3, 4)]
    assert counts == [16, 19, 18, 18] and sum(counts) == 71
    assert lists["lp-forestry-national"]["species_count"] == 12
    assert lists["cq-forestry-supplement"]["species_count"] == 13
    assert lists["cq-forestry-supplement"]["level"] == "provincial"


def test_list_membership_at_a_date(api: Any) -> None:
    today = api.get("/api/v1/species-lists/moa-567/members?per_page=500").json
    assert today["total"] == 59 and today["items"][0]["row"] == 1
    before = api.get("/api/v1/species-lists/moa-567/members?on=2022-01-01").json
    assert before["total"] == 0
    assert api.get("/api/v1/species-lists/nope/members").status_code == 404
    assert api.get("/api/v1/species-lists/moa-567/members?on=yesterday").status_code == 422
