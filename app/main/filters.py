"""Template filters that show stored values the way people read them: local time, 亩, labels."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask
from flask_babel import format_date, format_datetime

from app import metrics
from app.units import mu_exact


def local_datetime(value: datetime | None, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC datetime shown in the district's zone (Flask-Babel's time zone is Asia/Shanghai)."""
    return format_datetime(value, pattern) if value is not None else ""


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "yyyy-MM-dd")
    return format_date(value, "yyyy-MM-dd")


def mu(square_metres: float | None, digits: int = 2) -> str:
    """Square metres as 亩, with two decimals as in the census tables."""
    if square_metres is None:
        return ""
    return f"{mu_exact(square_metres):,.{digits}f}"


def register_filters(app: Flask) -> None:
    filters: dict[str, Any] = {"localtime": local_datetime, "localdate": local_date, "mu": mu}
    app.jinja_env.filters.update(filters)
    app.jinja_env.globals["survey_metrics"] = metrics.METRICS  # app/metrics.py, in the forms' order
