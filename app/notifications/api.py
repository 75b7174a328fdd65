from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app import policy
from app.accounts.auth import roles_required
from app.accounts.models import User
from app.accounts.services import get_organization
from app.api import page_of, paginate
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.notifications import inbox, public_hosts
from app.notifications.models import Webhook
from app.notifications.schemas import (
    InboxArgs,
    MarkedSchema,
    MarkReadArgs,
    NotificationSchema,
    NotificationSettingsSchema,
    WebhookArgs,
    WebhookSchema,
)

blp = Blueprint("Notifications", __name__, description="The inbox, notification settings and webhooks")


@blp.route("/notifications")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, page_of(NotificationSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The signed-in user's notifications, newest first"""
        stmt = inbox.inbox(current_user, unread_only=args["unread"])
        return paginate(stmt, page=args["page"], per_page=args["per_page"])


@blp.route("/notifications/read")
class MarkRead(MethodView):
    @blp.arguments(MarkReadArgs)
    @blp.response(200, MarkedSchema)
    def post(self, args: dict[str, Any]) -> dict[str, int]:
        """Mark notifications read (the listed `ids`, or all)"""
        marked = inbox.mark_read(current_user, args.get("ids"))
        return {"marked": marked}


@blp.route("/me/notification-settings")
class Settings(MethodView):
    @blp.response(200, NotificationSettingsSchema)
    def get(self) -> User:
        """How the signed-in user is told: e-mail or not, each event or a daily digest"""
        return current_user._get_current_object()

    @blp.arguments(NotificationSettingsSchema)
    @blp.response(200, NotificationSettingsSchema)
    def patch(self, args: dict[str, Any]) -> User:
        """Change the signed-in user's notification settings"""
        user: User = current_user._get_current_object()
        for name, value in args.items():
            setattr(user, name, value)
        return user


def _check_org(code: str) -> int:
    try:
        organization = get_organization(code)
    except InvalidInput:  # the code names the resource in the path: no such organization is a 404
        raise NotFound(_("No organization has the code %(code)s.", code=code)) from None
    if not policy.may_manage_webhooks(current_user, organization.id):
        raise PermissionDenied(_("You manage the webhooks of your own organization and its units only."))
    return organization.id


@blp.route("/organizations/<code>/webhooks")
class Webhooks(MethodView):
    @roles_required(*policy.WEBHOOK_MANAGERS)
    @blp.response(200, WebhookSchema(many=True))
    def get(self, code: str) -> Any:
        """An organization's webhooks (group robots that receive its follow-up reminders)"""
        organization_id = _check_org(code)
        return db.session.scalars(sa.select(Webhook).where(Webhook.organization_id == organization_id)).all()

    @roles_required(*policy.WEBHOOK_MANAGERS)
    @blp.arguments(WebhookArgs)
    @blp.response(201, WebhookSchema)
    def post(self, args: dict[str, Any], code: str) -> Webhook:
        """Add a webhook: generic JSON, WeCom (企业微信) or DingTalk (钉钉, with its 加签 secret)"""
        organization_id = _check_org(code)
        if args.get("secret") and args["format"].value != "dingtalk":
            raise InvalidInput.field("secret", _("only DingTalk robots sign their messages"))
        try:
            public_hosts.check_webhook_target(args["url"], current_app.config["IAS_WEBHOOK_ALLOWED_HOSTS"])
        except (ValueError, public_hosts.BlockedAddress):
            # Loopback, private, link-local, shared (100.64/10) or metadata addresses would let a
            # webhook reach into the server's own network; sending checks again after DNS resolution.
            raise InvalidInput.field(
                "url", _("only public Internet addresses can receive webhooks")
            ) from None
        hook = Webhook(organization_id=organization_id, **args)
        db.session.add(hook)
        db.session.flush()  # its id, for the answer
        return hook


@blp.route("/webhooks/<int:webhook_id>")
class WebhookItem(MethodView):
    @roles_required(*policy.WEBHOOK_MANAGERS)
    @blp.response(204)
    def delete(self, webhook_id: int) -> None:
        """Switch a webhook off (kept for the outbox's history)"""
        hook = db.session.get(Webhook, webhook_id)
        if hook is None or not policy.may_manage_webhooks(current_user, hook.organization_id):
            raise NotFound(_("No such webhook in your organization."))
        hook.active = False
