from __future__ import annotations

import marshmallow as ma

from app.api import ID_RANGE, LocalDateTime, PageArgs
from app.notifications.inbox import shown
from app.notifications.models import NotificationKind, WebhookFormat


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Enum(NotificationKind, by_value=True)
    subject = ma.fields.Function(
        lambda n: shown(n).subject, metadata={"description": "in the reader's language"}
    )
    body = ma.fields.Function(lambda n: shown(n).body)
    links = ma.fields.Function(lambda n: shown(n).links, metadata={"description": "[label, url] pairs"})
    data = ma.fields.Dict()
    created_at = LocalDateTime()
    read_at = LocalDateTime(allow_none=True)


class InboxArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False)


class MarkReadArgs(ma.Schema):
    ids = ma.fields.List(
        ma.fields.Integer(validate=ID_RANGE),
        validate=ma.validate.Length(max=500),
        metadata={"description": "omit to mark every notification read"},
    )


class MarkedSchema(ma.Schema):
    marked = ma.fields.Integer()


class NotificationSettingsSchema(ma.Schema):
    email = ma.fields.Boolean(
        attribute="notify_email", metadata={"description": "e-mail as well as the in-app inbox"}
    )
    digest = ma.fields.Boolean(
        attribute="notify_digest", metadata={"description": "one e-mail a day at 08:00 instead of each event"}
    )


class WebhookSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    format = ma.fields.Enum(WebhookFormat, by_value=True)
    active = ma.fields.Boolean()
    created_at = LocalDateTime()


class WebhookArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    url = ma.fields.Url(required=True, schemes={"http", "https"}, validate=ma.validate.Length(max=1000))
    format = ma.fields.Enum(WebhookFormat, by_value=True, load_default=WebhookFormat.GENERIC)
    secret = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))


class MarkReadForm(ma.Schema):
    """The inbox's "mark read" form (a page's input, read by app/pages.py): one notification, or all."""

    id = ma.fields.Integer(validate=ID_RANGE)
    next = ma.fields.String()
