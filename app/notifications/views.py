"""Pages of the notifications domain (browser UI): the inbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.api import paginate
from app.notifications import inbox as notices
from app.notifications.models import Notification
from app.security import is_local_path

bp = Blueprint("notifications", __name__)

PER_PAGE = 25
MAX_ID = 2**31 - 1


def in_app_links(notification: Notification) -> list[tuple[str, str]]:
    """The notification's links as paths on this site.

    They are stored absolute (IAS_BASE_URL) for e-mail; in the browser the path is what matters, and
    only a same-site path is kept, so an inbox item can never send someone elsewhere.
    """
    links = []
    for label, url in notices.shown(notification).links:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if is_local_path(path):
            links.append((label, path))
    return links


def _page_url(page: int) -> str:
    return url_for("notifications.inbox", page=page)


@bp.route("/notifications")
@login_required
def inbox() -> str:
    """The signed-in user's notifications, newest first; unread ones stand out."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 1_000_000)
    result: dict[str, Any] = paginate(notices.inbox(current_user), page=page, per_page=PER_PAGE)
    unread = notices.unread_count(current_user)
    return render_template(
        "notifications/inbox.html",
        title=_("Notifications"),
        page=result,
        page_url=_page_url,
        links=in_app_links,
        shown=notices.shown,
        unread=unread,
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    """Mark one notification (`id`) or all of them read, then go back to the inbox."""
    target = request.form.get("next", "")
    back = target if is_local_path(target) else url_for("notifications.inbox")
    raw = request.form.get("id", "").strip()
    ids: list[int] | None = None
    if raw:
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
            flash(_("No such notification."), "error")
            return redirect(back)
        ids = [int(raw)]
    notices.mark_read(current_user, ids)
    return redirect(back)
