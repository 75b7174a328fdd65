"""The surveys part of the JSON API: campaigns, routes, plots and coverage (docs/surveys.md).

One blueprint; each resource's endpoints live in their own module, imported here so they register.
"""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "Surveys", __name__, description="Survey campaigns (调查任务), routes (踏查路线), plots (样地)"
)

from app.surveys.api import campaigns, coverage, plots, routes  # noqa: E402, F401  (register the endpoints)

__all__ = ["blp"]
