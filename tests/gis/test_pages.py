"""The download links on the records list and the map page: translated, and carrying the list's filters."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.gis.formats import read_geojson


def _links(page: str) -> list[str]:
    block = re.search(r"data-gis-download[^>]*>(.*?)</(?:p|details)>", page, re.S)
    assert block, "no download links on the page"
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', block.group(1))]


def test_my_records_page_links_to_my_records_as_gis_files(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    web = web_as("surveyor")
    mine = make_observation(api_as(web.user))
    make_observation(api_as("surveyor"))  # a colleague's: not on "my records"
    page = web.get("/observations?status=submitted").get_data(as_text=True)
    assert "下载这些记录（GIS 或 Excel 可用）" in page
    links = _links(page)
    assert [re.search(r"format=(\w+)", link).group(1) for link in links] == [
        "geojson",
        "kml",
        "shapefile",
        "csv",
    ]
    assert all(link.startswith("/api/v1/observations/download?") for link in links)
    assert f"surveyor_id={web.user.id}" in links[0] and "status=submitted" in links[0]
    assert "species_id" not in links[0]  # an empty filter is left out, not sent empty
    response = web.get(links[0], buffered=True)  # the browser's session cookie is enough
    assert response.status_code == 200
    assert [f["id"] for f in read_geojson(response.data)["features"]] == [mine["id"]]


def test_the_district_list_links_without_the_surveyor(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    make_observation(api_as("surveyor"))
    links = _links(web_as("verifier").get("/observations?scope=all").get_data(as_text=True))
    assert "surveyor_id" not in links[0]


def test_no_links_when_nothing_is_listed(web_as: Any) -> None:
    assert "data-gis-download" not in web_as("surveyor").get("/observations").get_data(as_text=True)


def test_the_map_page_offers_each_layer(web_as: Any) -> None:
    page = web_as("surveyor").get("/map").get_data(as_text=True)
    assert "下载全区数据（GIS 或 Excel 可用）" in page
    links = _links(page)
    assert len(links) == 12
    for layer in ("sites", "observations", "control-operations"):
        assert f"/api/v1/{layer}/download?format=shapefile" in links
