"""Reference data kept per process (app/refdata.py, docs/architecture.md "Reference data per process"):
a create reads the species, the district, its townships, villages, former units' codes and the habitats
from the process's copy, asking the database only for the stored version (in the same statement as its
client_uuid look-up); any change to a reference row writes a new version, and the next create reads the
rows again and sees the change."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from app import refdata
from app.district.models import Township, Village
from app.extensions import db
from app.species.models import Habitat, Species

REFERENCE_TABLES = ("species", "districts", "townships", "township_aliases", "villages", "former_units")


def _reads(queries: list[str], table: str) -> int:
    return sum(
        1 for q in queries if q.lstrip().upper().startswith("SELECT") and re.search(rf"\bFROM {table}\b", q)
    )


def _create(api: Any, payload: Any, count_queries: Any, **changes: Any) -> tuple[dict[str, Any], list[str]]:
    with count_queries() as queries:
        response = api.post("/api/v1/observations", json=payload(**changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json(), queries


def test_a_create_reads_no_reference_rows_while_nothing_changed(
    api_as: Any, observation_payload: Any, count_queries: Any
) -> None:
    api = api_as("surveyor")
    _create(api, observation_payload, count_queries, village_code="500155001201")  # fills the copy
    body, queries = _create(api, observation_payload, count_queries, village_code="500155001201")
    for table in (*REFERENCE_TABLES, "habitats", "boundary_loads"):
        assert _reads(queries, table) == 0, (table, queries)
    # The version is asked once, with the client_uuid, in one statement.
    versions = [q for q in queries if "reference_version" in q]
    assert len(versions) == 1 and "observations" in versions[0]
    # … and the record still carries everything the rows say.
    assert body["township_code"] == "500155001"
    assert body["village_code"] == "500155001201"
    assert body["habitat"] == "paddy"
    assert body["species"]["name_zh"] == "福寿螺"


def test_a_changed_township_is_seen_by_the_next_create(
    api_as: Any, observation_payload: Any, count_queries: Any
) -> None:
    api = api_as("surveyor")
    before, _ = _create(api, observation_payload, count_queries)
    township = db.session.scalar(sa.select(Township).where(Township.code == "500155001"))
    assert township is not None and before["township_name"] == township.name_zh
    old_version = db.session.scalar(sa.select(refdata.reference_version.c.version))
    township.name_zh = "新名镇"
    db.session.flush()
    assert db.session.scalar(sa.select(refdata.reference_version.c.version)) != old_version
    after, queries = _create(api, observation_payload, count_queries)
    assert after["township_name"] == "新名镇"
    assert _reads(queries, "townships") == 1  # read again once, then kept


def test_a_species_retired_after_it_was_kept_is_refused(
    api_as: Any, observation_payload: Any, count_queries: Any, species_id: Any
) -> None:
    api = api_as("surveyor")
    _create(api, observation_payload, count_queries)
    species = db.session.get(Species, species_id("pomacea-canaliculata"))
    assert species is not None
    species.retired_on = sa.func.current_date()
    db.session.flush()
    response = api.post("/api/v1/observations", json=observation_payload())
    assert response.status_code == 422
    assert "species_id" in response.get_json()["errors"]


def test_a_bulk_update_of_a_reference_table_writes_a_new_version(
    api_as: Any, observation_payload: Any, count_queries: Any
) -> None:
    api = api_as("surveyor")
    _create(api, observation_payload, count_queries, village_code="500155001201")
    old_version = db.session.scalar(sa.select(refdata.reference_version.c.version))
    db.session.execute(sa.update(Village).where(Village.code == "500155001201").values(short_name="新村"))
    assert db.session.scalar(sa.select(refdata.reference_version.c.version)) != old_version
    body, _ = _create(api, observation_payload, count_queries, village_code="500155001201")
    assert body["village_name"] == "新村"


def test_a_retired_habitat_is_unknown_at_the_next_create(
    api_as: Any, observation_payload: Any, count_queries: Any
) -> None:
    api = api_as("surveyor")
    _create(api, observation_payload, count_queries)
    habitat = db.session.scalar(sa.select(Habitat).where(Habitat.code == "paddy"))
    assert habitat is not None
    habitat.retired = True
    db.session.flush()
    response = api.post("/api/v1/observations", json=observation_payload())
    assert response.status_code == 422
    assert "habitat" in response.get_json()["errors"]


def test_a_change_to_other_tables_keeps_the_version(make_user: Any) -> None:
    old_version = db.session.scalar(sa.select(refdata.reference_version.c.version))
    make_user("surveyor")
    db.session.flush()
    assert db.session.scalar(sa.select(refdata.reference_version.c.version)) == old_version


def test_a_kept_object_does_not_overwrite_the_sessions_own_changes(app: Any) -> None:
    """`attach` hands back the session's own (changed, not yet flushed) copy rather than the kept one."""
    with app.test_request_context():
        from app.district.services import township_by_id

        township = db.session.scalar(sa.select(Township).where(Township.code == "500155001"))
        assert township is not None
        kept = township_by_id(township.id)
        assert kept is township
        township.name_zh = "改了"
        with db.session.no_autoflush:
            assert township_by_id(township.id) is township
        assert township.name_zh == "改了"
