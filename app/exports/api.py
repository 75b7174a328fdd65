from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, send_file
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app.audit.services import record_event
from app.errors import Conflict, Gone
from app.exports import services
from app.exports.models import Export, ExportStatus
from app.exports.schemas import ExportArgs, ExportSchema
from app.extensions import db

blp = Blueprint("Exports", __name__, description="Census workbooks, written in the background")

FILTERS = ("species_id", "township_code", "status", "detected", "organization")


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
        )
        db.session.commit()
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
        """Download a finished export (its requester and their bureau's admins)"""
        export = services.get_export(export_id, current_user)
        if export.status != ExportStatus.DONE:
            raise Conflict(_("The export is %(status)s, not done.", status=export.status.value))
        key = export.file_key
        if key is None or (export.expires_at and export.expires_at < datetime.now(UTC)):
            raise Gone(_("This export has expired; ask for a new one."))
        record_event("export_downloaded", "exports", export.id, {"bureau": export.bureau})
        db.session.commit()
        name = f"{export.bureau}-{export.kind.value}-{export.id}.xlsx"
        return send_file(
            services.storage().path(key),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name=name,
        )
