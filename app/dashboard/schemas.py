"""The dashboard page's input (its query string, read by app/pages.py)."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import lazy_gettext as _l


class DashboardArgs(ma.Schema):
    organization = ma.fields.String(metadata={"description": "an organization's code (admins: any)"})
    species_id = ma.fields.Integer(strict=False, error_messages={"invalid": _l("must be a whole number.")})
