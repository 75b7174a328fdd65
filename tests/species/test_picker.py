"""The species picker's data: census categories to group by, and the bureau's district list first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.species.models import Species


def test_field_data_carries_census_categories_and_the_district_list(web_as: Any, api_as: Any) -> None:
    agri_admin = api_as("bureau_admin", "agriculture")
    created = agri_admin.post("/api/v1/species-lists", json={"code": "lp-agri", "name": "农业普查清单"})
    assert created.status_code == 201
    carrot = db.session.scalar(sa.select(Species.id).where(Species.key == "daucus-carota"))
    added = agri_admin.post("/api/v1/species-lists/lp-agri/members", json={"species_id": carrot})
    assert added.status_code == 201

    data = web_as("surveyor", "agriculture").get("/app/field-data.json").get_json()
    labels = data["census_categories"]
    assert labels["ag_plant"] == "农业外来入侵植物" and labels["ag_aquatic"] == "外来入侵水生动物"
    species = {s["name_zh"]: s for s in data["species"]}
    assert species["福寿螺"]["census_categories"] == ["ag_pest", "ag_aquatic", "fg_animal"]
    assert [name for name, s in species.items() if s["district_first"]] == ["野胡萝卜"]
    # The other bureau's district list is not this user's.
    forestry = web_as("surveyor", "forestry").get("/app/field-data.json").get_json()
    assert not any(s["district_first"] for s in forestry["species"])
