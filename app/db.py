"""Declarative base, naming convention and the column types every domain reuses."""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import weakref
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry

M = TypeVar("M")

# Constraint names that are the same on every database, so migrations can drop and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones; PostgreSQL has timestamptz. Naive datetimes are refused on the way in:
    a time without a zone is a bug upstream, not something to guess about here.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# For optional documents: Python None is SQL NULL (not JSON null), so `IS NULL` finds it.
NullableJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

intpk = Annotated[int, mapped_column(primary_key=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]


class Base(DeclarativeBase):
    # Every datetime column is UTC-aware unless it says otherwise.
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite ignores foreign keys unless asked, per connection; WAL lets readers run beside a writer.

    pysqlite also starts transactions late and mishandles SAVEPOINT; hand transaction control to
    SQLAlchemy (which emits BEGIN itself, see `begin_sqlite_transaction`), as its documentation advises.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# True while the work under way only reads (a GET request): its SQLite transactions BEGIN deferred. The
# request layer says so (app/uow.py, before each request), so this module needs no web framework.
read_only_work: ContextVar[bool] = ContextVar("ias_read_only_work", default=False)


def begin_sqlite_transaction(connection: sa.Connection) -> None:
    """BEGIN IMMEDIATE for anything that may write (commands, jobs, unsafe requests).

    A deferred transaction that reads and then writes fails at once with "database is locked" when
    another connection wrote in between, whatever busy_timeout says; taking the write lock up front
    makes such writers queue instead. Read-only work (`read_only_work`, or a connection with the
    `sqlite_deferred_begin` execution option) keeps a plain BEGIN and never waits.
    """
    if connection.dialect.name != "sqlite":
        return
    deferred = read_only_work.get() or connection.get_execution_options().get("sqlite_deferred_begin", False)
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def loaded(session: Session, model: type[M], values: dict[str, Any], **related: Any) -> M:
    """The persistent `model` object of a row read with a Core statement, without SQL and without the ORM's
    loading machinery (several times the cost of the statement on the hot paths, bench/RESULTS.md):
    the session's own object when it has one (as an ORM query would return it, unrefreshed), else one
    built from `values` (every column, keyed by attribute name) and `related` (relationships already
    loaded: objects made the same way) and added to the session as if a query had loaded it."""
    # A fresh process's first request may come here before any query has configured the mappers (their
    # attribute instruments are made then); after the first call this is a flag check.
    sa.orm.configure_mappers()
    mapper = sa.inspect(model)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values, **related)
    sa.orm.make_transient_to_detached(obj)
    session.add(obj)
    return obj


def column_changes(obj: Any) -> dict[str, Any] | None:
    """The new values of a persistent object's changed columns (keyed by column name), for a caller that
    writes them with a Core UPDATE and then calls `written`; None when it has changes such an UPDATE
    cannot write (a relationship or collection changed): let the session flush it."""
    state = sa.inspect(obj)
    changes: dict[str, Any] = {}
    for attr in state.mapper.attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        if not isinstance(attr, sa.orm.ColumnProperty):
            return None
        changes[attr.columns[0].key] = history.added[0] if history.added else None
    return changes


def written(session: Session, obj: Any) -> None:
    """`obj`'s changes are in the database now (written by the caller, see `column_changes`): mark it clean,
    as a flush does, so that the commit's flush has nothing to do for it."""
    state = sa.inspect(obj)
    state._commit_all(state.dict, session.identity_map)  # what a flush does (there is no public API)


def lock_key(name: str) -> int:
    """The 64-bit key of a PostgreSQL advisory lock named `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


# The advisory locks taken in each transaction (and savepoint) of a session, by name (see `advisory_locks`).
_held_locks: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _transactions(session: Session) -> list[Any]:
    """The session's current transaction and those around it, innermost first (empty outside one)."""
    current = session.get_nested_transaction() or session.get_transaction()
    chain = []
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain


def held_locks(session: Session) -> set[str]:
    """The names of the advisory locks `advisory_locks` took in the session's current transaction."""
    return set().union(*(_held_locks.get(t, ()) for t in _transactions(session)))


def advisory_locks(session: Session, *names: str) -> None:
    """Hold PostgreSQL advisory locks on `names` until the transaction ends, in one statement and in the
    order given (a no-op elsewhere).

    A transaction-level lock is held until the transaction ends (or the savepoint it was taken in is rolled
    back), so asking again for one held is a round trip for nothing: the names taken are kept against the
    transaction (or savepoint) they were taken in, by weak reference, and not asked for again within it."""
    if session.get_bind().dialect.name != "postgresql":
        return
    held = held_locks(session)
    wanted = [name for name in dict.fromkeys(names) if name not in held]
    if not wanted:
        return
    keys = {f"lock_{i}": lock_key(name) for i, name in enumerate(wanted)}
    session.connection().execute(_locks_statement(len(wanted)), keys)
    chain = _transactions(session)  # the statement began one when there was none
    _held_locks.setdefault(chain[0], set()).update(wanted)


@functools.cache
def _locks_statement(n: int) -> sa.Select[Any]:
    """SELECT pg_advisory_xact_lock(:lock_0), …: built once per number of locks, not per request."""
    return sa.select(
        *(sa.func.pg_advisory_xact_lock(sa.bindparam(f"lock_{i}", type_=sa.BigInteger)) for i in range(n))
    )


def register_engine_events() -> None:
    """Per-connection set-up for SQLite (a no-op for PostgreSQL). Idempotent."""
    for name, listener in (
        ("connect", configure_sqlite_connection),
        ("begin", begin_sqlite_transaction),
    ):
        if not sa.event.contains(sa.engine.Engine, name, listener):
            sa.event.listen(sa.engine.Engine, name, listener)
