"""Recording a new observation: the create path (docs/architecture.md, "A request").

One statement reads what the create needs before its checks (an earlier try of the same client_uuid, the
nearest sites and the likely duplicates around the point); the record, its flags, the joined site's new
dates and the audit rows are written with Core statements, not the unit of work's flush (one statement
on PostgreSQL). Editing and listing records: app/observations/services.py.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.models import AuditLog
from app.audit.services import created_row, record_created, update_row
from app.db import column_changes, loaded, utcnow, written
from app.errors import Conflict
from app.events import publish
from app.extensions import db
from app.geo.crs import CRS, to_wgs84
from app.idempotency import CreateOnce
from app.observations.checks import check_record
from app.observations.events import ObservationAdded, ObservationRecorded
from app.observations.flags import closest_duplicate, duplicate_params, new_duplicate_candidates, update_flags
from app.observations.models import Observation, ObservationFlag, ReviewStatus
from app.observations.services import _apply, _place, latest_detections, refresh_extent
from app.sites import services as sites
from app.sites.models import Site


@functools.cache
def _nearby_statement() -> sa.Select[Any]:
    """A new record's first read, built once: what an earlier try of its client_uuid made (with the
    reference version, `CreateOnce.earlier`), then the nearest-site and duplicate searches of its
    surroundings: the species' sites in the box, with every column (the one joined becomes the session's
    Site without another query), and the duplicate candidates, their other columns null; `is_site` tells
    them apart. One row with only the look-up when there is nothing around."""
    site_columns = [Site.__table__.c[attr.columns[0].key] for attr in _site_columns()]
    first = [c for c in site_columns if c.key in ("id", "longitude", "latitude")]
    first.sort(key=lambda c: ("id", "longitude", "latitude").index(c.key))
    rest = [c for c in site_columns if c not in first]
    duplicates = new_duplicate_candidates().subquery()
    nearby = sa.union_all(
        sites.sites_in_box(*first, *rest, sa.literal_column("1").label("is_site")),
        sa.select(
            duplicates.c.id,
            duplicates.c.longitude,
            duplicates.c.latitude,
            *(sa.null().label(c.key) for c in rest),
            sa.literal_column("0").label("is_site"),
        ),
    ).subquery("nearby")
    found, version = CreateOnce.lookup_columns(Observation)
    head = sa.select(found.label("earlier_id"), version.label("reference_version")).subquery("head")
    return sa.select(head, nearby).select_from(head.outerjoin(nearby, sa.true()))


class _NearbySearch:
    """A new record's two searches of its surroundings, run with the look-up of its client_uuid before it
    is checked (one statement, `_nearby_statement`): the nearest site of its species (to join) and an
    earlier record it may repeat (to flag). The point is the one the check will find (the sent point in
    WGS-84); the site placement asks for the nearest site after its lock on the species' sites, which
    the create has taken before this read (PostgreSQL; SQLite's writers are serialized)."""

    def __init__(self, args: dict[str, Any]) -> None:
        lon, lat = to_wgs84(args["longitude"], args["latitude"], CRS(args["crs"]))
        self.point = (lon, lat)
        self.radius_m = float(current_app.config["IAS_SITE_RADIUS_M"])
        probe = SimpleNamespace(
            species_id=args["species_id"],
            detected=args["detected"],
            observed_at=args["observed_at"],
            longitude=lon,
            latitude=lat,
        )
        self.params = {
            **sites.box_params(args["species_id"], lon, lat, self.radius_m),
            **duplicate_params(probe),  # type: ignore[arg-type]
        }
        self.rows: list[Any] = []
        self.duplicate_rows: list[Any] = []

    def read(self, once: CreateOnce[Observation]) -> Observation | None:
        """Run the statement; returns what `once.earlier()` would."""
        params = {**self.params, **once.lookup_params()}
        rows = db.session.connection().execute(_nearby_statement(), params).all()
        self.rows = [row for row in rows if row.is_site is not None]
        self.duplicate_rows = [row[2:5] for row in self.rows if not row.is_site]
        return once.earlier(found=rows[0].earlier_id, version=rows[0].reference_version)

    def nearest_site(self, radius_m: float) -> Site | None:
        if radius_m != self.radius_m:  # pragma: no cover - the placement's radius is the same setting
            raise AssertionError("the site search was made with another radius")
        lon, lat = self.point
        site_rows = [row for row in self.rows if row.is_site]
        found = sites.closest((row[2:5] for row in site_rows), lon, lat, radius_m)
        if found is None:
            return None
        row = next(row._mapping for row in site_rows if row[2] == found)
        return loaded(db.session(), Site, {attr.key: row[attr.columns[0].key] for attr in _site_columns()})

    def duplicate(self, observation: Observation) -> int | None:
        return closest_duplicate(observation, self.duplicate_rows)


@functools.cache
def _site_columns() -> Any:
    # Read on first use, not at import: inspecting a mapper's attributes configures every mapper, which
    # fails while the models of the domains above this one are not imported yet.
    return sa.inspect(Site).column_attrs


def _imported_clash(existing: Observation) -> Conflict:
    """A workbook's row whose identity (derived from its content, app/exports/imports.py) an earlier
    import already stored with other figures: said in the words of a workbook, which has no client_uuid."""
    return Conflict(
        _(
            "This row was imported before as observation %(id)s, with other figures; correct that "
            "record instead of importing the row again.",
            id=existing.id,
        ),
        {"client_uuid": [_("imported before as observation %(id)s", id=existing.id)]},
    )


def _clash(existing: Observation) -> Conflict:
    return Conflict(
        _(
            "A different record was already sent with this client_uuid (observation %(id)s); "
            "make a new client_uuid for a new record.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for observation %(id)s", id=existing.id)]},
    )


def create_observation(
    *,
    actor: User,
    args: dict[str, Any],
    at_site: Site | None = None,
    organization_id: int | None = None,
    legacy_surveyor: str | None = None,
    imported: bool = False,
) -> tuple[Observation, bool]:
    """Record an observation, or return the one an earlier try of the same request made.

    `at_site` pins the record to a site (a re-inspection there) instead of the nearest one.
    `organization_id` is the organization the record belongs to when not the actor's (a workbook
    imported for a bureau by an admin); `legacy_surveyor` the surveyor such a workbook named when no
    colleague of that name records there. `imported`: a workbook's row, whose fingerprint leaves out who
    sent it (app/idempotency.py `fingerprint`), so the same workbook imported again by another admin
    is a replay.
    Returns (observation, created). Raises InvalidInput, and Conflict when the client_uuid was used
    for different content. Safe under concurrent retries: the unique (organization, client_uuid)
    constraint decides, and the loser returns the winner's record. A retry from a surveyor moved to
    another organization since its first try returns the record that try made (app/idempotency.py).
    """
    owner = actor.organization_id if organization_id is None else organization_id
    sender = None if imported else actor.id
    clash = _imported_clash if imported else _clash
    once = CreateOnce(Observation, owner, args["client_uuid"], args, clash, sender_id=sender)
    # PostgreSQL: this client_uuid's lock and the species' sites' (the placement's, app/sites/services.py)
    # in one round trip, before the look-up; no savepoint then (app/idempotency.py, `CreateOnce.lock`).
    once.lock(*([] if at_site is not None else [sites.species_lock(args["species_id"])]))
    nearby = None if at_site is not None else _NearbySearch(args)
    earlier = once.earlier() if nearby is None else nearby.read(once)
    if earlier is not None:
        return earlier, False
    # A re-inspection at an existing site records that site's species, even one retired since.
    checked = check_record(args, kept_species_id=None if at_site is None else at_site.species_id)
    # Before the write: a higher domain may refuse it (surveys checks the campaign, docs/surveys.md).
    publish(
        ObservationRecorded(
            client_uuid=args["client_uuid"],
            organization_id=owner,
            surveyor_id=actor.id,
            species_id=checked.species.id,
            detected=checked.values["detected"],
            observed_at=checked.values["observed_at"],
            campaign_id=args.get("campaign_id"),
            route_uuid=args.get("route_uuid"),
        )
    )

    joined: list[Site] = []  # the site the record joined, when it existed before it

    def build() -> Observation:
        observation = Observation(
            client_uuid=args["client_uuid"],
            payload_sha256=once.payload,
            organization_id=owner,
            surveyor_id=actor.id,
            legacy_surveyor=legacy_surveyor,
            status=ReviewStatus.SUBMITTED,
            # A new record has none, and its flags are set below: known now, not asked of the database
            # when the answer is written (a collection read on a new object is not kept in it).
            photos=[],
            flag_rows=[],
            campaign_id=args.get("campaign_id"),
            route_uuid=args.get("route_uuid"),
        )
        _apply(observation, checked)
        if at_site is not None:
            sites.record_visit(at_site, detected=observation.detected, observed_at=observation.observed_at)
            observation.site = at_site
            update_flags(observation, checked)
        else:
            assert nearby is not None  # noqa: S101 -- made above when there is no site given
            _place(observation, checked, actor, nearby.nearest_site)
            update_flags(observation, checked, nearby.duplicate)
        if observation.site is not None and not sa.inspect(observation.site).pending:
            joined.append(observation.site)
        _insert(observation)
        if observation.geometry is not None:
            refresh_extent(observation.site)
        if observation.site is not None:
            sites.refresh_status(observation.site, functools.partial(latest_detections, observation.site.id))
        return observation

    observation, created = once.create(build)
    if created and joined:
        # After the write: a re-inspection completed before this record arrived may have to read it.
        publish(
            ObservationAdded(
                observation_id=observation.id,
                site_id=joined[0].id,
                species_id=observation.species_id,
                detected=observation.detected,
                observed_at=observation.observed_at,
            )
        )
    return observation, created


def _insert(observation: Observation) -> None:
    """Write a new record with Core statements (the record, INSERT returning its id; its flags; the joined
    site's new dates; the audit rows) and hand it to the session as a persistent, loaded object; nothing
    is read back. On PostgreSQL they are one statement (`_write_all`) when the session holds no other
    change; elsewhere, or with other changes waiting, one statement each (`record_created` flushes the
    others with the audit rows).

    The unit of work's flush of a new record (nine relationships to sort and sync) cost more than the
    rest of the create together (bench/RESULTS.md). What the record points at is flushed first when new
    (a site opened for it), so that its id is known.
    """
    session = db.session()
    if any(isinstance(obj, Site) for obj in session.new):
        session.flush()
    now = utcnow()
    observation.created_at = observation.updated_at = now
    observation.species_id = observation.species.id
    for relation in ("site", "township", "village", "habitat"):
        target = getattr(observation, relation)
        setattr(observation, f"{relation}_id", None if target is None else target.id)
    values: dict[str, Any] = {}
    loaded = observation.__dict__
    for attr in sa.inspect(Observation).column_attrs:
        if attr.key == "id":
            continue
        value = loaded.get(attr.key)
        column = attr.columns[0]
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
        if attr.key not in loaded or value is not loaded[attr.key]:
            setattr(observation, attr.key, value)  # loaded: never asked of the database afterwards
        values[column.key] = value
    connection = session.connection()
    flags = [f.flag for f in observation.flag_rows]
    site = observation.site
    visit = _visit_changes(session, site) if connection.dialect.name == "postgresql" else None
    if visit is not None:
        site_changes, site_audit = visit
        audit_rows = [*([] if site_audit is None else [site_audit]), created_row(observation)]
        # Every name prefixed: a Core UPDATE also SETs any column named by an execution parameter.
        params = {
            **{f"record_{key}": value for key, value in values.items()},
            **{f"flag_{i}": flag for i, flag in enumerate(flags)},
            **{f"site_{key}": value for key, value in site_changes.items()},
            "site_visited": None if site is None else site.id,
            **{f"audit_{i}_{key}": value for i, row in enumerate(audit_rows) for key, value in row.items()},
            "audit_occurred_at": now,
        }
        statement = _write_all(tuple(values), len(flags), tuple(site_changes), site_audit is not None)
        observation.id = connection.execute(statement, params).scalar_one()
        if site is not None and site in session.dirty:
            written(session, site)  # what changed is written (set to the same value: nothing to write)
    else:
        inserted = connection.execute(sa.insert(Observation.__table__), values).inserted_primary_key
        assert inserted is not None  # noqa: S101 -- an INSERT of one row
        observation.id = inserted[0]
        if flags:
            connection.execute(
                sa.insert(ObservationFlag.__table__),
                [{"observation_id": observation.id, "flag": flag} for flag in flags],
            )
    for flag in observation.flag_rows:
        flag.observation_id = observation.id
        sa.orm.make_transient_to_detached(flag)
    sa.orm.make_transient_to_detached(observation)
    session.add(observation)  # persistent (with its flags), as if flushed
    if visit is None:
        record_created(observation, _write_visit(session, connection, site))


def _visit_changes(
    session: sa.orm.Session, site: Site | None
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The joined site's changed columns and their audit row (None: nothing audited changed), when they
    are the session's only change waiting; None when there is any other (a flush must write it)."""
    if session.new or session.deleted or any(obj is not site for obj in session.dirty):
        return None
    if site is None or site not in session.dirty:
        return {}, None
    changes = column_changes(site)
    if changes is None:
        return None
    return changes, update_row(site) if changes else None


_AUDIT_COLUMNS = ("actor_id", "actor_label", "action", "entity_type", "changes", "ip")


@functools.cache
def _write_all(
    columns: tuple[str, ...], n_flags: int, site_columns: tuple[str, ...], site_audit: bool
) -> sa.Select[Any]:
    """PostgreSQL: a create's writes in one statement, data-modifying CTEs, returning the record's id: the
    record (`columns`, bind parameters `record_<column>`), its `n_flags` flags (`flag_0` …), the joined
    site's changed `site_columns` (`site_<column>`, `site_visited`), and the audit rows (`audit_<i>_<column>`,
    `audit_occurred_at`): the site's update first when `site_audit`, then the record's, whose `entity_id`
    and `id` in `changes` are its new id (`app.audit.services.created_row`)."""
    records, flags = Observation.__table__, ObservationFlag.__table__
    audit, sites_table = AuditLog.__table__, Site.__table__
    new = (
        sa.insert(records)
        .values({key: sa.bindparam(f"record_{key}", type_=records.c[key].type) for key in columns})
        .returning(records.c.id)
        .cte("new_observation")
    )
    ctes: list[Any] = [new]
    if n_flags:
        rows = [
            sa.select(new.c.id, sa.bindparam(f"flag_{i}", type_=flags.c.flag.type)) for i in range(n_flags)
        ]
        ctes.append(
            sa.insert(flags)
            .from_select(["observation_id", "flag"], rows[0] if n_flags == 1 else sa.union_all(*rows))
            .returning(flags.c.observation_id)
            .cte("new_flags")
        )
    if site_columns:
        ctes.append(
            sa.update(sites_table)
            .where(sites_table.c.id == sa.bindparam("site_visited"))
            .values({key: sa.bindparam(f"site_{key}", type_=sites_table.c[key].type) for key in site_columns})
            .returning(sites_table.c.id)
            .cte("visited_site")
        )

    def audit_values(i: int) -> list[Any]:
        return [
            sa.bindparam("audit_occurred_at", type_=audit.c.occurred_at.type),
            *(sa.bindparam(f"audit_{i}_{key}", type_=audit.c[key].type) for key in _AUDIT_COLUMNS),
        ]

    record_values = audit_values(int(site_audit))
    changes = 1 + _AUDIT_COLUMNS.index("changes")
    record_values[changes] = record_values[changes].op("||", return_type=audit.c.changes.type)(
        sa.func.jsonb_build_object("id", sa.func.jsonb_build_array(sa.null(), new.c.id))
    )
    record_row = sa.select(*record_values, sa.cast(new.c.id, sa.String))
    if site_audit:
        site_row = sa.select(
            *audit_values(0), sa.bindparam("audit_0_entity_id", type_=audit.c.entity_id.type)
        )
        audit_rows: Any = sa.union_all(site_row, record_row)
    else:
        audit_rows = record_row
    ctes.append(
        sa.insert(audit)
        .from_select(["occurred_at", *_AUDIT_COLUMNS, "entity_id"], audit_rows)
        .returning(audit.c.id)
        .cte("audit_rows")
    )
    return sa.select(new.c.id).add_cte(*ctes)


def _write_visit(
    session: sa.orm.Session, connection: sa.Connection, site: Site | None
) -> list[dict[str, Any]]:
    """The joined site's new dates (and status) written with a Core UPDATE, not the unit of work's flush
    (a third of the create's time, bench/RESULTS.md); returns its audit row for `record_created`."""
    if site is None or site not in session.dirty:
        return []
    changes = column_changes(site)
    if changes is None:
        return []  # flushed with the audit row instead
    audit_row = update_row(site) if changes else None
    if changes:
        table = Site.__table__
        connection.execute(sa.update(table).where(table.c.id == site.id), changes)
    written(session, site)
    return [] if audit_row is None else [audit_row]
