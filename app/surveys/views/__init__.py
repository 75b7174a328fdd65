"""The survey pages: campaigns (desk and phone), routes, plots and coverage (docs/surveys.md).

One blueprint; each page group lives in its own module, imported here so its routes register.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("surveys", __name__)

from app.surveys.views import campaigns, coverage, plots, routes  # noqa: E402, F401  (register the pages)

__all__ = ["bp"]
