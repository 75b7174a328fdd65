"""The site page's timeline writes a record's figures with the units of the metric catalogue
(app/metrics.py: per m², %, 亩), not units typed into the template."""

from __future__ import annotations

import re
from typing import Any


def _meta(html: str) -> str:
    found = re.search(r'<li data-kind="observation">.*?<div class="meta">(.*?)<span class="badge', html, re.S)
    assert found, html
    return " ".join(found.group(1).split())


def test_the_timeline_shows_each_figure_with_its_unit(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    record = make_observation(api_as("surveyor"), density_per_m2=12.5, egg_masses_per_m2=3.0)
    html = web_as("verifier").get(f"/sites/{record['site_id']}").get_data(as_text=True)
    meta = _meta(html)
    assert "密度 12.5 /平方米" in meta
    assert "卵块密度 3 /平方米" in meta
    assert "/m²" not in meta


def test_an_english_reader_reads_the_units_in_english(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    record = make_observation(api_as("surveyor"), density_per_m2=12.5, egg_masses_per_m2=None)
    html = web_as("verifier", locale="en").get(f"/sites/{record['site_id']}").get_data(as_text=True)
    assert "Density 12.5 per m²" in _meta(html)
