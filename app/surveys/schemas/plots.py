"""Surveys schemas: plots (样地) and their quadrats (样方) (docs/surveys.md, Plots).

A bad value inside a quadrat is named by its path (`quadrats.2.size_m2`,
`quadrats.0.records.1.cover_pct`), as the service names what it checks itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app import metrics
from app.api import ID_RANGE, LocalDateTime, PageArgs
from app.geo.crs import CRS
from app.photos.schemas import PhotoSchema
from app.surveys.models import PlotShape
from app.surveys.plot_figures import figures_of
from app.units import to_mu

# A plot is laid by hand with tapes: sides past a kilometre, or more quadrats or species than a form
# holds, are typing errors.
MAX_SIDE_M = 1000.0
MAX_PLOT_AREA_M2 = 1_000_000.0
MAX_HEIGHT_CM = 10_000.0  # 100 m: taller than any tree
MAX_QUADRATS = 100
MAX_SPECIES_PER_QUADRAT = 50


def _positive(maximum: float) -> ma.validate.Range:
    return ma.validate.Range(min=0, min_inclusive=False, max=maximum)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"quadrats": {2: {"size_m2": [...]}}} → {"quadrats.2.size_m2": [...]}."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for inner, texts in _flatten(value, name).items():
                flat.setdefault(inner, []).extend(texts)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


flatten_errors = _flatten  # the plot edit page names fields by the same paths


# What else a refused body is checked for: given what loaded and the fields the schema refused, the faults
# the plot's own checks find (app/surveys/plots.py `plot_faults`), so that one answer names them all.
MoreChecks = Callable[[dict[str, Any], frozenset[str]], dict[str, list[str]]]


class _PathNamedErrors(ma.Schema):
    def __init__(self, *, more_checks: MoreChecks | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.more_checks = more_checks

    def handle_error(self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        faults = _flatten(error.normalized_messages())  # type: ignore[no-untyped-call]
        if self.more_checks is not None and isinstance(error.valid_data, dict) and "_schema" not in faults:
            for name, messages in self.more_checks(error.valid_data, frozenset(faults)).items():
                faults.setdefault(name, messages)
        raise ma.ValidationError(faults)


# A quadrat's density against its count, its placeholders unfilled: the refusal below, and the phone's plot
# form (app/static/js/plot.js, given it by app/surveys/views/plots.py) says the same before sending.
DENSITY_AGAINST_COUNT = _l(
    "is %(density)g per m² while %(count)d were counted in the quadrat; leave it empty to "
    "take it from the count."
)


class QuadratRecordArgs(ma.Schema):
    """One species in one quadrat; null means "not measured"."""

    species_id = ma.fields.Integer(required=True, validate=ID_RANGE)
    cover_pct = ma.fields.Float(
        allow_none=True, validate=ma.validate.Range(min=metrics.COVER.minimum, max=metrics.COVER.maximum)
    )
    density_per_m2 = ma.fields.Float(
        allow_none=True, validate=ma.validate.Range(min=0, max=metrics.DENSITY.maximum)
    )
    height_cm = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=MAX_HEIGHT_CM))
    count = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=0, max=metrics.COUNT.maximum)
    )

    @ma.validates_schema
    def _density_and_count_agree(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A density of 0 with individuals counted (or a density with none counted) contradicts itself:
        the figures would count the species present and average its density as 0 (docs/surveys.md)."""
        density, count = data.get("density_per_m2"), data.get("count")
        if density is None or count is None or (density == 0) == (count == 0):
            return
        raise ma.ValidationError(
            str(DENSITY_AGAINST_COUNT) % {"density": density, "count": count}, "density_per_m2"
        )


class QuadratArgs(ma.Schema):
    number = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1, max=999))
    size_m2 = ma.fields.Float(
        required=True,
        validate=_positive(MAX_PLOT_AREA_M2),
        metadata={"description": "the quadrat's area in m² (1 m² for herbs, 25 m² for shrubs …)"},
    )
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    records = ma.fields.List(
        ma.fields.Nested(QuadratRecordArgs),
        load_default=list,
        validate=ma.validate.Length(max=MAX_SPECIES_PER_QUADRAT),
        metadata={"description": "per species: cover %, density per m², height in cm, count"},
    )


class PlotFieldsArgs(_PathNamedErrors):
    """What a surveyor sets, on create and on edit (the plot is checked again as a whole)."""

    surveyed_at = LocalDateTime(
        required=True, metadata={"description": "ISO 8601; without an offset it is Asia/Shanghai time"}
    )
    shape = ma.fields.Enum(
        PlotShape,
        by_value=True,
        required=True,
        metadata={
            "description": "square (length_m), rectangle and strip (length_m × width_m), circle (radius_m)"
        },
    )
    length_m = ma.fields.Float(allow_none=True, validate=_positive(MAX_SIDE_M))
    width_m = ma.fields.Float(allow_none=True, validate=_positive(MAX_SIDE_M))
    radius_m = ma.fields.Float(allow_none=True, validate=_positive(MAX_SIDE_M / 2))
    area_m2 = ma.fields.Float(
        allow_none=True,
        validate=_positive(MAX_PLOT_AREA_M2),
        metadata={"description": "computed from the dimensions; given alone for an irregular plot"},
    )
    latitude = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=-180, max=180))
    crs = ma.fields.Enum(CRS, by_value=True, load_default=CRS.WGS84)
    habitat = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "a code from GET /api/v1/habitats; the site's when omitted"},
    )
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    quadrats = ma.fields.List(
        ma.fields.Nested(QuadratArgs),
        load_default=list,
        validate=ma.validate.Length(max=MAX_QUADRATS),
        metadata={"description": "the plot's 样方 (about five in practice), each with its species"},
    )


class PlotCreateArgs(PlotFieldsArgs):
    client_uuid = ma.fields.UUID(
        required=True, metadata={"description": "made by the client once per plot; retries send the same one"}
    )
    site_id = ma.fields.Integer(required=True, validate=ID_RANGE)
    campaign_id = ma.fields.Integer(allow_none=True, validate=ID_RANGE)


class PlotUpdateArgs(PlotFieldsArgs):
    """Any subset of the fields; `quadrats`, when sent, replaces them all."""

    def __init__(self, *, more_checks: MoreChecks | None = None, **kwargs: Any) -> None:
        super().__init__(more_checks=more_checks, partial=True, **kwargs)


class PlotFormArgs(ma.Schema):
    """The plot form's query string (read by app/pages.py): the campaign whose page linked to it."""

    campaign_id = ma.fields.Integer(validate=ID_RANGE)


class PlotQueryArgs(PageArgs):
    site_id = ma.fields.Integer(validate=ID_RANGE)
    campaign_id = ma.fields.Integer(validate=ID_RANGE)
    surveyor_id = ma.fields.Integer(validate=ID_RANGE)


class QuadratRecordSchema(ma.Schema):
    species_id = ma.fields.Integer()
    species_name_zh = ma.fields.Function(lambda r: r.species.name_zh)
    cover_pct = ma.fields.Float(allow_none=True)
    density_per_m2 = ma.fields.Float(allow_none=True)
    height_cm = ma.fields.Float(allow_none=True)
    count = ma.fields.Integer(allow_none=True)


class QuadratSchema(ma.Schema):
    number = ma.fields.Integer()
    size_m2 = ma.fields.Float()
    notes = ma.fields.String(allow_none=True)
    records = ma.fields.List(ma.fields.Nested(QuadratRecordSchema))


class SpeciesFiguresSchema(ma.Schema):
    species_id = ma.fields.Integer()
    species_name_zh = ma.fields.String()
    species_name_sci = ma.fields.String()
    quadrats_present = ma.fields.Integer()
    frequency_pct = ma.fields.Float(metadata={"description": "100 × quadrats where present / quadrats"})
    mean_density_per_m2 = ma.fields.Float(
        allow_none=True, metadata={"description": "over the quadrats, absent counting 0"}
    )
    mean_cover_pct = ma.fields.Float(
        allow_none=True, metadata={"description": "over the quadrats, absent counting 0"}
    )
    mean_height_cm = ma.fields.Float(allow_none=True, metadata={"description": "where present"})
    total_count = ma.fields.Integer(allow_none=True)


class FiguresSchema(ma.Schema):
    quadrats = ma.fields.Integer()
    quadrat_area_m2 = ma.fields.Float()
    species = ma.fields.List(ma.fields.Nested(SpeciesFiguresSchema))


class PlotSchema(ma.Schema):
    id = ma.fields.Integer()
    client_uuid = ma.fields.UUID()
    site_id = ma.fields.Integer()
    site_code = ma.fields.Function(lambda p: p.site.code)
    campaign_id = ma.fields.Integer(allow_none=True)
    organization_id = ma.fields.Integer()
    surveyor_id = ma.fields.Integer()
    surveyor = ma.fields.Function(lambda p: p.surveyor.display_name)
    surveyed_at = LocalDateTime()
    shape = ma.fields.Enum(PlotShape, by_value=True)
    length_m = ma.fields.Float(allow_none=True)
    width_m = ma.fields.Float(allow_none=True)
    radius_m = ma.fields.Float(allow_none=True)
    area_m2 = ma.fields.Float()
    area_mu = ma.fields.Function(lambda p: round(to_mu(p.area_m2) or 0.0, 4))
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    habitat = ma.fields.Function(lambda p: p.habitat.code if p.habitat else None)
    notes = ma.fields.String(allow_none=True)
    quadrats = ma.fields.List(ma.fields.Nested(QuadratSchema))
    figures = ma.fields.Method("_figures")
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema))
    created_at = LocalDateTime()
    updated_at = LocalDateTime()

    def _figures(self, plot: Any) -> dict[str, Any]:
        return FiguresSchema().dump(figures_of(plot))
