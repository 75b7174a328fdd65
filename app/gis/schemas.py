"""The downloads' query arguments: each list's own filters (its schema, without paging) and `format`."""

from __future__ import annotations

import enum

import marshmallow as ma

from app.control.schemas import ControlOperationQueryArgs
from app.observations.schemas import ObservationQueryArgs
from app.sites.schemas import SiteQueryArgs


class Format(enum.StrEnum):
    GEOJSON = "geojson"
    KML = "kml"
    SHAPEFILE = "shapefile"
    CSV = "csv"


PAGING = ("page", "per_page")


class FormatArgs(ma.Schema):
    format = ma.fields.Enum(
        Format,
        by_value=True,
        required=True,
        metadata={
            "description": "geojson (RFC 7946, WGS-84), kml, shapefile (zipped, CGCS2000 .prj, UTF-8 "
            ".cpg, a field legend) or csv (UTF-8 with a byte order mark, for Excel)"
        },
    )


# A download is every row the filters match: the lists' paging does not apply (excluded when the
# schemas are instantiated in app/gis/api.py).
class ObservationDownloadArgs(FormatArgs, ObservationQueryArgs):
    pass


class SiteDownloadArgs(FormatArgs, SiteQueryArgs):
    pass


class ControlOperationDownloadArgs(FormatArgs, ControlOperationQueryArgs):
    pass


class MapObservationArgs(ObservationQueryArgs):
    """The records map's view (bbox and zoom, both required) and the list's filters, without paging."""

    bbox = ma.fields.String(
        required=True, metadata={"description": "the map's view: min_lon,min_lat,max_lon,max_lat (WGS-84)"}
    )
    zoom = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=0, max=22),
        metadata={"description": "the map's zoom: clusters below 13 or beyond 1000 records, else points"},
    )
