"""Telling a retry from a clash: records sent with a client-made `client_uuid` keep a fingerprint of
what was sent, so the same request again returns the first result and different content is a 409.

`CreateOnce` is the one way a domain creates such a row (observations, control operations, plots, routes);
`same_request` tells an action applied once already (a review, a follow-up's completion) from a new one.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import refdata
from app.db import advisory_locks, held_locks, read_only_work
from app.extensions import db


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | enum.Enum):
        return str(value.value if isinstance(value, enum.Enum) else value)
    return value


def fingerprint(args: dict[str, Any], *, sender_id: int | None) -> str:
    """SHA-256 of the loaded request (defaults filled in, absent and null alike) and who sent it.

    `sender_id` None leaves the sender out: a row of an imported workbook, whose client_uuid is derived
    from the row itself (or is the record's own, exported) and whose person depends on who imports it
    (a name no colleague has falls back to the importer), so the same row imported again by another
    admin is the same request. A phone's record keeps its sender: the same client_uuid sent by someone
    else is other content (docs/contract.md §3.2)."""
    body = {key: _plain(value) for key, value in sorted(args.items()) if value is not None}
    if sender_id is not None:
        body["_sender"] = sender_id
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ClientMade(Protocol):
    """A row made once per client_uuid of an organization, keeping the fingerprint of what was sent;
    `__sender__` names its column of the person who sent it (`surveyor_id`, `operator_id`)."""

    __sender__: ClassVar[str]
    id: Any
    organization_id: Any
    client_uuid: Any
    payload_sha256: Any


M = TypeVar("M", bound=ClientMade)


@dataclass
class CreateOnce(Generic[M]):
    """Create a row once per (organization, client_uuid), whatever the retries and races.

    `earlier()` finds what an earlier try of the same request made (the same fingerprint: returned;
    different content: `clash(row)` is raised, a Conflict naming it). `create(build)` runs `build` (which
    adds and flushes the new row) in a savepoint: when a concurrent try wins the unique (organization,
    client_uuid) key, the savepoint rolls back and the winner's row is returned instead. Returns
    (row, created). The domain's own checks run between the two, so a retry is answered as before even
    when its content would no longer pass them.

    An earlier try is the sender's own row of that client_uuid in any organization (`sender_id`, the
    model's `__sender__` column), else the organization's row of it. A surveyor moved to another
    organization (docs/contract.md §1) may still have records on their phone whose first try was stored
    before the move and whose answer was lost: the retry, sent after it, finds that row where it was
    made and is answered with it, unchanged and still filed under the old organization (which made and
    counted it); it is never made a second time in the new one. Other content from them under that
    client_uuid is a clash, wherever the first row is. Another person's row of the same client_uuid in
    another organization is not theirs (client_uuids are unique per organization only). `sender_id`
    None (a workbook's row, see `fingerprint`) looks in the organization only, as its fingerprint
    leaves the sender out.
    """

    model: type[M]
    organization_id: int
    client_uuid: uuid.UUID
    content: InitVar[dict[str, Any]]  # what was sent, loaded: its `fingerprint` with the sender is `payload`
    clash: Callable[[M], Exception]
    sender_id: int | None = field(kw_only=True)  # who sent it; None: a workbook's row
    payload: str = field(init=False)
    locked: bool = field(default=False, init=False)

    def __post_init__(self, content: dict[str, Any]) -> None:
        # One sender for both: the fingerprint's and the look-up's (a retry after a move, above).
        self.payload = fingerprint(content, sender_id=self.sender_id)

    def lock(self, *also: str) -> None:
        """Take the PostgreSQL advisory lock of this client_uuid (of the model's table, in every
        organization), with the locks named in `also`, in one statement, before `earlier()` (a no-op
        elsewhere). Every try of a client_uuid then waits for an earlier one to commit and its `earlier()`,
        a statement of its own (READ COMMITTED: a new snapshot), finds that one's row: the unique key
        cannot be lost to a concurrent try, and `create` needs no savepoint (two round trips of every
        create). Not keyed by the organization: a try sent while its sender was being moved to another
        one (a request signed in before the move, its retry after) waits for the other too, and finds
        its row among the sender's. Only for a model whose every creation goes through a `CreateOnce`
        that locks.

        One such lock a transaction: a unit that creates many rows (a workbook's import) would otherwise
        hold one lock per row, and PostgreSQL's lock table is shared and bounded; its later rows take only
        `also` and keep the savepoint."""
        session = db.session()
        if session.get_bind().dialect.name != "postgresql":
            return
        prefix = f"client-uuid:{self.model.__table__.name}:"  # type: ignore[attr-defined]
        if any(name.startswith(prefix) for name in held_locks(session)):
            advisory_locks(session, *also)
            return
        advisory_locks(session, f"{prefix}{self.client_uuid}", *also)
        self.locked = True

    def lookup_params(self) -> dict[str, Any]:
        """The parameters of `lookup_columns`."""
        return {
            "organization_id": self.organization_id,
            "client_uuid": self.client_uuid,
            "sender_id": self.sender_id,
        }

    @staticmethod
    def lookup_columns(model: Any) -> tuple[sa.ColumnElement[Any], sa.ScalarSelect[str]]:
        """The look-up as two scalar expressions (the id of the row an earlier try made for the
        client_uuid, and the reference version), for a caller that reads them with something else in one
        statement and hands them to `earlier(found=…, version=…)`; bind parameters: `lookup_params()`."""
        return _lookup_columns(model)

    def earlier(self, *, found: Any = None, version: Any = None) -> M | None:
        """What an earlier try made (see the class), looked up now, or, when the caller read the columns
        of `lookup_columns` itself (`found` and `version` given), from those."""
        if found is not None or version is not None:
            refdata.remember_version(version)
        else:
            # The id first: almost every call finds nothing, and an entity select may join many tables.
            lookup, with_version = _lookups(self.model)
            connection = db.session.connection()
            if refdata.version_known():
                found = connection.execute(lookup, self.lookup_params()).scalar()
            else:
                # A create reads reference data next (app/refdata.py): its version in the same round trip.
                found, version = connection.execute(with_version, self.lookup_params()).one()
                refdata.remember_version(version)
        if found is None:
            return None
        row = db.session.get(self.model, found)
        if row is not None and row.payload_sha256 != self.payload:
            raise self.clash(row)
        return row

    def create(self, build: Callable[[], M]) -> tuple[M, bool]:
        if self.locked or _writers_serialized():
            # Nobody else can write this key between `earlier()` and this insert (`lock`, or SQLite's one
            # writer): no race to recover from, and no savepoint to pay for (two statements of every create).
            row = build()
            db.session.flush()
            return row, True
        try:
            with db.session.begin_nested():
                row = build()
                db.session.flush()
        except IntegrityError:
            earlier = self.earlier()
            if earlier is None:
                raise
            return earlier, False
        return row, True


@functools.cache
def _lookup_columns(model: Any) -> tuple[sa.ColumnElement[Any], sa.ScalarSelect[str]]:
    """The sender's own row of the client_uuid in any organization (the first, should an earlier version
    have left two), else the organization's: two index probes in one expression, the sender's through
    the (sender, client_uuid) index, the organization's through the unique key. A null `sender_id` (a
    workbook's row) matches no sender."""
    table = model.__table__
    client_uuid = sa.bindparam("client_uuid", type_=table.c.client_uuid.type)
    theirs = (
        sa.select(sa.func.min(table.c.id))
        .where(
            table.c[model.__sender__] == sa.bindparam("sender_id", type_=table.c[model.__sender__].type),
            table.c.client_uuid == client_uuid,
        )
        .scalar_subquery()
    )
    here = (
        sa.select(table.c.id)
        .where(
            table.c.organization_id == sa.bindparam("organization_id", type_=table.c.organization_id.type),
            table.c.client_uuid == client_uuid,
        )
        .scalar_subquery()
    )
    return sa.func.coalesce(theirs, here), refdata.version_query()


@functools.cache
def _lookups(model: Any) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The id of the row made for a client_uuid, without and with the reference version: Core statements
    built once per model and run on the session's connection (the ORM's execution of the same select cost
    three times as much, bench/RESULTS.md)."""
    earlier, version = _lookup_columns(model)
    return sa.select(earlier), sa.select(earlier, version)


def _writers_serialized() -> bool:
    """SQLite writes under BEGIN IMMEDIATE (app/db.py): a writing unit holds the database's one write lock
    from its first statement, so a concurrent try of the same request waits and then finds this row."""
    return db.session.get_bind().dialect.name == "sqlite" and not read_only_work.get()


def same_request(done: uuid.UUID | None, sent: uuid.UUID | None) -> bool:
    """Whether an action already applied with `done` (a review, a completion) is this request again."""
    return sent is not None and done == sent
