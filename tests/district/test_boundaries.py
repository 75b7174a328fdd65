"""Township boundaries, when a district ships them: the township is derived from the position."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.district.services import DistrictDataError, load_district, township_at

# Two made-up squares side by side (not real boundaries): 梁山街道 west of 107.80, 双桂街道 east of it.
WEST = [[107.70, 30.60], [107.80, 30.60], [107.80, 30.70], [107.70, 30.70], [107.70, 30.60]]
EAST = [[107.80, 30.60], [107.90, 30.60], [107.90, 30.70], [107.80, 30.70], [107.80, 30.60]]


def _district_with_boundaries(app: Flask, tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "district"
    shutil.copytree(app.config["IAS_DISTRICT_DIR"], folder)
    toml = folder / "district.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'townships = "townships.csv"',
            'townships = "townships.csv"\ntownship_boundaries = "townships.geojson"',
        ),
        encoding="utf-8",
    )
    assert "township_boundaries" in toml.read_text(encoding="utf-8")
    (folder / "townships.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    return folder


def _feature(code: str, ring: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture
def boundaries(app: Flask, tmp_path: Path) -> None:
    folder = _district_with_boundaries(
        app, tmp_path, [_feature("500155001", WEST), _feature("500155002", EAST)]
    )
    load_district(folder)


def test_township_is_derived_from_the_position(boundaries: None, api_as: Any, make_observation: Any) -> None:
    assert township_at(107.75, 30.65).code == "500155001"  # type: ignore[union-attr]
    assert township_at(107.85, 30.65).code == "500155002"  # type: ignore[union-attr]
    assert township_at(107.95, 30.65) is None
    api = api_as("surveyor")
    record = make_observation(api, township_code=None, latitude=30.65, longitude=107.85)
    assert record["township_code"] == "500155002"
    assert record["site_code"].startswith("500155002-")


def test_given_township_that_disagrees_is_flagged(
    boundaries: None, api_as: Any, make_observation: Any
) -> None:
    record = make_observation(api_as("surveyor"), township_code="500155001", latitude=30.65, longitude=107.85)
    assert record["township_code"] == "500155001"  # as given: the surveyor may know better
    assert record["flags"] == ["township_mismatch"]


def test_bad_boundaries_are_refused(app: Flask, tmp_path: Path) -> None:
    folder = _district_with_boundaries(
        app,
        tmp_path,
        [
            _feature("999999999", WEST),
            {"type": "Feature", "properties": {"code": "500155002"}, "geometry": None},
        ],
    )
    with pytest.raises(DistrictDataError) as caught:
        load_district(folder)
    assert len(caught.value.problems) == 2
