"""The create path reads the district's reference rows once per request (issue 16, point 9): the district
and the former units' codes (a create with a township and a village asked for them 3 and 2 times), and
again in the next request."""

from __future__ import annotations

from typing import Any


def _creates(api: Any, payload: Any, count_queries: Any, **changes: Any) -> list[str]:
    with count_queries() as queries:
        response = api.post("/api/v1/observations", json=payload(**changes))
    assert response.status_code == 201, response.get_json()
    return queries


def _reading(queries: list[str], table: str) -> int:
    return sum(1 for q in queries if q.lstrip().upper().startswith("SELECT") and f"FROM {table}" in q)


def test_a_create_reads_the_district_and_former_units_once(
    api_as: Any, observation_payload: Any, count_queries: Any
) -> None:
    api = api_as("surveyor")
    for _ in range(2):  # the second request must read them again (nothing kept across requests)
        queries = _creates(api, observation_payload, count_queries, village_code="500155001201")
        assert _reading(queries, "districts") == 1
        assert _reading(queries, "former_units") == 1
