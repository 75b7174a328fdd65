"""Observations subscribes to the events of the domains below it (app/events.py): when township or village
polygons are loaded, records and sites made before them without a township (or village) are given the one
their point lies in, so that the census counts them by township (docs/maps.md, "Records made before the
boundaries"). A township or village a surveyor named, or one found before, is never changed here: a named
unit that the new polygons disagree with is the township_mismatch flag's business when the record is next
checked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app import events
from app.district import boundaries
from app.district.events import BoundariesLoaded, Placed
from app.district.models import Township, Village
from app.extensions import db
from app.observations.models import Observation
from app.sites.models import Site

_CHUNK = 500  # ids per UPDATE: well under every driver's bound-parameter limit


def on_boundaries_loaded(event: BoundariesLoaded) -> Placed:
    """Place what was recorded before the polygons of `event.level`; how many records and sites."""
    if event.level == "township":
        return Placed(records=_place_townships(Observation), sites=_place_townships(Site))
    if event.level == "village":
        return Placed(records=_place_villages(Observation))  # a site has a township, no village
    return Placed()


def _place_townships(model: Any) -> int:
    ids: dict[str, int] = {code: i for code, i in db.session.execute(sa.select(Township.code, Township.id))}
    rows = db.session.execute(
        sa.select(model.id, model.longitude, model.latitude).where(model.township_id.is_(None))
    )
    found: dict[tuple[tuple[str, int], ...], list[int]] = defaultdict(list)
    for row_id, lon, lat in rows:
        code = boundaries.township_code_at(lon, lat)
        if code is not None and code in ids:
            found[(("township_id", ids[code]),)].append(row_id)
    return _update(model, found.items())


def _place_villages(model: Any) -> int:
    villages = {
        code: (village_id, township_id)
        for code, village_id, township_id in db.session.execute(
            sa.select(Village.code, Village.id, Village.township_id)
        )
    }
    rows = db.session.execute(
        sa.select(model.id, model.longitude, model.latitude, model.township_id).where(
            model.village_id.is_(None)
        )
    )
    found: dict[tuple[tuple[str, int], ...], list[int]] = defaultdict(list)
    for row_id, lon, lat, township_id in rows:
        code = boundaries.village_code_at(lon, lat)
        if code is None or code not in villages:
            continue
        village_id, village_township = villages[code]
        if township_id is not None and township_id != village_township:
            continue  # a village of another township: the record's township stands, and no village
        found[(("village_id", village_id), ("township_id", village_township))].append(row_id)
    return _update(model, found.items())


def _update(model: Any, groups: Iterable[tuple[tuple[tuple[str, int], ...], list[int]]]) -> int:
    table = model.__table__
    placed = 0
    for values, row_ids in groups:
        for start in range(0, len(row_ids), _CHUNK):
            chunk = row_ids[start : start + _CHUNK]
            db.session.execute(sa.update(table).where(table.c.id.in_(chunk)).values(dict(values)))
            placed += len(chunk)
    return placed


def init_app(app: Flask) -> None:
    events.subscribe(BoundariesLoaded, on_boundaries_loaded)
