"""Whose records a census covers, over which days and review statuses.

A bureau's census covers the records, control operations and re-inspections of its own organization
and of the units under it (township stations, forest farms … whose `parent` is the bureau). The
district census (admins only) covers every record once. A species both bureaus handle therefore
appears in each bureau's census with that bureau's own records only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import Organization
from app.accounts.organizations import unit_ids as unit_ids  # re-exported: the census and exports use it
from app.clock import day_end, day_start
from app.control.models import ControlOperation, FollowUp
from app.errors import InvalidInput
from app.extensions import db
from app.observations.models import Observation, ReviewStatus
from app.sites.models import Site

DISTRICT = "district"  # the `bureau` that names the whole district's census
DEFAULT_STATUSES: tuple[ReviewStatus, ...] = (ReviewStatus.VERIFIED,)


def parse_statuses(values: Iterable[Any] | None, *, field_name: str = "statuses") -> tuple[ReviewStatus, ...]:
    """Review statuses named by a request (None or empty: verified only). InvalidInput names the field."""
    if values is None:
        return DEFAULT_STATUSES
    if isinstance(values, str):
        values = [part for part in values.split(",") if part.strip()]
    chosen: list[ReviewStatus] = []
    for value in values:
        try:
            status = ReviewStatus(str(value).strip())
        except ValueError:
            known = ", ".join(s.value for s in ReviewStatus)
            raise InvalidInput.field(
                field_name, _("Unknown review status %(value)s; known: %(known)s.", value=value, known=known)
            ) from None
        if status not in chosen:
            chosen.append(status)
    return tuple(sorted(chosen, key=list(ReviewStatus).index)) or DEFAULT_STATUSES


@dataclass(frozen=True)
class CensusScope:
    """One census: `organization_ids` None is the whole district. Days are local (Asia/Shanghai) days,
    both inclusive. `statuses` applies to observations (operations and re-inspections have none)."""

    organization_ids: frozenset[int] | None
    date_from: date | None = None
    date_to: date | None = None
    statuses: tuple[ReviewStatus, ...] = DEFAULT_STATUSES
    species_ids: frozenset[int] | None = None
    # An export for some townships (its `township_code` filter): records by their township, operations
    # and re-inspections by their site's, so that the control and re-inspection figures are of the same
    # townships as the records (docs/census.md, "Filters").
    township_ids: frozenset[int] | None = None
    # Further conditions on observations (an export's list filters), already built.
    observation_extra: tuple[sa.ColumnElement[bool], ...] = field(default=(), compare=False)

    @classmethod
    def for_bureau(cls, bureau: str, **kwargs: Any) -> CensusScope:
        """The census of the organization with this code, or of the district (`DISTRICT`).
        InvalidInput names `bureau` for an unknown code."""
        if bureau == DISTRICT:
            return cls(None, **kwargs)
        org_id = db.session.scalar(sa.select(Organization.id).where(Organization.code == bureau))
        if org_id is None:
            raise InvalidInput.field("bureau", _("No organization has the code %(code)s.", code=bureau))
        return cls(unit_ids(org_id), **kwargs)

    def _range(self, column: Any) -> list[sa.ColumnElement[bool]]:
        conditions = []
        if self.date_from:
            conditions.append(column >= day_start(self.date_from))
        if self.date_to:
            conditions.append(column < day_end(self.date_to))
        return conditions

    def _owned(self, column: Any) -> list[sa.ColumnElement[bool]]:
        return [] if self.organization_ids is None else [column.in_(sorted(self.organization_ids))]

    def _species(self, column: Any) -> list[sa.ColumnElement[bool]]:
        return [] if self.species_ids is None else [column.in_(sorted(self.species_ids))]

    def _sited(self, column: Any) -> list[sa.ColumnElement[bool]]:
        if self.township_ids is None:
            return []
        in_townships = sa.select(Site.id).where(Site.township_id.in_(sorted(self.township_ids)))
        return [column.in_(in_townships)]

    def observation_conditions(self) -> list[sa.ColumnElement[bool]]:
        return [
            *self._owned(Observation.organization_id),
            *self._range(Observation.observed_at),
            *self._species(Observation.species_id),
            *([] if self.township_ids is None else [Observation.township_id.in_(sorted(self.township_ids))]),
            Observation.status.in_(list(self.statuses)),
            *self.observation_extra,
        ]

    def operation_conditions(self) -> list[sa.ColumnElement[bool]]:
        return [
            *self._owned(ControlOperation.organization_id),
            *self._range(ControlOperation.performed_at),
            *self._species(ControlOperation.species_id),
            *self._sited(ControlOperation.site_id),
        ]

    def follow_up_conditions(self) -> list[sa.ColumnElement[bool]]:
        """Re-inspections due in the period (their organization is the treating one's); the caller
        joins Site (the species is the site's)."""
        conditions: list[sa.ColumnElement[bool]] = [
            *self._owned(FollowUp.organization_id),
            *self._species(Site.species_id),
            *self._sited(FollowUp.site_id),
        ]
        if self.date_from:
            conditions.append(FollowUp.due_on >= self.date_from)
        if self.date_to:
            conditions.append(FollowUp.due_on <= self.date_to)
        return conditions
