"""A reduction below 0 (the pest grew after the treatment) is shown with what it means, not as a bare
negative percentage a reader may take for a typing error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import PADDY
from tests.control.fieldwork import complete

LAT, LON = PADDY
CHECK_LAT = LAT + 0.01
ROSE = "负值表示防治后数量不降反增"


def _complete(api: Any, follow_up_id: int, **observation: Any) -> Any:
    r = complete(api, follow_up_id, **observation)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_density_that_rose_is_explained_on_the_page(api_as: Any, web_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)  # 20 snails/m² before
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=50.0)
    assert done["efficacy"]["density_reduction_pct"] == -150.0  # (20 − 50) / 20
    page = web_as(api.user).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "-150.0" in page
    assert ROSE in page
    english = web_as("verifier", locale="en").get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "the pest grew after the treatment instead of falling (−100 % is twice as many" in english


def test_a_negative_corrected_efficacy_is_explained_too(
    api_as: Any, web_as: Any, make_observation: Any, treat: Any
) -> None:
    api = api_as("surveyor")
    now = datetime.now(UTC)
    check = make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(days=11)).isoformat(), density_per_m2=20.0
    )
    operation, _ = treat(api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    make_observation(
        api, latitude=CHECK_LAT, observed_at=(now - timedelta(hours=3)).isoformat(), density_per_m2=10.0
    )
    follow_up_id = operation["follow_ups"][0]["id"]
    done = _complete(api, follow_up_id, density_per_m2=15.0)
    # T 20 → 15 (25 % fewer), CK 20 → 10 (50 % fewer untreated): 1 − (20 × 15) / (10 × 20) = −50 %.
    assert done["efficacy"]["density_reduction_pct"] == 25.0
    assert done["efficacy"]["corrected_efficacy_pct"] == -50.0
    page = web_as(api.user).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert "-50.0" in page
    assert ROSE in page


def test_no_explanation_when_every_figure_fell(api_as: Any, web_as: Any, treat: Any) -> None:
    api = api_as("surveyor")
    operation, _ = treat(api, method="chemical", days_ago=10)
    follow_up_id = operation["follow_ups"][0]["id"]
    _complete(api, follow_up_id, density_per_m2=5.0)
    page = web_as(api.user).get(f"/follow-ups/{follow_up_id}").get_data(as_text=True)
    assert ROSE not in page
