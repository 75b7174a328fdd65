"""axe-core on every page, in Chinese and in English, at phone and desk width: no rule violations.

axe-core comes from npm (package.json, installed by `make install`) and is put into each page by the
test through the DevTools protocol; the app never serves it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from tests.browser.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESK = {"viewport": {"width": 1280, "height": 900}, "is_mobile": False, "has_touch": False}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: run `make install` (npm ci)")
    return Path(AXE).read_text(encoding="utf-8")


def _violations(p: Any, axe_source: str) -> list[str]:
    """axe's violations on the page as it stands, one line each: rule, impact, where."""
    p.page.wait_for_load_state("load")
    if not p.page.evaluate("typeof window.axe !== 'undefined'"):
        p.page.evaluate(axe_source)
    found = p.page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) =>
                `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
        }"""
    )
    return list(found)


def _pages(api_as: Any, make_observation: Any, treat: Any, admin: Any) -> list[str]:
    """Every page an admin can open, with a record, a site, a follow-up and a user to open."""
    api = api_as(admin.user)
    record = make_observation(api, notes="田埂")
    operation, _baseline = treat(api, method="chemical", days_ago=10)
    # A district list, so that its page shows the editing forms (census categories, rows, import).
    created = api.post(
        "/api/v1/species-lists",
        json={
            "code": "lp-forest-census",
            "name": "林草普查清单",
            "bureau": "forestry",
            "census_categories": ["fg_plant"],
        },
    )
    assert created.status_code == 201, created.get_json()
    # A plot with a quadrat at the record's site (the plot form and the plot's page).
    plot = api.post(
        "/api/v1/plots",
        json={
            "client_uuid": str(uuid.uuid4()),
            "site_id": record["site_id"],
            "surveyed_at": record["observed_at"],
            "shape": "square",
            "length_m": 10,
            "quadrats": [
                {"number": 1, "size_m2": 1, "records": [{"species_id": record["species_id"], "count": 3}]}
            ],
        },
    )
    assert plot.status_code == 201, plot.get_json()
    db.session.commit()
    db.session.rollback()
    return [
        "/",
        "/observations/new",
        "/observations",
        f"/observations/{record['id']}",
        f"/observations/{record['id']}/edit",
        "/review",
        "/control-operations/new",
        "/follow-ups",
        f"/follow-ups/{operation['follow_ups'][0]['id']}",
        f"/sites/{record['site_id']}",
        f"/sites/{record['site_id']}/plots/new",
        f"/plots/{plot.get_json()['id']}",
        "/map",
        "/notifications",
        "/dashboard",
        "/exports",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{admin.id}",
        "/admin/species-lists",
        "/admin/species-lists/moa-567",
        "/admin/species-lists/lp-forest-census",
        "/offline",
        "/app/signed-out",  # shown after signing out with no signal (drawn as if nobody were signed in)
        # Not /api-docs: it is Swagger UI's own page, for programmers, drawn by the vendored bundle.
    ]


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_no_axe_violations_on_any_page_in_either_language(
    phone: Any, field_user: Any, api_as: Any, make_observation: Any, treat: Any, axe_source: str, size: str
) -> None:
    admin = field_user("admin", organization="forestry")
    pages = _pages(api_as, make_observation, treat, admin)
    p = phone(**(DESK if size == "desk" else {}))
    found: dict[str, list[str]] = {}
    p.goto("/sign-in")
    found["zh /sign-in"] = _violations(p, axe_source)
    p.sign_in(admin.username)
    for language in ("zh", "en"):
        if language == "en":
            p.goto("/")  # the pages kept for the next person (offline, signed out) have no language form
            p.page.locator('button[data-lang="en"]').dispatch_event("click")
            p.page.wait_for_selector('html[lang="en"]')
        for path in pages:
            response = p.goto(path)
            assert response is not None and response.status == 200, path
            if path == "/map":  # checked with its list of points drawn, not before
                p.page.wait_for_selector("[data-map][data-ready]")
            found[f"{language} {path}"] = _violations(p, axe_source)
    failures = {page: rules for page, rules in found.items() if rules}
    assert not failures, "\n".join(f"{page}: {rules}" for page, rules in failures.items())
