"""Surveys schemas: campaigns and their units (docs/surveys.md, Campaigns)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app.api import ID_RANGE, LocalDateTime, PageArgs, WorkDay
from app.sites.schemas import SpeciesRefSchema
from app.surveys.models import CampaignKind

MAX_UNITS = 2000  # a district has a few hundred villages; a body naming more is refused (422)
MAX_SPECIES = 200


class UnitArgs(ma.Schema):
    """One unit of a campaign: a township (its 9-digit code), or one of its villages (12 digits)."""

    township_code = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "the township's code (9 digits; the 12-digit …000 form is the same)"},
    )
    village_code = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=40),
        metadata={"description": "a village of that township (12 digits); empty: the whole township"},
    )
    assignee_id = ma.fields.Integer(
        validate=ID_RANGE,
        allow_none=True,
        metadata={"description": "an active user of the campaign's bureau or of a unit under it"},
    )
    due_on = WorkDay(allow_none=True, metadata={"description": "within the campaign's date window"})

    @ma.validates_schema
    def _one_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("township_code") and not data.get("village_code"):
            raise ma.ValidationError(_l("name a township or a village"), "township_code")


def _dotted(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested messages ({"units": {3: {"due_on": [...]}}}) as dotted fields ({"units.3.due_on": [...]})."""
    if not isinstance(messages, dict):
        return {prefix: [str(m) for m in (messages if isinstance(messages, list) else [messages])]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if name.endswith("._schema"):
            name = name.removesuffix("._schema")
        for field, found in _dotted(value, name).items():
            flat.setdefault(field, []).extend(found)
    return flat


class FlatErrors(ma.Schema):
    """Errors of nested lists named as the API names them (docs/contract.md §3.2): `units.3.due_on`."""

    def handle_error(self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        raise ma.ValidationError(_dotted(error.messages), valid_data=error.valid_data)


class CampaignArgs(FlatErrors):
    """The body of POST /campaigns (all of it) and PATCH /campaigns/{id} (any part of it)."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.Enum(
        CampaignKind,
        by_value=True,
        metadata={"description": "census 普查, monitoring 监测, special 专项调查"},
    )
    bureau = ma.fields.String(
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "the bureau's organization code; default: the caller's bureau"},
    )
    starts_on = WorkDay()
    ends_on = WorkDay(metadata={"description": "on or after starts_on"})
    species_ids = ma.fields.List(
        ma.fields.Integer(validate=ID_RANGE),
        validate=ma.validate.Length(min=1, max=MAX_SPECIES),
        metadata={"description": "the target species (GET /api/v1/species), at least one"},
    )
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    units = ma.fields.List(
        ma.fields.Nested(UnitArgs),
        validate=ma.validate.Length(max=MAX_UNITS),
        metadata={
            "description": "the units to cover; in a PATCH the whole list: units kept by code keep their id, "
            "new ones are added, missing ones removed"
        },
    )


class CampaignCreateArgs(CampaignArgs):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.Enum(
        CampaignKind,
        by_value=True,
        required=True,
        metadata={"description": "census 普查, monitoring 监测, special 专项调查"},
    )
    starts_on = WorkDay(required=True)
    ends_on = WorkDay(required=True, metadata={"description": "on or after starts_on"})
    species_ids = ma.fields.List(
        ma.fields.Integer(validate=ID_RANGE),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_SPECIES),
        metadata={"description": "the target species (GET /api/v1/species), at least one"},
    )
    units = ma.fields.List(
        ma.fields.Nested(UnitArgs), load_default=list, validate=ma.validate.Length(max=MAX_UNITS)
    )


# What GET /campaigns/{id} answers but a client does not set. A client may PATCH back what it read: each
# of these is accepted when it equals the stored value (or the value the same PATCH gives it, e.g. a unit's
# `assignee` matching its new `assignee_id`) and is then ignored; any other value is a 422 naming the
# field (app/surveys/api/campaigns.py, docs/surveys.md "Round trip").
READ_ONLY_NOTE = (
    "read-only, as GET answers it: accepted when equal to the stored value (or to the value this PATCH "
    "gives it) and ignored; any other value is refused (422 naming the field)"
)


def _read_only(field: type[ma.fields.Field[Any]], *args: Any, **kwargs: Any) -> ma.fields.Field[Any]:
    return field(*args, allow_none=True, metadata={"readOnly": True, "description": READ_ONLY_NOTE}, **kwargs)


def _text() -> ma.fields.Field[Any]:
    return _read_only(ma.fields.String, validate=ma.validate.Length(max=500))


class UserRefArgs(ma.Schema):
    id = ma.fields.Integer(allow_none=True)
    display_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500))


class SpeciesRefArgs(ma.Schema):
    id = ma.fields.Integer(allow_none=True)
    name_zh = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500))
    name_sci = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500))


class UnitPatchArgs(UnitArgs):
    """A unit of a PATCH's list: the fields a client sets, and the read-only ones it read (GET)."""

    id = _read_only(ma.fields.Integer)
    campaign_id = _read_only(ma.fields.Integer)
    unit_code = _text()
    level = _text()
    township_name = _text()
    village_name = _text()
    assignee = _read_only(ma.fields.Nested, UserRefArgs)


class CampaignPatchArgs(CampaignArgs):
    """The body of PATCH /campaigns/{id}: any part of CampaignArgs, and the read-only fields of what GET
    answered (READ_ONLY_NOTE), so that a client may send back what it read."""

    id = _read_only(ma.fields.Integer)
    bureau_name = _text()
    species = _read_only(
        ma.fields.List, ma.fields.Nested(SpeciesRefArgs), validate=ma.validate.Length(max=MAX_SPECIES)
    )
    unit_count = _read_only(ma.fields.Integer)
    created_by_id = _read_only(ma.fields.Integer)
    created_at = _read_only(LocalDateTime)
    updated_at = LocalDateTime(
        allow_none=True,
        metadata={
            "readOnly": True,
            "description": "read-only, as GET answers it: the campaign as the client read it. Sent, the "
            "PATCH changes the campaign only if nobody changed it (or its units) since: else a 409 naming "
            "updated_at, and nothing is written (as If-Match, answered 412). Left out: no such check",
        },
    )
    units = ma.fields.List(
        ma.fields.Nested(UnitPatchArgs),
        validate=ma.validate.Length(max=MAX_UNITS),
        metadata={
            "description": "the whole new list: units kept by code keep their id, new ones are added, "
            "missing ones removed; a unit's read-only fields as for the campaign's"
        },
    )


READ_ONLY = ("id", "bureau_name", "species", "unit_count", "created_by_id", "created_at", "updated_at")
UNIT_READ_ONLY = ("id", "campaign_id", "unit_code", "level", "township_name", "village_name", "assignee")


class UnitUpdateArgs(ma.Schema):
    """PATCH /campaigns/{id}/units/{unit_id}: reassign, or move the due date (null clears either); the
    other fields of what GET /campaigns/{id}/units answered are read-only (READ_ONLY_NOTE): a unit does
    not move to another place or campaign."""

    assignee_id = ma.fields.Integer(validate=ID_RANGE, allow_none=True)
    due_on = WorkDay(allow_none=True)
    id = _read_only(ma.fields.Integer)
    campaign_id = _read_only(ma.fields.Integer)
    unit_code = _text()
    level = _text()
    township_code = _text()
    township_name = _text()
    village_code = _text()
    village_name = _text()
    assignee = _read_only(ma.fields.Nested, UserRefArgs)


UNIT_ITEM_READ_ONLY = (*UNIT_READ_ONLY, "township_code", "village_code")


class CampaignQueryArgs(PageArgs):
    bureau = ma.fields.String(validate=ma.validate.Length(max=50))
    kind = ma.fields.Enum(CampaignKind, by_value=True)
    active_on = WorkDay(metadata={"description": "campaigns whose window holds this day"})


class UserRefSchema(ma.Schema):
    id = ma.fields.Integer()
    display_name = ma.fields.String()


class SurveyUnitSchema(ma.Schema):
    id = ma.fields.Integer()
    campaign_id = ma.fields.Integer()
    unit_code = ma.fields.String(
        metadata={"description": "the village's 12-digit or township's 9-digit code"}
    )
    level = ma.fields.Function(lambda u: "village" if u.village_id else "township")
    township_code = ma.fields.Function(lambda u: u.township.code)
    township_name = ma.fields.Function(lambda u: u.township.name_zh)
    village_code = ma.fields.Function(lambda u: u.village.code if u.village else None)
    village_name = ma.fields.Function(lambda u: u.village.short_name if u.village else None)
    assignee_id = ma.fields.Integer(allow_none=True)
    assignee = ma.fields.Nested(UserRefSchema, allow_none=True)
    due_on = ma.fields.Date(allow_none=True)


class MySurveyUnitSchema(SurveyUnitSchema):
    campaign_name = ma.fields.Function(lambda u: u.campaign.name)
    campaign_kind = ma.fields.Function(lambda u: u.campaign.kind.value)
    starts_on = ma.fields.Function(lambda u: u.campaign.starts_on.isoformat())
    ends_on = ma.fields.Function(lambda u: u.campaign.ends_on.isoformat())


class CampaignSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.Enum(CampaignKind, by_value=True)
    bureau = ma.fields.Function(lambda c: c.organization.code)
    bureau_name = ma.fields.Function(lambda c: c.organization.name)
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    notes = ma.fields.String(allow_none=True)
    species = ma.fields.List(ma.fields.Nested(SpeciesRefSchema))
    species_ids = ma.fields.Function(lambda c: [s.id for s in c.species])
    unit_count = ma.fields.Function(lambda c: len(c.units))
    created_by_id = ma.fields.Integer()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class CampaignDetailSchema(CampaignSchema):
    units = ma.fields.List(ma.fields.Nested(SurveyUnitSchema))
