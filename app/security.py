"""Response headers that keep the browser strict: no inline script, no framing, no sniffing."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def is_local_path(target: str | None) -> bool:
    """True for a same-site path ("/sites/3?x=1"); false for anything a browser could take off-site.

    Browsers read "//host" and "/\\host" as another host, so both are refused, as are schemes.
    """
    if not target or not target.startswith("/") or "\\" in target or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def content_security_policy(image_hosts: list[str]) -> str:
    """The policy for this deployment: CSP, with the basemap's tile hosts allowed as images, and as
    fetches (the service worker answers tile requests, and saving tiles for offline use fetches them)."""
    if not image_hosts:
        return CSP
    hosts = " ".join(image_hosts)
    return CSP.replace("img-src 'self' data: blob:", f"img-src 'self' data: blob: {hosts}").replace(
        "connect-src 'self'", f"connect-src 'self' {hosts}"
    )


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", current_app.config["IAS_CSP"])
    # What a signed-in person was shown (pages, JSON) stays out of every cache: a shared computer's
    # browser, a proxy. Static files and photo copies say for themselves how long they may be kept.
    user = g.get("_login_user")  # set once Flask-Login has looked at this request
    signed_in = user is not None and user.is_authenticated
    if signed_in and "Cache-Control" not in response.headers and request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["IAS_ENV"] == "production":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def register_security_headers(app: Flask, image_hosts: list[str]) -> None:
    """Send the headers on every response; `image_hosts` are the origins the maps load tiles from
    (create_app asks the maps, app/main/maps.py, so this module needs no domain)."""
    app.config["IAS_CSP"] = content_security_policy(image_hosts)
    app.after_request(_security_headers)
