from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from app.accounts.models import Role
from app.errors import ServiceError

# Labels for roles wherever a person picks or reads one (the stored values stay English codes).
ROLE_LABELS = {
    Role.SURVEYOR: _l("Surveyor"),
    Role.VERIFIER: _l("Verifier"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.BUREAU_ADMIN: _l("Bureau admin"),
    Role.ADMIN: _l("System administrator"),
}

# A light shape check only: whether mail arrives is the address owner's business. The API's schema
# checks the same shape (marshmallow's Email); email_validator is not a dependency.
_EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Not a valid e-mail address."))


class SignInForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))],
    )


class UserCreateForm(FlaskForm):
    """The rules that need the database (username shape, taken names, password length, who may grant
    which role) are the service's; this form only checks that each field came and fits its column."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    organization = SelectField(_l("Organization"), validators=[DataRequired()])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254), _EMAIL])


class UserEditForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254), _EMAIL])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    active = BooleanField(_l("Active (may sign in)"))
    password = PasswordField(
        _l("New password"),
        validators=[Optional(), Length(max=256)],
        description=_l("Leave empty to keep the current password."),
    )


def show_refusal(form: FlaskForm, error: ServiceError, names: dict[str, str] | None = None) -> None:
    """Put a service's field messages beside the form's fields (`names`: service field → form field
    where they differ); a message naming no field of the form goes above it."""
    placed = False
    for name, messages in error.errors.items():
        field = form._fields.get((names or {}).get(name, name))
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


def has_errors(form: FlaskForm) -> bool:
    return bool(form.form_errors) or any(field.errors for field in form)
