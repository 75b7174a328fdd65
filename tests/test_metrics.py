"""The survey-metric catalogue (app/metrics.py) and 亩/m² (app/units.py), and the places that read them."""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
import pytest
from flask_babel import force_locale

from app import metrics, units
from app.control.assessment import EFFICACY_METRICS
from app.messages import field_label
from app.observations.checks import METRIC_FIELDS
from app.observations.models import Observation
from app.observations.schemas import MetricsFields
from app.species.registry import METRICS as REGISTRY_METRICS


def test_one_mu_is_a_fifteenth_of_a_hectare() -> None:
    assert pytest.approx(666.6667, abs=1e-4) == units.SQUARE_METRES_PER_MU
    assert units.to_square_metres(15) == pytest.approx(10_000)
    assert units.to_mu(10_000) == 15
    assert units.to_mu(1000) == 1.5
    assert units.to_mu(100) == 0.15  # rounded to four decimals: 0.149999… would not be
    assert units.to_mu(None) is None
    assert units.mu_exact(1) == pytest.approx(0.0015)
    assert math.isclose(units.to_mu(units.to_square_metres(2.5)), 2.5)


def test_catalogue_keys_fields_and_order() -> None:
    assert metrics.KEYS == ("area", "cover", "density", "egg_masses", "count")
    assert [m.field for m in metrics.METRICS] == [
        "area_m2",
        "cover_pct",
        "density_per_m2",
        "egg_masses_per_m2",
        "count",
    ]
    assert metrics.BY_KEY["density"] is metrics.DENSITY
    assert metrics.BY_FIELD["count"] is metrics.COUNT
    assert [m.key for m in metrics.EFFICACY] == ["density", "egg_masses", "cover", "count"]
    assert metrics.AREA not in metrics.ABUNDANCE and len(metrics.ABUNDANCE) == 4
    assert metrics.COUNT.integer and not metrics.DENSITY.integer


def test_every_metric_is_a_column_of_the_record() -> None:
    columns = set(Observation.__table__.columns.keys())
    assert {m.field for m in metrics.METRICS} <= columns


def test_area_is_entered_in_mu() -> None:
    assert metrics.AREA.input_name == "area_mu"
    assert metrics.AREA.from_input(3) == pytest.approx(2000)
    assert metrics.AREA.to_input(2000) == pytest.approx(3)
    assert metrics.COVER.input_name == "cover_pct"
    assert metrics.COVER.from_input(40) == 40


def test_schemas_check_the_catalogue_bounds() -> None:
    fields = MetricsFields().fields
    for metric in metrics.METRICS:
        field = fields[metric.field]
        (rule,) = [v for v in field.validators if isinstance(v, ma.validate.Range)]
        assert (rule.min, rule.max) == (metric.minimum, metric.maximum)
        assert isinstance(field, ma.fields.Integer) is metric.integer
    severity = next(v for v in fields["severity"].validators if isinstance(v, ma.validate.Range))
    assert (severity.min, severity.max) == (metrics.SEVERITY_MIN, metrics.SEVERITY_MAX)


def test_rule_modules_read_the_catalogue() -> None:
    assert {m.field: m.key for m in metrics.METRICS} == METRIC_FIELDS
    assert list(EFFICACY_METRICS.items()) == [(m.field, m.key) for m in metrics.EFFICACY]
    assert set(REGISTRY_METRICS) == set(metrics.KEYS)


def test_labels_in_both_languages(app: Any) -> None:
    with app.test_request_context():
        with force_locale("zh"):
            assert str(metrics.DENSITY.label) == "密度（每平方米）"
            assert field_label("cover_pct") == "盖度（%）"  # no doubled %% in an API message
            assert str(metrics.AREA.label) == "面积（亩）"
        with force_locale("en"):
            assert str(metrics.EGG_MASSES.label) == "Egg masses (per m²)"
            assert str(metrics.COUNT.phrase) == "count"
    assert metrics.AREA.name_zh == "发生面积（亩）"


def test_field_data_carries_the_catalogue(app: Any) -> None:
    with app.test_request_context():
        data = metrics.field_data()
    assert [m["field"] for m in data] == [m.field for m in metrics.METRICS]
    area = data[0]
    assert area["input"] == "area_mu" and area["scale"] == units.SQUARE_METRES_PER_MU
    assert area["abundance"] is False and all(m["abundance"] for m in data[1:])
    assert {m["key"] for m in data if m["efficacy"]} == {"density", "egg_masses", "cover", "count"}


def test_the_phone_gets_the_catalogue(web_as: Any) -> None:
    web = web_as("surveyor")
    data = web.get("/app/field-data.json").get_json()
    assert [m["key"] for m in data["metrics"]] == list(metrics.KEYS)
    assert data["units"]["square_metres_per_mu"] == units.SQUARE_METRES_PER_MU
    assert data["limits"]["observation"]["cover_pct"] == {"min": 0, "max": 100}


def test_pages_show_a_figure_with_its_unit(app: Any) -> None:
    with app.test_request_context(), force_locale("en"):
        assert metrics.AREA.show(2000) == "3.00 mu"
        assert metrics.AREA.show(10_000_000) == "15,000.00 mu"
        assert metrics.COVER.show(40.0) == "40 %"
        assert metrics.DENSITY.show(2.5) == "2.5 per m²"
        assert metrics.COUNT.show(12) == "12"
