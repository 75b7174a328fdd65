"""Surveys API: plots (样地) with their quadrats (样方) and figures, and their photos (docs/surveys.md)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from app.api import page_of, paginate
from app.errors import InvalidInput
from app.extensions import db
from app.photos.api import PhotoUploadArgs
from app.photos.models import Photo
from app.photos.schemas import PhotoSchema
from app.surveys import plot_checks, plots
from app.surveys.api import blp
from app.surveys.models import Plot
from app.surveys.schemas.plots import PlotCreateArgs, PlotQueryArgs, PlotSchema, PlotUpdateArgs


def _create_faults(values: dict[str, Any], faulted: frozenset[str]) -> dict[str, list[str]]:
    """A refused body's other faults: the plot's own checks on what loaded (docs/surveys.md, Plots)."""
    return plot_checks.plot_faults(values, current_user, faulted)[0]


def _edit_faults(values: dict[str, Any], faulted: frozenset[str]) -> dict[str, list[str]]:
    plot = db.session.get(Plot, (request.view_args or {}).get("plot_id"))
    return {} if plot is None else plots.edit_faults(current_user, plot, values, faulted)


@blp.route("/plots")
class Plots(MethodView):
    @blp.arguments(PlotQueryArgs, location="query")
    @blp.response(200, page_of(PlotSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Plots, newest first, by site, campaign or surveyor"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(plots.filtered(filters), page=args["page"], per_page=args["per_page"])

    @blp.arguments(PlotCreateArgs(more_checks=_create_faults))
    @blp.response(201, PlotSchema)
    @blp.alt_response(200, schema=PlotSchema, description="A retry: the plot made the first time")
    @blp.alt_response(409, description="The client_uuid was already used for a different plot")
    def post(self, args: dict[str, Any]) -> tuple[Plot, int]:
        """Lay a plot (样地) at a site, with its quadrats (样方)

        The answer carries the plot's `figures`, computed from its quadrats per species: mean density
        (absent quadrats counting 0), frequency, mean cover, mean height and total count. Idempotent by
        `client_uuid` like records. A bad value inside a quadrat is named by its path
        (`quadrats.2.size_m2`, `quadrats.0.records.1.cover_pct`).
        """
        plot, created = plots.create_plot(actor=current_user, args=args)
        return plot, 201 if created else 200


@blp.route("/plots/<int:plot_id>")
class PlotItem(MethodView):
    @blp.response(200, PlotSchema)
    def get(self, plot_id: int) -> Plot:
        """One plot with its quadrats, figures and photos"""
        return plots.get_plot(plot_id)

    @blp.arguments(PlotUpdateArgs(more_checks=_edit_faults))
    @blp.response(200, PlotSchema)
    @blp.alt_response(409, description="The plot's campaign has ended")
    def patch(self, args: dict[str, Any], plot_id: int) -> Plot:
        """Edit a plot (its surveyor, until its campaign ends); `quadrats` replaces them all"""
        if not args:
            raise InvalidInput(_("Send at least one field to change."), {"_schema": [_("empty body")]})
        return plots.update_plot(actor=current_user, plot=plots.get_plot(plot_id), changes=args)


@blp.route("/plots/<int:plot_id>/photos")
class PlotPhotos(MethodView):
    @blp.arguments(PhotoUploadArgs, location="files")
    @blp.response(201, PhotoSchema)
    @blp.alt_response(200, schema=PhotoSchema, description="The same photo was already attached")
    @blp.alt_response(409, description="The plot's campaign has ended")
    @blp.alt_response(422, description="A damaged or incomplete image")
    def post(self, args: dict[str, Any], plot_id: int) -> tuple[Photo, int]:
        """Attach a photo of the plot (multipart field `file`), as for records"""
        upload = args["file"]
        photo, created = plots.add_photo(
            actor=current_user, plot=plots.get_plot(plot_id), data=upload.read(), filename=upload.filename
        )
        return photo, 201 if created else 200
