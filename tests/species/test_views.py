"""The species-list pages: read-only, for bureau admins and admins, with a list's membership on a date."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.species.models import ListMembership, SpeciesList


def _memberships(code: str) -> list[ListMembership]:
    return list(
        db.session.scalars(
            sa.select(ListMembership)
            .join(SpeciesList)
            .where(SpeciesList.code == code)
            .order_by(ListMembership.row)
        )
    )


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor"])
def test_staff_are_refused(web_as: Any, role: str) -> None:
    web = web_as(role)
    assert web.get("/admin/species-lists").status_code == 403
    assert web.get("/admin/species-lists/moa-567").status_code == 403


@pytest.mark.parametrize("role", ["bureau_admin", "admin"])
def test_lists_are_shown_with_their_counts(web_as: Any, role: str) -> None:
    response = web_as(role, "agriculture").get("/admin/species-lists")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    current = [m for m in _memberships("moa-567") if m.removed_on is None]
    assert "/admin/species-lists/moa-567" in html
    assert "2022-12-20" in html  # published
    assert f'<td class="num">{len(current)}</td>' in html
    # Read-only, and said so in words for the people who use the page, not as a command line.
    assert "由系统管理员" in html and "flask" not in html and "`" not in html


def test_a_list_shows_its_rows_today(web_as: Any) -> None:
    response = web_as("bureau_admin").get("/admin/species-lists/moa-567")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "紫茎泽兰" in html and "Ageratina adenophora" in html
    assert "空心莲子草" in html  # the name as listed, beside the registry's name
    rows = html.split("data-changes", 1)[0]
    assert rows.count("<tr>") == len(_memberships("moa-567")) + 1  # header row + one per member


def test_membership_on_a_date(web_as: Any) -> None:
    first, second = _memberships("moa-567")[:2]
    first.added_on = date(2024, 3, 1)  # joined the list later
    second.removed_on = date(2024, 3, 1)  # left it then
    db.session.commit()
    web = web_as("admin")
    url = "/admin/species-lists/moa-567"

    today_page = web.get(url).get_data(as_text=True)
    today = rows_part(today_page)
    assert first.name_as_listed in today and second.name_as_listed not in today

    before = web.get(url + "?on=2023-06-01")
    assert before.status_code == 200
    html = rows_part(before.get_data(as_text=True))
    assert second.name_as_listed in html and first.name_as_listed not in html
    assert 'value="2023-06-01"' in html

    unpublished = rows_part(web.get(url + "?on=2022-01-01").get_data(as_text=True))  # before publication
    assert "<tbody>" not in unpublished
    assert first.name_as_listed not in unpublished and second.name_as_listed not in unpublished

    # The changes by date, latest first: both on 2024-03-01.
    changes = today_page.split("data-changes", 1)[1]
    assert changes.index("2024-03-01") < changes.index(first.species.name_zh)
    assert second.species.name_zh in changes


def rows_part(html: str) -> str:
    """The page up to the list's changes by date (which name removed species too)."""
    return html.split("data-changes", 1)[0]


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", "2024/05/01"])
def test_a_bad_date_is_a_422_naming_the_field(web_as: Any, value: str) -> None:
    web = web_as("bureau_admin")
    web.post("/language", data={"lang": "en", "next": "/"})
    response = web.get(f"/admin/species-lists/moa-567?on={value}")
    assert response.status_code == 422
    assert "Invalid value for Day" in response.get_data(as_text=True)


def test_an_unknown_list_is_404(web_as: Any) -> None:
    assert web_as("admin").get("/admin/species-lists/no-such-list").status_code == 404
