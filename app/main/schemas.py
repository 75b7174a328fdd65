"""What the home page and the language form read (a page's input, read by app/pages.py)."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app.pages import local_path

SEARCH_MAX = 100  # characters of a species search


class HomeSearchArgs(ma.Schema):
    """The home page's species search."""

    q = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=SEARCH_MAX, error=_l("type at most 100 characters")),
    )


class LanguageForm(ma.Schema):
    """The language chosen (中文 or English), and the page to go back to."""

    lang = ma.fields.String(
        load_default="zh",
        validate=ma.validate.OneOf(["zh", "en"], error=_l("choose 中文 (zh) or English (en)")),
    )
    next = ma.fields.String(load_default=None, validate=local_path)
