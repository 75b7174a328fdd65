from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Response, send_file
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from app.api import ID_RANGE, WorkDay
from app.audit.services import record_event
from app.census.scope import CensusScope, parse_statuses
from app.census.summary import census_summary
from app.errors import Conflict, Gone
from app.exports import services
from app.exports.models import Export, ExportStatus
from app.exports.reader import write_row_report
from app.exports.schemas import ExportArgs, ExportSchema
from app.extensions import db

blp = Blueprint("Exports", __name__, description="Census workbooks, written in the background")

FILTERS = ("species_id", "township_code", "status", "detected", "organization", "campaign_id")


@blp.route("/exports")
class Exports(MethodView):
    @blp.arguments(ExportArgs)
    @blp.response(202, ExportSchema)
    def post(self, args: dict[str, Any]) -> Export:
        """Start an export (bureau admins, for their bureau); poll GET /exports/{id} for progress

        The workbook follows the bureau's template: a cover, detail sheets (observations, control
        operations, follow-ups) and summaries. It is written by the scheduler process, never here.
        """
        filters = {name: args[name] for name in FILTERS if name in args}
        if "status" in filters:
            filters["status"] = filters["status"].value
        export = services.request_export(
            actor=current_user,
            kind=args["kind"],
            bureau=args["bureau"],
            date_from=args.get("from_"),
            date_to=args.get("to"),
            filters=filters,
            statuses=args.get("statuses"),
        )
        return export


@blp.route("/exports/<int:export_id>")
class ExportItem(MethodView):
    @blp.response(200, ExportSchema)
    def get(self, export_id: int) -> Export:
        """An export's status, progress, row count and, when done, its download URL"""
        return services.get_export(export_id, current_user)


@blp.route("/exports/<int:export_id>/download")
class ExportDownload(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The workbook",
                "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            },
            "409": {"description": "Not finished yet"},
            "410": {"description": "Expired: the file was deleted"},
        }
    )
    def get(self, export_id: int) -> Response:
        """Download a finished export (the exported bureau's admins and administrators, as they are now)"""
        export = services.get_export(export_id, current_user)
        if export.status != ExportStatus.DONE:
            raise Conflict(_("The export is %(status)s, not done.", status=export.status.value))
        key = export.file_key
        if key is None or (export.expires_at and export.expires_at < datetime.now(UTC)):
            raise Gone(_("This export has expired; ask for a new one."))
        name = f"{export.bureau}-{export.kind.value}-{export.id}.xlsx"
        details = {"bureau": export.bureau}
        actor_id, actor_label = current_user.id, current_user.username
        # End the read before writing the audit row: on SQLite a read transaction cannot become a
        # write once another connection has written, but a transaction that starts by writing waits.
        db.session.rollback()
        record_event(
            "export_downloaded", "exports", export_id, details, actor_id=actor_id, actor_label=actor_label
        )
        return send_file(
            services.storage().path(key),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name=name,
        )


class CensusSummaryArgs(ma.Schema):
    bureau = ma.fields.String(
        validate=ma.validate.Length(min=1, max=64),
        metadata={
            "description": "organization code (its records and its units'); `district`: every record "
            "once; default: the caller's organization"
        },
    )
    from_ = WorkDay(data_key="from", metadata={"description": "first day (Asia/Shanghai)"})
    to = WorkDay(metadata={"description": "last day, inclusive"})
    statuses = ma.fields.String(
        validate=ma.validate.Length(max=100),
        metadata={"description": "review statuses, comma-separated; default: verified"},
    )
    species_id = ma.fields.Integer(validate=ID_RANGE)

    @ma.validates_schema
    def _check_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ma.ValidationError("must not be before from", "to")


class CensusSummarySchema(ma.Schema):
    bureau = ma.fields.String()
    from_ = ma.fields.String(data_key="from", allow_none=True)
    to = ma.fields.String(allow_none=True)
    statuses = ma.fields.List(ma.fields.String())
    occurrence = ma.fields.Dict(
        metadata={"description": "points, area_m2, area_mu, townships, max_severity over every species"}
    )
    species = ma.fields.List(ma.fields.Dict(), metadata={"description": "the same figures per species"})
    townships = ma.fields.List(ma.fields.Dict(), metadata={"description": "the same figures per township"})
    categories = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "per census category of the census (agriculture's three, forestry's three, the "
            "district's six; `category` null: species found with none of them): category, name_zh, "
            "species_count, species, points, area_m2, area_mu, townships. A species in two categories "
            "counts in each, so the rows do not add up to `occurrence`"
        },
    )
    control = ma.fields.Dict(
        metadata={
            "description": "operations, area (亩次), extent (防治范围), labour_person_days, cost_yuan; "
            "by_species_method and by_township"
        }
    )


@blp.route("/census/summary")
class CensusSummary(MethodView):
    @blp.arguments(CensusSummaryArgs, location="query")
    @blp.response(200, CensusSummarySchema)
    def get(self, args: dict[str, Any]) -> Any:
        """A census's figures, counted as the workbook counts them (app/census/counting.py)

        `occurrence`: 发生点数 (`points`: distinct sites with a presence record), 发生面积 (`area_m2` /
        `area_mu`: each site's latest presence record's area, summed; a visit that gave no area leaves
        the site's area as the last one measured), 分布乡镇数 (`townships`); then per
        species, per township and per census category (`categories`: a species in two categories counts
        in each, so they are not added up); `control`: 防治次数, 防治面积 (亩次, summed over operations),
        防治范围 (`extent`: per site the largest treated area), labour and cost, by species × method and by
        township.
        """
        bureau = args.get("bureau") or current_user.organization.code
        species = args.get("species_id")
        scope = CensusScope.for_bureau(
            bureau,
            date_from=args.get("from_"),
            date_to=args.get("to"),
            statuses=parse_statuses(args.get("statuses")),
            species_ids=frozenset({species}) if species is not None else None,
        )
        return {
            "bureau": bureau,
            "from_": args["from_"].isoformat() if args.get("from_") else None,
            "to": args["to"].isoformat() if args.get("to") else None,
            "statuses": [status.value for status in scope.statuses],
            **census_summary(scope, bureau),
        }


class ImportArgs(ma.Schema):
    file = Upload(
        required=True, metadata={"description": "an .xlsx workbook in the bureau's template layout"}
    )


class ImportQuery(ma.Schema):
    bureau = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    report = ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(["json", "xlsx"]),
        metadata={"description": "json (default) or xlsx: the row report as a workbook"},
    )


class ImportRowSchema(ma.Schema):
    sheet = ma.fields.String()
    row = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(metadata={"description": "imported or rejected"})
    reason = ma.fields.String(allow_none=True)
    cell = ma.fields.String(allow_none=True)


class IgnoredColumnSchema(ma.Schema):
    sheet = ma.fields.String()
    column = ma.fields.String(metadata={"description": "its letter (H)"})
    header = ma.fields.String(allow_none=True, metadata={"description": "its header; null: it has none"})
    cell = ma.fields.String(metadata={"description": "its header's cell, or (no header) its first value's"})
    reason = ma.fields.String()


class IgnoredSheetSchema(ma.Schema):
    sheet = ma.fields.String(metadata={"description": "its title in the workbook"})
    reason = ma.fields.String()


class ImportResultSchema(ma.Schema):
    imported = ma.fields.Integer()
    unchanged = ma.fields.Integer(metadata={"description": "rows imported before (nothing new created)"})
    rejected = ma.fields.Integer()
    rows = ma.fields.List(ma.fields.Nested(ImportRowSchema))
    ignored_columns = ma.fields.List(
        ma.fields.Nested(IgnoredColumnSchema),
        metadata={"description": "the workbook's columns not imported (not in the template), each named"},
    )
    unused_columns = ma.fields.List(
        ma.fields.Nested(IgnoredColumnSchema),
        metadata={
            "description": "the workbook's template columns the import does not use (审核状态, 记录编号…), "
            "each named"
        },
    )
    ignored_sheets = ma.fields.List(
        ma.fields.Nested(IgnoredSheetSchema),
        metadata={"description": "the workbook's sheets not imported at all (复查记录, the summaries…)"},
    )


@blp.route("/imports")
class Imports(MethodView):
    @blp.arguments(ImportArgs, location="files")
    @blp.arguments(ImportQuery, location="query")
    @blp.response(200, ImportResultSchema)
    @blp.alt_response(413, description="More data rows than one upload imports (IAS_IMPORT_MAX_ROWS)")
    def post(self, files: dict[str, Any], query: dict[str, Any]) -> Any:
        """Import a legacy census workbook (bureau admins); each row is checked as the API checks it

        Re-importing the same workbook creates nothing new. Every column not imported (its header is
        not the template's, or it has none) is named in `ignored_columns`, every template column the
        import does not use (审核状态, 记录编号…) in `unused_columns`, and every sheet not imported at all
        in `ignored_sheets`. `?report=xlsx` answers with the row report workbook instead of JSON (the
        sheets and columns not imported first). An upload holds at
        most IAS_IMPORT_MAX_ROWS data rows (3 000 unless configured): it is imported while the request
        waits. Larger workbooks are imported with `flask imports census FILE`.
        """
        upload = files["file"]
        # A refusal is a 4xx answer: the unit of work then drops the rows imported before the reader gave up.
        result = services.import_census_upload(
            io.BytesIO(upload.read()),
            filename=upload.filename,
            actor=current_user,
            bureau=query["bureau"],
        )
        if query["report"] == "xlsx":
            buffer = io.BytesIO()
            write_row_report(buffer, result.report_rows())
            buffer.seek(0)
            return send_file(
                buffer,
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                as_attachment=True,
                download_name="import-report.xlsx",
            )
        return {
            "imported": result.imported,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "rows": [
                {"sheet": sheet, "row": row, "status": status, "reason": reason, "cell": cell}
                for sheet, row, status, reason, cell in result.rows
            ],
            "ignored_columns": [
                {"sheet": c.sheet, "column": c.column, "header": c.header, "cell": c.cell, "reason": c.reason}
                for c in result.ignored
            ],
            "unused_columns": [
                {"sheet": c.sheet, "column": c.column, "header": c.header, "cell": c.cell, "reason": c.reason}
                for c in result.unused
            ],
            "ignored_sheets": [{"sheet": s.sheet, "reason": s.reason} for s in result.sheets],
        }
