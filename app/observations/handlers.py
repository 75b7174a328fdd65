"""Observations subscribes to the events of the domains below it (app/events.py): when township or village
polygons are loaded, records and sites made before them without a township (or village) are given the one
their point lies in, so that the census counts them by township (docs/maps.md, "Records made before the
boundaries"). A township or village a surveyor named, or one found before, is never changed here: a record
whose unit the new polygons disagree with is flagged instead (township_mismatch, village_mismatch), and one
they now agree with loses its flag, at the load, as an edit of the record would (app/observations/flags.py).
A record a village load gives its village's township as well is checked against the township polygons
there and then, as an edit would check it. All are set-based statements in the load's unit of work: the
district has ~100k records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app import events
from app.district import boundaries
from app.district.events import BoundariesLoaded, Placed, Rechecked
from app.district.models import Township, Village
from app.extensions import db
from app.observations.models import Flag, Observation, ObservationFlag
from app.sites.models import Site

_CHUNK = 500  # ids per UPDATE: well under every driver's bound-parameter limit


def on_boundaries_loaded(event: BoundariesLoaded) -> Placed:
    """Place what was recorded before the polygons of `event.level`; how many records and sites."""
    if event.level == "township":
        return Placed(records=_place_townships(Observation), sites=_place_townships(Site))
    if event.level == "village":
        records, flagged = _place_villages(Observation)  # a site has a township, no village
        return Placed(records=records, township_flagged=flagged)
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


def _place_villages(model: Any) -> tuple[int, int]:
    """Give the records without a village the one their point lies in (and, without a township, its
    township); how many were placed, and how many of those given a township the township polygons
    disagree with (flagged township_mismatch now: the township load's re-check has run before them)."""
    township_codes: dict[int, str] = {
        i: code for i, code in db.session.execute(sa.select(Township.id, Township.code))
    }
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
    disagree: list[int] = []  # given a township here that its polygon does not hold the point in
    for row_id, lon, lat, township_id in rows:
        code = boundaries.village_code_at(lon, lat)
        if code is None or code not in villages:
            continue
        village_id, village_township = villages[code]
        if township_id is not None and township_id != village_township:
            continue  # a village of another township: the record's township stands, and no village
        found[(("village_id", village_id), ("township_id", village_township))].append(row_id)
        if township_id is None and boundaries.township_mismatch(township_codes[village_township], lon, lat):
            disagree.append(row_id)
    placed = _update(model, found.items())
    return placed, _flag(disagree, Flag.TOWNSHIP_MISMATCH)


def _update(model: Any, groups: Iterable[tuple[tuple[tuple[str, int], ...], list[int]]]) -> int:
    table = model.__table__
    placed = 0
    for values, row_ids in groups:
        for start in range(0, len(row_ids), _CHUNK):
            chunk = row_ids[start : start + _CHUNK]
            db.session.execute(sa.update(table).where(table.c.id.in_(chunk)).values(dict(values)))
            placed += len(chunk)
    return placed


def on_boundaries_loaded_recheck(event: BoundariesLoaded) -> Rechecked:
    """The mismatch flag of `event.level` again, for every record that has a unit of that level (after
    `on_boundaries_loaded` placed those without: a placed record agrees with its point)."""
    if event.level == "township":
        return _recheck(
            Township, Observation.township_id, Flag.TOWNSHIP_MISMATCH, boundaries.township_mismatch
        )
    if event.level == "village":
        return _recheck(Village, Observation.village_id, Flag.VILLAGE_MISMATCH, boundaries.village_mismatch)
    return Rechecked()


def _recheck(unit: Any, unit_id: Any, flag: Flag, mismatch: Callable[[str, float, float], bool]) -> Rechecked:
    """Flag the records whose unit `mismatch` says the point is not in, unflag those it now is in: the
    same test an edit makes (app/observations/checks.py), without loading a record. One read of the
    records with their unit's code and whether they carry the flag; then only the changes are written,
    a chunk of ids per statement. The unit a record names is left as it is."""
    records, flags = Observation.__table__, ObservationFlag.__table__
    has_flag = sa.and_(flags.c.observation_id == records.c.id, flags.c.flag == flag)
    rows = db.session.execute(
        sa.select(records.c.id, records.c.longitude, records.c.latitude, unit.code, flags.c.flag.is_not(None))
        .select_from(records)
        .join(unit, unit.id == unit_id)
        .outerjoin(flags, has_flag)
        .execution_options(yield_per=5000)
    )
    add: list[int] = []
    remove: list[int] = []
    for record_id, lon, lat, code, flagged in rows:
        wrong = mismatch(code, lon, lat)
        if wrong and not flagged:
            add.append(record_id)
        elif flagged and not wrong:
            remove.append(record_id)
    added = _flag(add, flag)
    removed = 0
    for chunk in _chunks(remove):
        removed += len(
            db.session.execute(
                sa.delete(flags)
                .where(flags.c.flag == flag, flags.c.observation_id.in_(chunk))
                .returning(flags.c.observation_id)
            ).all()
        )
    _expire_flags(set(remove))
    return Rechecked(flagged=added, unflagged=removed)


def _flag(ids: list[int], flag: Flag) -> int:
    """Give the records `ids` the flag (those that have it already keep their one), a chunk of ids per
    INSERT … SELECT; how many were flagged."""
    records, flags = Observation.__table__, ObservationFlag.__table__
    has_flag = sa.and_(flags.c.observation_id == records.c.id, flags.c.flag == flag)
    added = 0
    for chunk in _chunks(ids):
        # Counted by what the statements return (an INSERT … SELECT's rowcount is not every driver's).
        added += len(
            db.session.execute(
                sa.insert(flags)
                .from_select(
                    ["observation_id", "flag"],
                    sa.select(records.c.id, sa.literal(flag, flags.c.flag.type)).where(
                        records.c.id.in_(chunk), ~sa.exists().where(has_flag)
                    ),
                )
                .returning(flags.c.observation_id)
            ).all()
        )
    _expire_flags(set(ids))
    return added


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    return (ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK))


def _expire_flags(changed: set[int]) -> None:
    """Records of this session whose flags were rewritten underneath it read them again when next used."""
    if not changed:
        return
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Observation) and obj.id in changed:
            db.session.expire(obj, ["flag_rows"])


def init_app(app: Flask) -> None:
    events.subscribe(BoundariesLoaded, on_boundaries_loaded)
    events.subscribe(BoundariesLoaded, on_boundaries_loaded_recheck)  # after the placing: in this order
