"""The rows of a download: the list endpoints' own queries (the same filters give the same rows, in the
same order), read in batches so that memory stays flat however many match."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, lazyload

from app.control import services as control
from app.control.models import ControlOperation
from app.extensions import db
from app.gis.layers import SOURCES
from app.gis.writers.base import Record
from app.observations import services as observations
from app.observations.models import Observation
from app.sites import services as sites
from app.sites.models import Site

# Rows fetched at a time (a server-side cursor on PostgreSQL): one batch's objects are in memory at once.
BATCH = 500


def query(layer: str, filters: dict[str, Any]) -> sa.Select[Any]:
    """The list's query for `layer` with `filters` (the list's own arguments, without paging).

    Raises InvalidInput as the list does (an unknown township or organization), before anything is sent.
    """
    if layer == "observations":
        # Photos are not part of a GIS row (never touched, so never loaded); the list shows them.
        return observations.filtered(filters).options(lazyload(Observation.photos))
    if layer == "sites":
        return sites.filtered(filters)
    if layer == "control_operations":
        return control.filtered_operations(filters).options(
            joinedload(ControlOperation.site).joinedload(Site.township),
            lazyload(ControlOperation.follow_ups),
            lazyload(ControlOperation.photos),
        )
    raise ValueError(f"unknown layer {layer!r}")


def bind() -> sa.Engine | sa.Connection:
    """What `records` reads through: the engine (in tests, the test's connection)."""
    return db.session.get_bind()


def records(
    layer: str, stmt: sa.Select[Any], *, bind: sa.Engine | sa.Connection, zone: tzinfo
) -> Iterator[Record]:
    """The rows of `stmt` as the layer's records, BATCH at a time.

    A response body is read after its request has ended (and its unit of work has committed), outside
    Flask's contexts, so the rows are read by a session of their own, opened with the first row and
    closed with the last (or when the client goes away). It only reads.
    """
    to_record = SOURCES[layer].record
    with Session(bind=bind) as session:
        result = session.execute(stmt.execution_options(yield_per=BATCH))
        try:
            for row in result.scalars():
                yield to_record(row, zone)
        finally:
            result.close()
