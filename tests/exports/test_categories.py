"""The census category rule (docs/census.md, 类别汇总): which categories a census reports, and how the
per-species figures roll up into them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import Organization, OrganizationKind
from app.census import counting
from app.extensions import db
from app.species.models import CensusCategory


def _row(species: int, township: int | None, points: int, area: float) -> counting.Occurrence:
    return counting.Occurrence(species, township, points, area, 1 if township else 0, None)


def test_a_species_in_two_categories_counts_in_each_and_one_without_any_is_not_lost() -> None:
    rows = [
        _row(1, 10, 2, 300.0),  # 福寿螺: two agriculture categories
        _row(1, 11, 1, 100.0),
        _row(2, 10, 4, 50.0),  # a plant
        _row(3, None, 1, 7.0),  # a species with no agriculture category, outside any township
    ]
    categories = {1: ["ag_pest", "ag_aquatic", "fg_animal"], 2: ["ag_plant"], 3: ["fg_pest"]}

    found = {
        c.category: c for c in counting.by_category(rows, ["ag_plant", "ag_pest", "ag_aquatic"], categories)
    }

    assert list(found) == ["ag_plant", "ag_pest", "ag_aquatic", None]
    assert (found["ag_pest"].points, found["ag_pest"].area_m2, found["ag_pest"].townships) == (3, 400.0, 2)
    assert found["ag_aquatic"] == counting.CategoryOccurrence("ag_aquatic", (1,), 3, 400.0, 2)
    assert found["ag_plant"] == counting.CategoryOccurrence("ag_plant", (2,), 4, 50.0, 1)
    assert found[None] == counting.CategoryOccurrence(None, (3,), 1, 7.0, 0)


def test_a_category_with_nothing_found_is_still_a_row_and_townships_are_distinct() -> None:
    rows = [_row(1, 10, 1, 10.0), _row(2, 10, 1, 20.0)]
    categories = {1: ["fg_plant"], 2: ["fg_plant"]}

    found = counting.by_category(rows, ["fg_plant", "fg_pest", "fg_animal"], categories)

    assert found[0] == counting.CategoryOccurrence("fg_plant", (1, 2), 2, 30.0, 1)  # one township, not two
    assert [(c.category, c.points, c.species_ids) for c in found[1:]] == [
        ("fg_pest", 0, ()),
        ("fg_animal", 0, ()),
    ]


def test_each_census_reports_its_bureaus_categories(db_session: Any) -> None:
    bureau = db.session.scalar(sa.select(Organization).where(Organization.code == "agriculture"))
    station = Organization(code="hexing-station", name="和兴农技站", kind=OrganizationKind.TOWNSHIP_STATION)
    station.parent = bureau
    farm = Organization(code="some-farm", name="某林场", kind=OrganizationKind.OTHER)
    db.session.add_all([station, farm])
    db.session.flush()

    agriculture = (CensusCategory.AG_PLANT, CensusCategory.AG_PEST, CensusCategory.AG_AQUATIC)
    forestry = (CensusCategory.FG_PLANT, CensusCategory.FG_PEST, CensusCategory.FG_ANIMAL)
    assert counting.census_categories("agriculture") == agriculture
    assert counting.census_categories("forestry") == forestry
    assert counting.census_categories("hexing-station") == agriculture  # a unit reports its bureau's
    assert counting.census_categories("district") == agriculture + forestry
    assert counting.census_categories("some-farm") == agriculture + forestry  # under no bureau: all
