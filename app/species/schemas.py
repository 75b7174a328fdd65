from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload

from app.api import ID_RANGE, PageArgs
from app.pages import FormFile
from app.species.models import CensusCategory, Origin, SpeciesGroup


class SpeciesQueryArgs(PageArgs):
    q = ma.fields.String(
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "Chinese name, alias, pinyin or initials (fsl), scientific name or old synonym"
        },
    )
    list = ma.fields.String(
        validate=ma.validate.Length(max=64), metadata={"description": "species list code"}
    )
    group = ma.fields.Enum(SpeciesGroup, by_value=True)
    include_retired = ma.fields.Boolean(load_default=False)


class MembershipSchema(ma.Schema):
    code = ma.fields.Function(lambda m: m.species_list.code)
    name = ma.fields.Function(lambda m: m.species_list.short_name or m.species_list.name)
    row = ma.fields.Integer()
    name_as_listed = ma.fields.String()
    status = ma.fields.String()
    verified = ma.fields.Boolean(attribute="is_verified")


class SpeciesBriefSchema(ma.Schema):
    id = ma.fields.Integer()
    key = ma.fields.String()
    name_zh = ma.fields.String()
    name_sci = ma.fields.String()
    group = ma.fields.Enum(SpeciesGroup, by_value=True)


class SpeciesSchema(SpeciesBriefSchema):
    authority = ma.fields.String(allow_none=True)
    aliases = ma.fields.List(ma.fields.String(), attribute="all_aliases")
    synonyms = ma.fields.List(ma.fields.String(), attribute="all_synonyms")
    names_en = ma.fields.List(ma.fields.String(), attribute="all_names_en")
    bureaus = ma.fields.List(ma.fields.String())
    census_categories = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "ag_plant, ag_pest, ag_aquatic (agriculture census); fg_* (林草 census)"},
    )
    origin = ma.fields.Enum(Origin, by_value=True)
    metrics = ma.fields.List(ma.fields.String())
    flag = ma.fields.String(allow_none=True)
    retired_on = ma.fields.Date(allow_none=True)
    lists = ma.fields.Method("_lists")

    def _lists(self, species: object) -> list[dict[str, object]]:
        current = [m for m in species.memberships if m.removed_on is None]  # type: ignore[attr-defined]
        return MembershipSchema(many=True).dump(sorted(current, key=lambda m: m.species_list.code))


class SpeciesDetailSchema(SpeciesSchema):
    pinyin = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        attribute="all_pinyin",
        metadata={"description": "readings of polyphonic names, the files' and the local ones"},
    )
    local = ma.fields.Method("_local", metadata={"description": "the edits kept in the app"})
    severity = ma.fields.Dict()
    follow_up_days = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Integer()))
    next_spring_check = ma.fields.Boolean()

    def _local(self, species: object) -> dict[str, object]:
        return {
            "aliases": species.local_aliases,  # type: ignore[attr-defined]
            "synonyms": species.local_synonyms,  # type: ignore[attr-defined]
            "names_en": species.local_names_en,  # type: ignore[attr-defined]
            "pinyin": species.local_pinyin,  # type: ignore[attr-defined]
            "bureaus": species.local_bureaus,  # type: ignore[attr-defined]
        }


class SpeciesListSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    short_name = ma.fields.String(allow_none=True)
    level = ma.fields.String()
    issuer = ma.fields.String()
    announcement = ma.fields.String(allow_none=True)
    published_on = ma.fields.Date(allow_none=True)
    in_force_on = ma.fields.Date(allow_none=True)
    source = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    origin = ma.fields.Enum(Origin, by_value=True)
    bureau = ma.fields.String(allow_none=True)
    census_categories = ma.fields.List(
        ma.fields.String(), metadata={"description": "the census categories the list reports (fg_* for 林草)"}
    )
    species_count = ma.fields.Integer()


class MembersQueryArgs(PageArgs):
    on = ma.fields.Date(metadata={"description": "membership as it stood on this date (default: today)"})


class ListMemberSchema(ma.Schema):
    id = ma.fields.Integer()
    row = ma.fields.Integer()
    name_as_listed = ma.fields.String()
    status = ma.fields.String()
    verified = ma.fields.Boolean(attribute="is_verified")
    confirmed_at = ma.fields.DateTime(allow_none=True)
    confirmation_note = ma.fields.String(allow_none=True)
    added_on = ma.fields.Date(allow_none=True)
    removed_on = ma.fields.Date(allow_none=True)
    species = ma.fields.Nested(SpeciesBriefSchema)


class HabitatSchema(ma.Schema):
    code = ma.fields.String()
    level = ma.fields.Integer(metadata={"description": "1: 三调 land class; 2: place type"})
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    class_code = ma.fields.Function(
        lambda h: h.parent.code if h.parent else None, metadata={"description": "level-1 class of a place"}
    )
    provisional = ma.fields.Boolean()


# ---------------------------------------------------------------------------------------------
# Local edits (kept in the app, never overwritten by `flask species sync`)


def _names(limit: int, description: str) -> ma.fields.List[str]:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=limit)),
        validate=ma.validate.Length(max=50),
        metadata={"description": description},
    )


def _pinyin() -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
        values=ma.fields.String(validate=ma.validate.Length(min=1, max=300)),
        validate=ma.validate.Length(max=50),
        metadata={"description": 'readings of polyphonic names, {"长芒苋": "chang mang xian"}'},
    )


class SpeciesLocalArgs(ma.Schema):
    aliases = _names(100, "local Chinese aliases (the files' aliases stay beside them)")
    synonyms = _names(200, "local old scientific names")
    names_en = _names(100, "local English common names")
    pinyin = _pinyin()
    bureaus = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        allow_none=True,
        validate=ma.validate.Length(max=10),
        metadata={"description": "bureau assignment kept in the app; null: the files' bureaus"},
    )


class SpeciesCreateArgs(ma.Schema):
    name_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    name_sci = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    like = ma.fields.Integer(
        required=True,
        validate=ID_RANGE,  # an id beyond the database's integer is a 422, not a failed query
        metadata={"description": "id of a similar species: metrics, severity and follow-ups are copied"},
    )
    group = ma.fields.Enum(SpeciesGroup, by_value=True, metadata={"description": "default: like's group"})
    bureaus = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=40)))
    census_categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([c.value for c in CensusCategory]))
    )
    aliases = _names(100, "Chinese aliases")
    synonyms = _names(200, "old scientific names")
    names_en = _names(100, "English common names")
    pinyin = _pinyin()


def _categories_field(**kwargs: Any) -> ma.fields.List[Any]:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=20)),
        validate=ma.validate.Length(max=len(CensusCategory)),
        metadata={
            "description": "census categories the list reports: ag_plant, ag_pest, ag_aquatic (agriculture); "
            "fg_plant, fg_pest, fg_animal (林草); a bureau's list only its own census's"
        },
        **kwargs,
    )


class ListCreateArgs(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=64))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    short_name = ma.fields.String(validate=ma.validate.Length(max=100))
    bureau = ma.fields.String(
        validate=ma.validate.Length(max=40), metadata={"description": "default: the caller's bureau"}
    )
    published_on = ma.fields.Date(allow_none=True)
    note = ma.fields.String(validate=ma.validate.Length(max=2000))
    census_categories = _categories_field()


class ListUpdateArgs(ma.Schema):
    census_categories = _categories_field(required=True)


class MemberCreateArgs(ma.Schema):
    species_id = ma.fields.Integer(required=True)
    row = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100000))
    name_as_listed = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    added_on = ma.fields.Date(metadata={"description": "default: today"})
    removed_on = ma.fields.Date(allow_none=True)


class MemberUpdateArgs(ma.Schema):
    added_on = ma.fields.Date(allow_none=True)
    removed_on = ma.fields.Date(allow_none=True, metadata={"description": "set to remove the species"})
    row = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100000))
    name_as_listed = ma.fields.String(validate=ma.validate.Length(min=1, max=100))


class ConfirmArgs(ma.Schema):
    note = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000),
        metadata={"description": "what the row was checked against (e.g. the official page, on a date)"},
    )


class ListChangeSchema(ma.Schema):
    on = ma.fields.Date()
    change = ma.fields.String(metadata={"description": "added or removed"})
    membership = ma.fields.Nested(ListMemberSchema)


class ListImportArgs(ma.Schema):
    file = Upload(required=True, metadata={"description": ".xlsx or .csv: one name per row (名称 column)"})


class ListImportQuery(ma.Schema):
    apply = ma.fields.Boolean(
        load_default=False, metadata={"description": "add the matched rows (default: report only)"}
    )
    added_on = ma.fields.Date(
        metadata={"description": "the day the added rows join the list (default today)"}
    )


class ListImportRowSchema(ma.Schema):
    row = ma.fields.Integer()
    name = ma.fields.String()
    status = ma.fields.String(
        metadata={"description": "matched, added, on_list, duplicate, ambiguous, unknown"}
    )
    species = ma.fields.Nested(SpeciesBriefSchema, allow_none=True)
    candidates = ma.fields.List(ma.fields.Nested(SpeciesBriefSchema))


class ListImportReportSchema(ma.Schema):
    applied = ma.fields.Boolean()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    rows = ma.fields.List(ma.fields.Nested(ListImportRowSchema))


class DistrictListForm(ma.Schema):
    """The species-lists page's "new district list" form (a page's input, read by app/pages.py)."""

    code = ma.fields.String(load_default="")
    name = ma.fields.String(required=True, error_messages={"required": _l("give the list a name")})
    short_name = ma.fields.String(load_default="")
    bureau = ma.fields.String(load_default=None)
    note = ma.fields.String(load_default="")

    @ma.post_load
    def _strip_name(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return data | {"name": data["name"].strip()}


# The species admin pages' other forms (a page's input, read by app/pages.py): blank inputs are left out,
# so a text left empty loads as its default.

_DAY_ERRORS = {"invalid": _l("use a date such as 2024-05-01")}


class ListDayArgs(ma.Schema):
    """A district list's page: the list `on` a past day."""

    on = ma.fields.Date(error_messages=_DAY_ERRORS)


class ListCategoriesForm(ma.Schema):
    """The census categories a district list reports (the boxes ticked; none ticked: none)."""

    census_categories = ma.fields.List(ma.fields.String(), load_default=list)


class MemberAddForm(ma.Schema):
    """A species added to a district list by a name people type, from a day (default: today)."""

    name = ma.fields.String(load_default="")
    added_on = ma.fields.Date(load_default=None, error_messages=_DAY_ERRORS)


class MemberRemoveForm(ma.Schema):
    """A species taken off a district list from a day (default: today)."""

    removed_on = ma.fields.Date(load_default=None, error_messages=_DAY_ERRORS)


class MemberConfirmForm(ma.Schema):
    """A row confirmed against the official text, with a note of what that was."""

    note = ma.fields.String(load_default="")


class NameImportForm(ma.Schema):
    """A spreadsheet of names: previewed, or with "add" ticked (apply=1) added to the list."""

    file = FormFile(
        required=True,
        error_messages={
            "required": _l("Choose a spreadsheet of names."),
            "invalid": _l("Choose a spreadsheet of names."),
        },
    )
    apply = ma.fields.Boolean(
        load_default=False, error_messages={"invalid": _l("tick the box or leave it empty")}
    )
    added_on = ma.fields.Date(load_default=None, error_messages=_DAY_ERRORS)


class SpeciesEditForm(ma.Schema):
    """A species' names kept in the app (one per line; readings as 名称 = pin yin) and its bureaus
    (`bureaus_shown`: the form showed the boxes, so none ticked means none)."""

    aliases = ma.fields.String(load_default="")
    synonyms = ma.fields.String(load_default="")
    names_en = ma.fields.String(load_default="")
    pinyin = ma.fields.String(load_default="")
    bureaus_shown = ma.fields.String(load_default="")
    bureaus = ma.fields.List(ma.fields.String(), load_default=list)


class SpeciesNewForm(ma.Schema):
    """A species found locally: its names, and the similar species its survey defaults come from."""

    name_zh = ma.fields.String(required=True, error_messages={"required": _l("this is required")})
    name_sci = ma.fields.String(required=True, error_messages={"required": _l("this is required")})
    like = ma.fields.String(load_default="")
    aliases = ma.fields.String(load_default="")
    names_en = ma.fields.String(load_default="")
    bureaus = ma.fields.List(ma.fields.String(), load_default=list)

    @ma.post_load
    def _strip_names(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return data | {"name_zh": data["name_zh"].strip(), "name_sci": data["name_sci"].strip()}
