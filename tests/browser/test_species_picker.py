"""The species picker on a phone: grouped by census category, the bureau's district list first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.species import district_lists
from app.species.models import Species


def _district_list_with(field_user: Any, key: str) -> None:
    """An agriculture district list holding one species, committed for the live server to see."""
    admin = field_user("bureau_admin", organization="agriculture").user
    db.session.add(admin)
    species_list = district_lists.create_district_list(admin, {"code": "lp-agri", "name": "农业普查清单"})
    species_id = db.session.scalar(sa.select(Species.id).where(Species.key == key))
    district_lists.add_member(admin, species_list, {"species_id": species_id})
    db.session.commit()
    db.session.rollback()  # end the read: on SQLite it would block the server's writes


def _options(page: Any, query: str) -> list[str]:
    page.fill("[data-species-search]", query)
    page.wait_for_selector("[data-species-option]")
    return page.locator("[data-species-results] li").all_inner_texts()


def test_the_picker_offers_the_district_list_first_and_groups_by_census_category(
    phone: Any, field_user: Any
) -> None:
    _district_list_with(field_user, "galinsoga-parviflora")  # 牛膝菊
    user = field_user("surveyor", organization="agriculture")
    p = phone()
    p.goto("/sign-in")
    p.sign_in(user.username)
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")

    # Four plants match 菊 equally (anywhere in the name): the one on the bureau's list comes first.
    found = _options(p.page, "菊")
    assert found[0].startswith("牛膝菊"), found
    assert p.page.locator("[data-species-group]").count() == 0  # one category: no headings

    # 美洲 finds a frog, a plant (by its alias 美洲商陆) and a cockroach (in neither census).
    p.page.fill("[data-species-search]", "美洲")
    p.page.wait_for_selector("[data-species-group]")
    headings = p.page.locator("[data-species-group]").all_inner_texts()
    assert "外来入侵水生动物" in headings and "农业外来入侵植物" in headings
    items = p.page.locator("[data-species-results] li").all_inner_texts()
    frog = items.index(next(i for i in items if i.startswith("美洲牛蛙")))
    assert items[frog - 1] == "外来入侵水生动物"  # the frog sits under its category
