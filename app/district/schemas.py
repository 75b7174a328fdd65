from __future__ import annotations

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app.api import PageArgs
from app.district.models import BoundaryLevel, TownshipKind
from app.geo.crs import FILE_CRS_NAMES
from app.pages import FormFile


class TownshipAliasSchema(ma.Schema):
    name = ma.fields.String()
    changed_in = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)


class TownshipSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "official 9-digit statistical code"})
    name_zh = ma.fields.String()
    kind = ma.fields.Enum(TownshipKind, by_value=True)
    kind_zh = ma.fields.String(metadata={"description": "街道, 镇 or 乡"})
    aliases = ma.fields.List(ma.fields.Nested(TownshipAliasSchema), metadata={"description": "old names"})


class DistrictSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    name_en = ma.fields.String(allow_none=True)
    province = ma.fields.String(allow_none=True)
    former_codes = ma.fields.List(ma.fields.String())
    area_km2 = ma.fields.Float(allow_none=True)
    bounds = ma.fields.Function(
        lambda d: {
            "min_lon": d.min_lon,
            "min_lat": d.min_lat,
            "max_lon": d.max_lon,
            "max_lat": d.max_lat,
            "buffer_deg": d.buffer_deg,
        }
    )


class VillageSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "official 12-digit statistical code (NBS 2023)"})
    short_name = ma.fields.String(metadata={"description": "the name people say and type (南华社区, 新口村)"})
    name = ma.fields.String(metadata={"description": "official name, with its committee (…村民委员会)"})
    township_code = ma.fields.Function(lambda v: v.township.code, metadata={"description": "9-digit"})
    township_name = ma.fields.Function(lambda v: v.township.name_zh)


class VillageQueryArgs(PageArgs):
    township_code = ma.fields.String(
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "the township's code (9 or 12 digits) or name; all villages when omitted"},
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "part of the short or official name (新口, 南华社区)"},
    )


class BoundaryUploadForm(ma.Schema):
    """The boundaries page's upload (app/district/views.py; read by app/pages.py, CSRF checked before)."""

    file = FormFile(
        required=True,
        error_messages={"required": _l("Choose a boundary file."), "invalid": _l("Choose a boundary file.")},
    )
    level = ma.fields.Enum(
        BoundaryLevel,
        by_value=True,
        required=True,
        error_messages={
            "required": _l("Choose the level: district, townships or villages."),
            "unknown": _l("Choose the level: district, townships or villages."),
        },
    )
    code_field = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))
    crs = ma.fields.String(load_default=None, validate=ma.validate.OneOf(FILE_CRS_NAMES))
    dry_run = ma.fields.Boolean(load_default=False)
