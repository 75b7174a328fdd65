"""The accounts pages' forms: sign-in, one's own password and sign-ins, and the admin pages' new and
edited user.
Each is a marshmallow schema read through app/pages.py (blank inputs are "not given"); CSRF is checked
before any view (app/accounts/auth.py). The rules that need the database (username shape, taken names,
password length, who may grant which role) are the service's: these schemas only check that each field
came, fits its column and, for a choice, is one the page offered (app/pages.py `Form`).

A page draws its errors beside its fields by name (`errors`, as `pages.read` returns them) with the
macros of templates/admin/_forms.html; `pages.show_refusal` adds the service's.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.models import Role
from app.pages import REQUIRED, Form, Longest, OneOf, Ticked

# Labels for roles wherever a person picks or reads one (the stored values stay English codes).
ROLE_LABELS = {
    Role.SURVEYOR: _l("Surveyor"),
    Role.VERIFIER: _l("Verifier"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.BUREAU_ADMIN: _l("Bureau admin"),
    Role.ADMIN: _l("System administrator"),
}

# The pages' labels for the fields (the same words the forms show above each input).
LABELS = {
    "username": _l("Username"),
    "password": _l("Password"),
    "current_password": _l("Current password"),
    "new_password": _l("New password"),
    "confirm": _l("New password again"),
    "display_name": _l("Display name"),
    "role": _l("Role"),
    "organization": _l("Organization"),
    "email": _l("E-mail"),
    "active": _l("Active (may sign in)"),
}

# A light shape check only: whether mail arrives is the address owner's business. The API's schema
# checks the same shape (marshmallow's Email); email_validator is not a dependency.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailShape(ma.validate.Validator):
    def __call__(self, value: Any) -> Any:
        if value is not None and not EMAIL_SHAPE.match(value):
            raise ma.ValidationError(_("Not a valid e-mail address."))
        return value


def _text(characters: int) -> ma.fields.String:
    return ma.fields.String(
        required=True, validate=Longest(characters), error_messages={"required": REQUIRED}
    )


def _choice() -> ma.fields.String:
    return ma.fields.String(required=True, validate=OneOf(), error_messages={"required": REQUIRED})


def _email() -> ma.fields.String:
    return ma.fields.String(load_default=None, validate=[Longest(254), EmailShape()])


class SignInForm(ma.Schema):
    username = _text(80)
    password = _text(256)


class PasswordChangeForm(ma.Schema):
    current_password = _text(256)
    new_password = _text(256)
    confirm = ma.fields.String(required=True, error_messages={"required": REQUIRED})

    @ma.validates_schema(skip_on_field_errors=False)
    def _same_twice(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "confirm" in data and data["confirm"] != data.get("new_password"):
            raise ma.ValidationError(_("The two new passwords differ."), "confirm")


class SignOutElsewhereForm(ma.Schema):
    current_password = _text(256)


class UserCreateForm(Form):
    username = _text(80)
    display_name = _text(120)
    password = _text(256)
    role = _choice()
    organization = _choice()
    email = _email()


class UserEditForm(Form):
    display_name = _text(120)
    email = _email()
    role = _choice()
    active = Ticked(load_default=False)
    password = ma.fields.String(load_default=None, validate=Longest(256))
