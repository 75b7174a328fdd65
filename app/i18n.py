"""Language and time zone: Chinese first, English on request; times shown in the district's zone."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user


def select_locale() -> str:
    """The user's saved choice, then this browser's choice; API clients may ask by Accept-Language."""
    supported = current_app.config["IAS_LOCALES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return current_user.locale
    if session.get("lang") in supported:
        return session["lang"]
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(supported) or default
    return default


def select_timezone() -> str:
    return current_app.config["IAS_TIMEZONE"]


def template_globals() -> dict[str, object]:
    """The language, for every template (the menu and the basemap come from app/main/navigation.py)."""
    return {"current_locale": str(get_locale())}
