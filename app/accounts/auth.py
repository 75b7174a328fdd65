"""Who is calling: session cookies for the browser, bearer tokens for API clients.

- Browser: Flask-Login session; every unsafe request is CSRF-checked (form field or X-CSRFToken header).
- API clients: `Authorization: Bearer <token>`; no cookie, so no CSRF to forge (only when the token
  itself authenticates the request: any other Authorization header leaves the CSRF check in place).
- Sessions are rows the server can revoke (app/accounts/sessions.py).
- Every /api/v1 endpoint needs a signed-in user unless its view is marked `@public`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.models import Role, User
from app.accounts.sessions import load_session_user, restore_remembered, set_remember_cookie
from app.accounts.tokens import find_token
from app.errors import AuthenticationFailed, PermissionDenied
from app.extensions import csrf, login_manager

F = TypeVar("F", bound=Callable[..., Any])

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def public(view: F) -> F:
    """Mark an API view as open to callers who have not signed in."""
    view.ias_public = True  # type: ignore[attr-defined]
    return view


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Refuse (403) callers whose role is not among `roles`; sign-in is already checked for the API."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                raise AuthenticationFailed(_("Sign in required."))
            if current_user.role not in roles:
                raise PermissionDenied(_("Your role may not do this."))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


login_manager.user_loader(load_session_user)


@login_manager.request_loader
def _load_token_user(req: Any) -> User | None:
    plain = bearer_token()
    if plain is None:
        return None
    token, problem = find_token(plain)
    if token is None:
        g.token_problem = problem
        return None
    g.api_token = token
    return token.user


TOKEN_MESSAGES = {
    "invalid": _l("The token is not valid."),
    "expired": _l("The token has expired; request a new one."),
    "revoked": _l("The token has been revoked; request a new one."),
}


def _authenticate_api_request() -> None:
    """before_request for /api/v1: signed-in caller (unless public), CSRF for cookie sessions."""
    if not request.path.startswith("/api/v1/") or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)  # MethodView: the marker is on the method
    handler = getattr(view_class, request.method.lower(), None) if view_class else view
    is_public = getattr(handler, "ias_public", False) or request.endpoint.startswith("api-docs.")
    # Only a request that the bearer token itself authenticates skips CSRF: a header that is present
    # but not a valid token proves nothing, and the session cookie beside it still needs the check.
    if request.method in UNSAFE_METHODS and current_user.is_authenticated and g.get("api_token") is None:
        csrf.protect()
    if is_public or current_user.is_authenticated:
        return
    problem = g.get("token_problem")
    if problem is None:
        raise AuthenticationFailed(_("Sign in required."), headers={"WWW-Authenticate": 'Bearer realm="ias"'})
    message = str(TOKEN_MESSAGES[problem])
    raise AuthenticationFailed(
        message,
        {"Authorization": [message]},
        # RFC 6750: a machine-readable reason beside the translated message.
        headers={
            "WWW-Authenticate": f'Bearer realm="ias", error="invalid_token", error_description="{problem}"'
        },
    )


def _check_browser_csrf() -> None:
    """CSRF for every unsafe browser request outside the API (sign-in form included)."""
    if request.path.startswith("/api/") or request.method not in UNSAFE_METHODS:
        return
    csrf.protect()


def register_auth(app: Flask) -> None:
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = None  # the sign-in page says what to do
    app.before_request(restore_remembered)
    app.before_request(_check_browser_csrf)
    app.after_request(set_remember_cookie)
    app.before_request(_authenticate_api_request)
