"""Surveys schemas: coverage (docs/surveys.md, Coverage)."""

from __future__ import annotations

import marshmallow as ma

from app.api import LocalDateTime
from app.surveys.coverage import Status


class TallySchema(ma.Schema):
    units = ma.fields.Integer()
    covered = ma.fields.Integer()
    in_progress = ma.fields.Integer()
    not_started = ma.fields.Integer()
    overdue = ma.fields.Integer(metadata={"description": "not covered after the due day"})
    covered_pct = ma.fields.Float(metadata={"description": "covered of all units, %"})


class UnitCoverageSchema(ma.Schema):
    unit_id = ma.fields.Integer()
    unit_code = ma.fields.String(
        metadata={"description": "the village's 12-digit or township's 9-digit code"}
    )
    level = ma.fields.String(metadata={"description": "township or village"})
    name = ma.fields.String()
    township_code = ma.fields.String()
    township_name = ma.fields.String()
    assignee_id = ma.fields.Integer(allow_none=True)
    assignee_name = ma.fields.String(allow_none=True)
    due_on = ma.fields.Date(allow_none=True)
    status = ma.fields.Enum(
        Status, by_value=True, metadata={"description": "covered, in_progress or not_started"}
    )
    overdue = ma.fields.Boolean()
    by_polygon = ma.fields.Boolean(
        metadata={"description": "judged by the unit's loaded polygon; else by records' township/village"}
    )
    routes = ma.fields.Integer(metadata={"description": "the campaign's routes inside the unit"})
    records = ma.fields.Integer(metadata={"description": "the campaign's records inside the unit"})
    route_length_m = ma.fields.Float()
    last_activity_at = LocalDateTime(allow_none=True)


class GroupSchema(ma.Schema):
    id = ma.fields.Integer(attribute="key", allow_none=True)
    code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    units = ma.fields.Integer(attribute="tally.units")
    covered = ma.fields.Integer(attribute="tally.covered")
    in_progress = ma.fields.Integer(attribute="tally.in_progress")
    not_started = ma.fields.Integer(attribute="tally.not_started")
    overdue = ma.fields.Integer(attribute="tally.overdue")
    covered_pct = ma.fields.Float(attribute="tally.covered_pct")


class CoverageSchema(ma.Schema):
    campaign_id = ma.fields.Integer()
    today = ma.fields.Date(metadata={"description": "the day overdue is judged against (Asia/Shanghai)"})
    village_polygons = ma.fields.Boolean(metadata={"description": "village boundaries are loaded"})
    township_polygons = ma.fields.Boolean(metadata={"description": "township boundaries are loaded"})
    starts_on = ma.fields.Date(metadata={"description": "the campaign's first day (Asia/Shanghai)"})
    ends_on = ma.fields.Date(metadata={"description": "the campaign's last day (Asia/Shanghai), included"})
    routes = ma.fields.Function(
        lambda c: len(c.routes),
        metadata={"description": "the campaign's routes counted: started on one of its days (Asia/Shanghai)"},
    )
    records = ma.fields.Function(
        lambda c: len(c.records),
        metadata={
            "description": "the campaign's records counted: observed on one of its days (Asia/Shanghai)"
        },
    )
    routes_outside = ma.fields.Integer(
        metadata={
            "description": "the campaign's routes started outside its dates: kept, not counted anywhere"
        }
    )
    records_outside = ma.fields.Integer(
        metadata={
            "description": "the campaign's records observed outside its dates: kept, not counted anywhere"
        }
    )
    summary = ma.fields.Nested(TallySchema, attribute="totals")
    units = ma.fields.List(ma.fields.Nested(UnitCoverageSchema))
    by_assignee = ma.fields.List(ma.fields.Nested(GroupSchema))
    by_township = ma.fields.List(ma.fields.Nested(GroupSchema))
