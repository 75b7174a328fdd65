"""GET /api/v1/{observations,sites,control-operations}/download?format=…: the lists as GIS files.

Who may download is who may read the list (every signed-in user, docs/contract.md §1), and the rows are
the list's for the same filters (its own query; app/gis/services.py). The file is streamed as it is
written (docs/contract.md §5); only the Shapefile waits for its last row before its first byte (see
app/gis/writers/shapefile_zip.py). Each download is audited, as exports are (docs/contract.md §2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.audit.services import record_event
from app.clock import local_today, local_zone
from app.gis import aggregate, services
from app.gis.layers import SOURCES
from app.gis.schemas import (
    PAGING,
    ControlOperationDownloadArgs,
    Format,
    MapObservationArgs,
    ObservationDownloadArgs,
    SiteDownloadArgs,
)
from app.gis.writers import csvfile, geojson, kml, shapefile_zip
from app.gis.writers.base import Layer, Record
from app.observations.schemas import parse_bbox

blp = Blueprint(
    "GIS",
    __name__,
    description="The observation, site and control-operation lists as GeoJSON, KML, Shapefile and CSV files",
)

Writer = Callable[[Layer, Iterable[Record]], Iterator[bytes]]
WRITERS: dict[Format, tuple[Writer, str, str]] = {
    Format.GEOJSON: (geojson.write, geojson.MEDIA_TYPE, "geojson"),
    Format.KML: (kml.write, kml.MEDIA_TYPE, "kml"),
    Format.SHAPEFILE: (shapefile_zip.write, shapefile_zip.MEDIA_TYPE, "zip"),
    Format.CSV: (csvfile.write, csvfile.MEDIA_TYPE, "csv"),  # Flask adds "; charset=utf-8"
}

RESPONSES = {
    "200": {
        "description": "The file, streamed, as an attachment; every row the filters match (no paging)",
        "content": {
            geojson.MEDIA_TYPE: {"schema": {"type": "object", "description": "a FeatureCollection"}},
            kml.MEDIA_TYPE: {"schema": {"type": "string"}},
            shapefile_zip.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            csvfile.MEDIA_TYPE: {"schema": {"type": "string"}},
        },
    }
}


def download(layer: str, args: dict[str, Any]) -> Response:
    fmt: Format = args.pop("format")
    filters = dict(args)
    if "bbox" in filters:
        filters["bbox"] = parse_bbox(filters["bbox"])
    stmt = services.query(layer, filters)  # an unknown township is a 422 here, before any byte is sent
    write, media_type, extension = WRITERS[fmt]
    record_event(
        "gis_download",
        layer,
        None,
        {"format": fmt.value, "filters": {k: str(v) for k, v in sorted(args.items())}},
    )
    rows = services.records(layer, stmt, bind=services.bind(), zone=local_zone())
    # A generator: nothing is read until the server sends the body, and then one batch at a time.
    response = Response(write(SOURCES[layer].layer, rows), mimetype=media_type)
    name = f"{layer}-{local_today():%Y%m%d}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/observations/download")
class ObservationsDownload(MethodView):
    @blp.arguments(ObservationDownloadArgs(exclude=PAGING), location="query")
    @blp.doc(responses=RESPONSES)
    def get(self, args: dict[str, Any]) -> Response:
        """Observations matching the list's filters as a GIS file (`format`): every match, streamed

        Same filters as GET /api/v1/observations; points in WGS-84 (≡ CGCS2000), times in Beijing time.
        """
        return download("observations", args)


@blp.route("/sites/download")
class SitesDownload(MethodView):
    @blp.arguments(SiteDownloadArgs(exclude=PAGING), location="query")
    @blp.doc(responses=RESPONSES)
    def get(self, args: dict[str, Any]) -> Response:
        """Sites matching the list's filters as a GIS file (`format`): every match, streamed

        Same filters as GET /api/v1/sites.
        """
        return download("sites", args)


@blp.route("/control-operations/download")
class ControlOperationsDownload(MethodView):
    @blp.arguments(ControlOperationDownloadArgs(exclude=PAGING), location="query")
    @blp.doc(responses=RESPONSES)
    def get(self, args: dict[str, Any]) -> Response:
        """Control operations matching the list's filters as a GIS file (`format`): every match, streamed

        Same filters as GET /api/v1/control-operations; each operation at its site's position.
        """
        return download("control_operations", args)


@blp.route("/map/observations")
class MapObservations(MethodView):
    @blp.arguments(MapObservationArgs(exclude=PAGING), location="query")
    @blp.response(
        200,
        description="A GeoJSON FeatureCollection with `kind` (clusters or points), `zoom` and `total`; a "
        "cluster's properties are `count` (at the mean position of its records) and `found` (how many of "
        "them found the species), a point's `species_id`, `species`, `detected`, `status`, `observed_at`, "
        "`severity`, and for a record with an area outline `outline` (simplified to the zoom) and "
        "`area_m2` (its geodesic area)",
    )
    def get(self, args: dict[str, Any]) -> Response:
        """Observations in the map's view, as clusters with counts or (zoomed in, few enough) as points

        Same filters as GET /api/v1/observations; the answer's size depends on the view, not on the number
        of records (docs/contract.md §5, the map budget).
        """
        filters = dict(args)
        bbox = parse_bbox(filters.pop("bbox"))
        zoom = filters.pop("zoom")
        response = jsonify(aggregate.aggregate(filters, bbox, zoom))
        response.headers["Cache-Control"] = "private, no-store"
        return response
