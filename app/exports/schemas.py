from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for

from app.api import ID_RANGE, LocalDateTime, WorkDay
from app.exports.models import ExportKind, ExportStatus
from app.observations.models import ReviewStatus


class ExportArgs(ma.Schema):
    kind = ma.fields.Enum(
        ExportKind, by_value=True, required=True, metadata={"description": "census, control or follow_ups"}
    )
    bureau = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={
            "description": "organization code: its records and those of the units under it; "
            "`district` (admins): every record once"
        },
    )
    from_ = WorkDay(data_key="from", allow_none=True, metadata={"description": "first day (Asia/Shanghai)"})
    to = WorkDay(allow_none=True, metadata={"description": "last day, inclusive"})
    species_id = ma.fields.Integer(validate=ID_RANGE)
    township_code = ma.fields.String(validate=ma.validate.Length(max=50))
    status = ma.fields.Enum(ReviewStatus, by_value=True)
    detected = ma.fields.Boolean()
    organization = ma.fields.String(validate=ma.validate.Length(max=64))
    campaign_id = ma.fields.Integer(
        validate=ID_RANGE,
        metadata={
            "description": "a survey campaign of the exported bureau: only its records, its routes on "
            "the 踏查记录 sheet, and the cover names it"
        },
    )
    statuses = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=20)),
        validate=ma.validate.Length(max=len(ReviewStatus)),
        metadata={
            "description": "review statuses of the observations included (submitted, verified, rejected, "
            "returned); default: verified only. The cover says which are included."
        },
    )

    @ma.validates_schema
    def _check_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ma.ValidationError("must not be before from", "to")


class ExportSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Enum(ExportKind, by_value=True)
    bureau = ma.fields.String()
    date_from = ma.fields.Date(data_key="from", allow_none=True)
    date_to = ma.fields.Date(data_key="to", allow_none=True)
    filters = ma.fields.Dict()
    statuses = ma.fields.Function(lambda e: (e.filters or {}).get("statuses", ["verified"]))
    status = ma.fields.Enum(ExportStatus, by_value=True)
    progress = ma.fields.Float(metadata={"description": "0–1"})
    rows = ma.fields.Integer(allow_none=True)
    file_size = ma.fields.Integer(allow_none=True)
    download_url = ma.fields.Method("_download_url")
    error = ma.fields.String(allow_none=True)
    requested_by_id = ma.fields.Integer()
    created_at = LocalDateTime()
    finished_at = LocalDateTime(allow_none=True)
    expires_at = LocalDateTime(allow_none=True)

    def _download_url(self, export: Any) -> str | None:
        if export.status != ExportStatus.DONE or not export.file_key:
            return None
        return url_for("Exports.ExportDownload", export_id=export.id)
