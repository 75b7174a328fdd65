"""Pages of the notifications domain (browser UI): the inbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app import pages
from app.notifications import inbox as notices
from app.notifications.models import Notification
from app.notifications.schemas import MarkReadForm
from app.paging import PAGE_SIZE, page_links, page_number, paginate
from app.security import is_local_path

bp = Blueprint("notifications", __name__)


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


@bp.route("/notifications")
@login_required
def inbox() -> str:
    """The signed-in user's notifications, newest first; unread ones stand out."""
    result = paginate(notices.inbox(current_user), page=page_number(), per_page=PAGE_SIZE)
    unread = notices.unread_count(current_user)
    return render_template(
        "notifications/inbox.html",
        title=_("Notifications"),
        page=result,
        page_url=page_links(),
        links=in_app_links,
        shown=notices.shown,
        unread=unread,
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    """Mark one notification (`id`) or all of them read, then go back to the inbox."""
    form, errors = pages.read(MarkReadForm, location="form")
    target = form.get("next", "")
    back = target if is_local_path(target) else url_for("notifications.inbox")
    if errors:
        flash(_("No such notification."), "error")
        return redirect(back)
    notices.mark_read(current_user, [form["id"]] if "id" in form else None)
    return redirect(back)
