from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _

from app.accounts.models import OrganizationKind, Role
from app.api import PageArgs
from app.pages import local_path

_role = ma.fields.Enum(Role, by_value=True)


class OrganizationSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.Enum(OrganizationKind, by_value=True)
    parent = ma.fields.Function(
        lambda o: o.parent.code if o.parent is not None else None,
        metadata={"description": "the code of the bureau this unit reports to; null for a bureau"},
    )


_org_code = ma.fields.String(
    required=True, validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(r"^[a-z][a-z0-9_-]*$")]
)
_parent = ma.fields.String(
    allow_none=True,
    validate=ma.validate.Length(min=1, max=64),
    metadata={"description": "the code of a bureau (forestry_bureau or agriculture_commission); null: none"},
)


class OrganizationCreateArgs(ma.Schema):
    code = _org_code
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.Enum(OrganizationKind, by_value=True, required=True)
    parent = _parent


class OrganizationUpdateArgs(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.Enum(OrganizationKind, by_value=True)
    parent = _parent

    @ma.validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ma.ValidationError(_("Send at least one field to change."), "_schema")


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    role = _role
    organization = ma.fields.Function(lambda u: u.organization.code)
    organization_name = ma.fields.Function(lambda u: u.organization.name)
    active = ma.fields.Boolean()
    locale = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    last_login_at = ma.fields.AwareDateTime(allow_none=True)


class UserUpdatedSchema(UserSchema):
    """A changed user (accounts.services.UserUpdated): the user's fields, and how many pending
    re-inspections went back to the organization they left."""

    follow_ups_handed_back = ma.fields.Integer(
        metadata={
            "description": "pending re-inspections of the organization the user left (moved or "
            "deactivated), now unassigned for its supervisor to reassign"
        }
    )

    @ma.pre_dump
    def _the_user(self, data: Any, **kwargs: object) -> Any:
        return data.user

    @ma.post_dump(pass_original=True)
    def _handed_back(self, data: dict[str, Any], original: Any, **kwargs: object) -> dict[str, Any]:
        data["follow_ups_handed_back"] = original.follow_ups_handed_back
        return data


class UserQueryArgs(PageArgs):
    role = _role
    organization = ma.fields.String(validate=ma.validate.Length(max=64))
    active = ma.fields.Boolean()


_username = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=80))
# Length, commonness and likeness to the username are the service's rules (translated messages).
_password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))
_locale = ma.fields.String(validate=ma.validate.OneOf(["zh", "en"]), allow_none=True)


class UserCreateArgs(ma.Schema):
    username = _username
    password = _password
    display_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    organization = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))


class UserUpdateArgs(ma.Schema):
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    role = ma.fields.Enum(Role, by_value=True)
    organization = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    active = ma.fields.Boolean()
    locale = _locale
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=8, max=256))

    @ma.validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ma.ValidationError(_("Send at least one field to change."), "_schema")


class TokenArgs(ma.Schema):
    username = _username
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class TokenSchema(ma.Schema):
    token = ma.fields.String(metadata={"description": "send as `Authorization: Bearer <token>`; shown once"})
    expires_at = ma.fields.AwareDateTime()
    user = ma.fields.Nested(UserSchema)


class PasswordChangeArgs(ma.Schema):
    current_password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )
    new_password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )


class SignInArgs(ma.Schema):
    """The sign-in page's query string (a page's input, read by app/pages.py): where to go once signed
    in, a page of this site; `signed_out` after signing out (the page itself always has the phone forget the
    last person's saved pages, so it is only checked)."""

    next = ma.fields.String(validate=local_path)
    signed_out = ma.fields.Boolean(load_default=False)
