from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app.api import ID_RANGE, MAX_ID, LocalDateTime, PageArgs, WorkDay
from app.control.assessment import efficacy_gap_text
from app.control.follow_ups import is_overdue
from app.control.models import FollowUpKind, FollowUpStatus
from app.control.schedule import joined_follow_ups
from app.geo.crs import CRS
from app.observations.schemas import GeometryField, ObservationCreateArgs
from app.paging import PageNumberArgs
from app.photos.schemas import StagedPhotoSchema
from app.sites.schemas import SpeciesRefSchema


class MethodFieldSchema(ma.Schema):
    name = ma.fields.String()
    label_zh = ma.fields.String()
    label_en = ma.fields.String()
    type = ma.fields.String(metadata={"description": "text, number or integer"})
    unit = ma.fields.String(allow_none=True)
    min = ma.fields.Float(allow_none=True)
    max = ma.fields.Float(allow_none=True)
    required = ma.fields.Boolean()


class ControlMethodSchema(ma.Schema):
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    applies_to = ma.fields.List(ma.fields.String(), metadata={"description": "species groups, or *"})
    # `fields` would shadow Schema.fields; the JSON key is still "fields".
    method_fields = ma.fields.List(ma.fields.Nested(MethodFieldSchema), data_key="fields", attribute="fields")


class ControlOperationCreateArgs(ma.Schema):
    client_uuid = ma.fields.UUID(required=True)
    site_id = ma.fields.Integer(validate=ID_RANGE, allow_none=True)
    observation_id = ma.fields.Integer(
        validate=ID_RANGE,
        allow_none=True,
        metadata={"description": "the record that found the species: its site is treated; the baseline"},
    )
    species_id = ma.fields.Integer(validate=ID_RANGE, allow_none=True)
    method = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    performed_at = LocalDateTime(required=True)
    area_m2 = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=1e9))
    geometry = GeometryField()
    crs = ma.fields.Enum(
        CRS,
        by_value=True,
        load_default=CRS.WGS84,
        metadata={"description": "the system the geometry's points are in; gcj02 and bd09 are converted"},
    )
    details = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={"description": "the method's fields (GET /api/v1/control-methods)"},
    )
    labour_person_days = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=100_000))
    cost_yuan = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=1e9))
    team = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    follow_up_days = ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=3650)),
        allow_none=True,
        validate=ma.validate.Length(max=30),
        metadata={
            "description": "re-inspection days after the operation; default: the species × method schedule"
        },
    )
    assignee_id = ma.fields.Integer(
        validate=ID_RANGE,
        allow_none=True,
        metadata={
            "description": "who re-inspects: an active user of your organization or of a unit under it; "
            "default: the one recording"
        },
    )
    check_site_id = ma.fields.Integer(
        validate=ID_RANGE,
        allow_none=True,
        metadata={"description": "an untreated check plot (CK) for Henderson–Tilton corrected efficacy"},
    )


class ControlOperationQueryArgs(PageArgs):
    site_id = ma.fields.Integer(validate=ID_RANGE)
    species_id = ma.fields.Integer(validate=ID_RANGE)
    operator_id = ma.fields.Integer(validate=ID_RANGE)
    method = ma.fields.String(validate=ma.validate.Length(max=40))
    from_ = WorkDay(data_key="from")
    to = WorkDay()


class FollowUpSchema(ma.Schema):
    id = ma.fields.Integer()
    site_id = ma.fields.Integer()
    site_code = ma.fields.Function(lambda f: f.site.code)
    species = ma.fields.Function(lambda f: SpeciesRefSchema().dump(f.site.species))
    control_operation_id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.Enum(FollowUpKind, by_value=True)
    offset_days = ma.fields.Integer(allow_none=True)
    due_on = ma.fields.Date()
    status = ma.fields.Enum(FollowUpStatus, by_value=True)
    overdue = ma.fields.Method(
        "_overdue", metadata={"description": "pending and due before today (Asia/Shanghai)"}
    )
    assignee_id = ma.fields.Integer(allow_none=True)
    supervisor_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    cancelled_reason = ma.fields.String(allow_none=True)
    completed_at = LocalDateTime(allow_none=True)
    completed_by_id = ma.fields.Integer(allow_none=True)
    observation_id = ma.fields.Integer(allow_none=True)
    efficacy = ma.fields.Method(
        "_efficacy",
        metadata={
            "description": "reduction % per metric and Henderson–Tilton corrected efficacy (below 0 when "
            "the pest grew after the treatment instead of falling); "
            "`corrected_efficacy_reason` (a code) and `corrected_efficacy_reason_text` say why the "
            "corrected figure is null; null while a far re-inspection awaits a supervisor, and when "
            "the re-inspection's record was rejected or moved to another site"
        },
    )
    distance_m = ma.fields.Float(
        allow_none=True, metadata={"description": "how far the re-inspection was recorded from its site"}
    )
    far_from_site = ma.fields.Boolean(
        metadata={"description": "farther than 3 × IAS_SITE_RADIUS_M: efficacy waits for a supervisor"}
    )
    far_accepted_at = LocalDateTime(allow_none=True)
    far_accepted_by_id = ma.fields.Integer(allow_none=True)
    organization_id = ma.fields.Integer()

    def _efficacy(self, follow_up: Any) -> dict[str, Any] | None:
        if follow_up.efficacy is None:
            return None
        return {**follow_up.efficacy, "corrected_efficacy_reason_text": efficacy_gap_text(follow_up.efficacy)}

    def _overdue(self, follow_up: Any) -> bool:
        return is_overdue(follow_up)


class ControlOperationSchema(ma.Schema):
    id = ma.fields.Integer()
    client_uuid = ma.fields.UUID()
    site_id = ma.fields.Integer()
    site_code = ma.fields.Function(lambda o: o.site.code)
    species_id = ma.fields.Integer()
    species = ma.fields.Nested(SpeciesRefSchema)
    method = ma.fields.Function(lambda o: o.method.code)
    method_name = ma.fields.Function(lambda o: o.method.name_zh)
    performed_at = LocalDateTime()
    area_m2 = ma.fields.Float(allow_none=True)
    geometry = ma.fields.Dict(
        allow_none=True, metadata={"description": "the treated polygon, WGS-84 GeoJSON"}
    )
    geometry_area_m2 = ma.fields.Float(allow_none=True, metadata={"description": "its geodesic area in m²"})
    details = ma.fields.Dict()
    labour_person_days = ma.fields.Float(allow_none=True)
    cost_yuan = ma.fields.Float(allow_none=True)
    team = ma.fields.String(allow_none=True)
    assignee_id = ma.fields.Integer(allow_none=True, metadata={"description": "who the follow-ups go to"})
    notes = ma.fields.String(allow_none=True)
    baseline_observation_id = ma.fields.Integer(allow_none=True)
    check_site_id = ma.fields.Integer(allow_none=True)
    follow_up_days = ma.fields.List(ma.fields.Integer())
    follow_ups = ma.fields.List(ma.fields.Nested(FollowUpSchema))
    operator_id = ma.fields.Integer()
    organization = ma.fields.Function(lambda o: o.organization.code)
    photos = ma.fields.List(ma.fields.Nested(StagedPhotoSchema))
    created_at = LocalDateTime()


class ControlOperationAnswerSchema(ControlOperationSchema):
    """One operation as its create (and a retry of it) and its own page answer it: with the site's
    re-inspections its schedule joined. Not in the list, which would ask for them once per row."""

    joined_follow_ups = ma.fields.List(
        ma.fields.Nested(FollowUpSchema),
        dump_only=True,
        metadata={
            "description": "the site's re-inspections, already pending for its organization, that this "
            "operation's schedule joined instead of adding its own (a second operation of the site on one "
            "day; docs/contract.md §2 Follow-up): the site is re-inspected on these days too. Not "
            "repeated in `follow_ups`, which holds the operation's own; one cancelled since is left out"
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "joined_follow_ups":
            return joined_follow_ups(obj)
        return super().get_attribute(obj, attr, default)


class FollowUpQueryArgs(PageArgs):
    status = ma.fields.Enum(FollowUpStatus, by_value=True)
    overdue = ma.fields.Boolean()
    assignee_id = ma.fields.Integer(validate=ID_RANGE)
    site_id = ma.fields.Integer(validate=ID_RANGE)
    control_operation_id = ma.fields.Integer(validate=ID_RANGE)
    due_before = WorkDay()


class FollowUpCreateArgs(ma.Schema):
    site_id = ma.fields.Integer(required=True, validate=ID_RANGE)
    due_on = WorkDay(required=True)
    assignee_id = ma.fields.Integer(validate=ID_RANGE, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))


class FollowUpUpdateArgs(ma.Schema):
    assignee_id = ma.fields.Integer(validate=ID_RANGE)
    due_on = WorkDay()
    status = ma.fields.Enum(
        FollowUpStatus,
        by_value=True,
        validate=ma.validate.OneOf([FollowUpStatus.CANCELLED]),
        metadata={"description": "only `cancelled` (with cancelled_reason); completion is POST …/complete"},
    )
    cancelled_reason = ma.fields.String(validate=ma.validate.Length(max=2000))
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))


class CompletionObservationArgs(ObservationCreateArgs):
    species_id = ma.fields.Integer(
        validate=ID_RANGE, metadata={"description": "optional: the site's species"}
    )


class FollowUpCompleteArgs(ma.Schema):
    observation = ma.fields.Nested(
        CompletionObservationArgs,
        required=True,
        metadata={
            "description": "the re-inspection's record, as for POST /observations (species_id optional)"
        },
    )


def _an_id(name: str) -> dict[str, Any]:
    """A row's id: a positive whole number the database can hold."""
    message = _l("%(field)s must be a positive whole number.", field=name)
    return {
        "validate": ma.validate.Range(min=1, max=MAX_ID, error=message),
        "error_messages": {"invalid": message},
    }


class FollowUpPageArgs(PageNumberArgs):
    """The follow-ups page's filters and page number (its query string, read by app/pages.py)."""

    status = ma.fields.String(
        load_default=FollowUpStatus.PENDING.value,
        validate=ma.validate.OneOf(
            [*(s.value for s in FollowUpStatus), "any"],
            error=_l("status must be pending, done, cancelled or any."),
        ),
    )
    overdue = ma.fields.String(metadata={"description": "1 or true: overdue ones only"})
    scope = ma.fields.String(metadata={"description": "all: the organization's (managers)"})
    assignee_id = ma.fields.Integer(**_an_id("assignee_id"))
    township_code = ma.fields.String()
    organization = ma.fields.String(
        metadata={
            "description": "an organization's code: its follow-ups and its units' (the dashboard's links)"
        }
    )


class NewOperationArgs(ma.Schema):
    """The control operation form's query string (read by app/pages.py): the record that found the
    species, or the site treated."""

    observation_id = ma.fields.Integer(**_an_id("observation_id"))
    site_id = ma.fields.Integer(**_an_id("site_id"))


FOLLOW_UP_ACTIONS = ("reassign", "reschedule", "cancel", "accept_far")


class FollowUpForm(ma.Schema):
    """A supervisor's form on a follow-up's page (read by app/pages.py): reassign, reschedule, cancel or
    accept a far re-inspection; the view asks for the fields its action needs."""

    action = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(FOLLOW_UP_ACTIONS, error=_l("Unknown action.")),
        error_messages={"required": _l("Unknown action.")},
    )
    assignee_id = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_ID, error=_l("Choose who does the re-inspection.")),
        error_messages={"invalid": _l("Choose who does the re-inspection.")},
    )
    due_on = ma.fields.Date(error_messages={"invalid": _l("Give the new date as YYYY-MM-DD.")})
    cancelled_reason = ma.fields.String(load_default="")
