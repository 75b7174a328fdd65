"""Reference data: the syncs' tallies and change detection (species registry, district), and the copy of
the reference rows each process keeps for the create path, with the stored version that tells it when to
read them again."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import ORMExecuteState, Session

from app.extensions import db

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Tally:
    """What a sync did to one kind of record."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.retired)

    def __str__(self) -> str:
        text = f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged"
        return text + (f", {self.retired} retired" if self.retired else "")


def apply_values(obj: Any, values: dict[str, Any]) -> str:
    """Set the attributes that differ; "changed" if any did, else "unchanged"."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return "changed" if changed else "unchanged"


# ---------------------------------------------------------------------------------------------
# Reference data kept per process (docs/architecture.md, "Reference data per process")
#
# A create reads the same few reference rows every time: the species, the district, its townships,
# villages and former units' codes, the habitats, the boundary polygons. They change only when an admin
# edits them or a command loads them (`flask species sync`, `flask district load`, a boundary load). Each
# process therefore keeps them, keyed by one stored version: every flush that adds, changes or deletes a
# row of a `Reference` table (and every ORM bulk insert, update or delete of one) writes a new random
# version in the same transaction, so a change committed by one process is seen by every other at its
# next request, and a change rolled back leaves a version nobody else ever reads. A request reads the
# version once (one indexed row); a version it wrote itself is read again after its flush.

_VERSION_KEY = "ias.refdata.version"

reference_version = sa.Table(
    "reference_version",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.String(32), nullable=False),
)


class Reference:
    """Mixin for a table of reference data: changing one of its rows changes the stored version, and every
    process's copy of the reference data (`cached`) is read again."""


def new_version() -> str:
    return uuid.uuid4().hex


def version_query() -> sa.ScalarSelect[str]:
    """The stored version as a scalar subquery, for a statement that reads something else as well
    (app/idempotency.py asks for it with a create's first read)."""
    return sa.select(reference_version.c.version).where(reference_version.c.id == 1).scalar_subquery()


def version_known() -> bool:
    """Whether this request has read the version already (outside a request: never kept)."""
    return has_request_context() and _VERSION_KEY in request.environ


def remember_version(value: str | None) -> None:
    """Keep the version a combined statement read (see `version_query`) for the rest of the request."""
    if has_request_context():
        request.environ[_VERSION_KEY] = value


def version() -> str | None:
    """The stored version, read once per request (outside a request: at every call)."""
    if version_known():
        return request.environ[_VERSION_KEY]
    value = db.session.execute(sa.select(version_query())).scalar()
    remember_version(value)
    return value


_cache: dict[str, tuple[str, Any]] = {}
_lock = threading.Lock()


def cached(name: str, build: Callable[[], T]) -> T:
    """`build()`'s answer, kept in this process while the stored version stays the same. `build` must
    return data that outlives the session (plain values, or objects from `detached`).

    Like a query, it flushes the session's pending changes first (unless autoflush is off), so a change
    to a reference row made earlier in the same unit of work is seen."""
    if db.session.autoflush:
        db.session.flush()
    current = version()
    kept = _cache.get(name)
    if current is not None and kept is not None and kept[0] == current:
        return kept[1]
    value = build()
    if current is not None:
        with _lock:
            _cache[name] = (current, value)
    return value


def detached(stmt: sa.Select[Any]) -> list[Any]:
    """The entities `stmt` selects, loaded (with what its options load eagerly) in a session of their own
    on the request's connection and transaction, then detached: safe to keep and to share between
    threads. A request uses one through `attach` (no SQL)."""
    with Session(bind=db.session.connection(), autoflush=False, expire_on_commit=False) as own:
        rows = list(own.scalars(stmt).unique())
        own.expunge_all()
    return rows


def attach(obj: R) -> R:
    """The session's own copy of a kept reference object: the one it holds already, else a copy made with
    `Session.merge` without loading (no SQL)."""
    key = sa.inspect(obj).key
    held = db.session.identity_map.get(key) if key is not None else None
    return held if held is not None else db.session.merge(obj, load=False)


def clear() -> None:
    """Forget everything kept (tests; a process that changed the schema)."""
    with _lock:
        _cache.clear()


def _is_reference(obj: Any) -> bool:
    return isinstance(obj, Reference)


def _bump(session: Session) -> None:
    session.connection().execute(
        sa.update(reference_version).where(reference_version.c.id == 1).values(version=new_version())
    )
    if has_request_context():
        request.environ.pop(_VERSION_KEY, None)  # read again: this request's own change


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    changed = (
        any(_is_reference(o) for o in session.new)
        or any(_is_reference(o) for o in session.deleted)
        or any(_is_reference(o) and session.is_modified(o) for o in session.dirty)
    )
    if changed:
        _bump(session)


def _do_orm_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, Reference):
        _bump(state.session)


def register_listeners() -> None:
    """Bump the version on every change to a Reference table (create_app calls this)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "do_orm_execute", _do_orm_execute)
