"""How browser pages read their input: a marshmallow schema through webargs, for the query string of a
list's filters and for a posted form, the same way the API reads its arguments.

- `read(schema, location=...)` → (arguments, field errors): for a page that shows the errors beside its
  fields (and answers 422), as the records list does with its filters.
- `load(schema, location=...)` → arguments, or InvalidInput naming the fields (a 422 page from
  app/errors.py, or the message the view turns it into); `@use_args(schema, location=...)` does the
  same before the view and gives it the arguments as its first parameter.

Browsers send every input of a form, blank or not: a blank (or all-spaces) value means "not given" and
is left out before the schema loads (`location="form_with_blanks"` keeps them, for a form where clearing
an input means clearing the value: the record edit form). `location="form_with_files"` reads an upload
form: its inputs and its files (a `FormFile` field: a file chosen, with a name). Unknown names (`page`,
the form's `csrf_token` …) are ignored.
CSRF: every posted form is checked before any view runs (app/accounts/auth.py), so nothing here can
skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, Literal, TypeVar

import marshmallow as ma
from flask import Request, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import FileStorage, MultiDict

from app.errors import FieldErrors, InvalidInput, ServiceError
from app.messages import invalid_fields_message, translated
from app.security import is_local_path

F = TypeVar("F", bound=Callable[..., Any])
Location = Literal["query", "form", "form_with_blanks", "form_with_files"]
LOCATIONS = ("query", "form", "form_with_blanks", "form_with_files")


def _given(values: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(key, value) for key, value in values.items(multi=True) if value.strip()])


class PageInputInvalid(InvalidInput):
    """InvalidInput from a page's input; `valid` holds what did load (the other filters)."""

    def __init__(self, message: str, errors: FieldErrors, valid: dict[str, Any]):
        super().__init__(message, errors)
        self.valid = valid


class PageParser(FlaskParser):
    """webargs' Flask parser, with blank inputs left out and errors raised as InvalidInput."""

    def load_querystring(self, req: Request, schema: ma.Schema) -> Any:
        return self._makeproxy(_given(req.args), schema)

    __location_map__ = dict(  # noqa: RUF012 - webargs' own class attribute, extended
        FlaskParser.__location_map__,
        form_with_blanks="load_form_with_blanks",
        form_with_files="load_form_with_files",
    )

    def load_form(self, req: Request, schema: ma.Schema) -> Any:
        return self._makeproxy(_given(req.form), schema)

    def load_form_with_blanks(self, req: Request, schema: ma.Schema) -> Any:
        return self._makeproxy(req.form, schema)

    def load_form_with_files(self, req: Request, schema: ma.Schema) -> Any:
        chosen = [(name, upload) for name, upload in req.files.items(multi=True) if upload.filename]
        return self._makeproxy(MultiDict([*_given(req.form).items(multi=True), *chosen]), schema)

    def handle_error(  # type: ignore[override]
        self, error: ma.ValidationError, req: Request, schema: ma.Schema, **kwargs: Any
    ) -> None:
        errors = _field_errors(error)
        valid = error.valid_data if isinstance(error.valid_data, dict) else {}
        raise PageInputInvalid(describe(errors), errors, valid)


parser = PageParser()


def describe(errors: FieldErrors) -> str:
    """One sentence for a page's message: the field and what is wrong with it when one is at fault
    ("Invalid value for 语言: …"), else the fields at fault by their labels."""
    if len(errors) == 1 and len(next(iter(errors.values()))) == 1:
        [(name, [message])] = errors.items()
        return InvalidInput.field(name, message).message
    return invalid_fields_message(errors)


def _field_errors(error: ma.ValidationError) -> FieldErrors:
    messages = error.normalized_messages()  # type: ignore[no-untyped-call]
    # webargs nests the messages under the location ({"query": {"status": [...]}}).
    if len(messages) == 1 and next(iter(messages)) in LOCATIONS:
        messages = next(iter(messages.values()))
    return {
        name: [translated(str(m)) for m in (found if isinstance(found, list) else [found])]
        for name, found in messages.items()
    }


def _schema(schema: ma.Schema | type[ma.Schema]) -> ma.Schema:
    return schema() if isinstance(schema, type) else schema


def read(
    schema: ma.Schema | type[ma.Schema], *, location: Location = "query"
) -> tuple[dict[str, Any], FieldErrors]:
    """The page's input loaded by `schema`, and the errors by field ({} when none; with errors, the
    arguments are those that did load)."""
    try:
        return parser.parse(_schema(schema), request, location=location, unknown=ma.EXCLUDE), {}
    except PageInputInvalid as exc:
        return exc.valid, exc.errors


def load(schema: ma.Schema | type[ma.Schema], *, location: Location = "query") -> dict[str, Any]:
    """The page's input loaded by `schema`; raises InvalidInput naming the fields at fault."""
    return parser.parse(_schema(schema), request, location=location, unknown=ma.EXCLUDE)


def use_args(schema: ma.Schema | type[ma.Schema], *, location: Location = "query") -> Callable[[F], F]:
    """Give the view the page's input loaded by `schema` as its first argument (InvalidInput when bad)."""
    loaded = _schema(schema)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(parser.parse(loaded, request, location=location, unknown=ma.EXCLUDE), *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


class FormFile(ma.fields.Field[FileStorage]):
    """A file sent with a form (`location="form_with_files"`): the werkzeug FileStorage, with its name.
    A form sent without a file leaves the field out (`required` names it)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage) or not value.filename:
            raise self.make_error("invalid")
        return value

    default_error_messages = {"invalid": _l("choose a file")}  # noqa: RUF012 - marshmallow's own attribute


def local_path(value: str) -> bool:
    """Validator of a page to go back to (`next`): a page of this site, never another site's, so that a
    link cannot bounce people elsewhere."""
    if not is_local_path(value):
        raise ma.ValidationError(str(_l("not a page of this site")))
    return True


# ---------------------------------------------------------------------------------------------
# Pieces of a page's form schema: a field the page cannot do without, a column's width, the choices
# the page offered (they depend on who asks, so they are set per request), a checkbox.

REQUIRED = _l("This field is required.")


class Longest(ma.validate.Validator):
    """At most `characters` long (a column's width); said in the reader's language when it fails."""

    def __init__(self, characters: int):
        self.characters = characters

    def __call__(self, value: Any) -> Any:
        if value is not None and len(value) > self.characters:
            raise ma.ValidationError(
                _("Field cannot be longer than %(max)d characters.", max=self.characters)
            )
        return value


class OneOf(ma.validate.Validator):
    """One of the choices the page offered; `Form(name=[...])` sets them for a request."""

    def __init__(self, choices: Collection[str] = ()):
        self.choices = frozenset(choices)

    def __call__(self, value: Any) -> Any:
        if value not in self.choices:
            raise ma.ValidationError(_("Not a valid choice."))
        return value


class Ticked(ma.fields.Field[bool]):
    """A checkbox: ticked when sent with any value but "false" (a browser sends none when unticked)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        return value not in ("", "false")


class Form(ma.Schema):
    """A page's form whose choices (its fields' `OneOf` validators) are those offered to who asks:
    `Form(role=[...], organization=[...])`; `partial` names fields the page may leave out."""

    def __init__(self, *, partial: Collection[str] = (), **choices: Collection[str]):
        super().__init__(partial=tuple(partial))
        for name, allowed in choices.items():
            field = self.fields[name]
            field.validators = [type(v)(allowed) if isinstance(v, OneOf) else v for v in field.validators]


def show_refusal(
    errors: FieldErrors,
    error: ServiceError,
    fields: Collection[str],
    names: dict[str, str] | None = None,
) -> FieldErrors:
    """A service's refusal shown on the page that sent the form: its messages beside the form's `fields`
    (`names`: service field → the page's input where they differ), added to `errors`; when it names no
    field of the form, its message goes above the form (under "")."""
    placed = False
    for name, messages in error.errors.items():
        field = (names or {}).get(name, name)
        if field in fields:
            errors[field] = [*errors.get(field, []), *messages]
            placed = True
    if not placed:
        errors[""] = [*errors.get("", []), error.message]
    return errors
