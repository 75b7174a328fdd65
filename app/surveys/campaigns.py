"""Survey campaigns (调查任务): planning a bureau's 普查, 监测 or 专项调查 season (docs/surveys.md).

A campaign is a bureau's: a date window, the species it looks for, and the units (townships, villages)
it must cover, each with an assignee and a due date. The supervisors and bureau admins of the bureau (an
admin: of any bureau) plan and change it (app/policy.py, CAMPAIGN_MANAGERS); every signed-in user may
read it (one shared census, docs/contract.md §1).

The rules a client can break are checked here and answered as InvalidInput naming the field, with the
index of the unit at fault (`units.3.assignee_id`):

- the window: `ends_on` on or after `starts_on`;
- species: known to the registry (`species_ids.2`);
- units: a township of this district (a code of another county is refused by app.district.codes), a
  village of that township, each unit once;
- assignees: active users of the campaign's bureau or of a unit under it (docs/contract.md §1);
- due dates: within the window (decided: a due date after `ends_on` is refused, since the campaign must
  be covered by its end; move `ends_on` to give a unit longer).

Services never commit (docs/architecture.md, the unit of work); the audit listener writes who changed
what when the edge commits.

Reading campaigns (the lists, a campaign's units, who takes part) is app/surveys/campaign_queries.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import Organization, User
from app.accounts.organizations import unit_ids
from app.clock import local_zone
from app.db import utcnow
from app.district.models import Township, Village
from app.district.services import parse_unit_code
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from app.extensions import db
from app.messages import invalid_fields_message
from app.species.models import Species
from app.surveys.campaign_queries import bureau_by_code
from app.surveys.models import Campaign, Route, SurveyUnit

# ---------------------------------------------------------------------------------------------------
# Checks


def _check_manager(actor: User, organization: Organization) -> None:
    if not policy.manages_campaigns(actor):
        raise PermissionDenied(_("Only supervisors and bureau admins plan survey campaigns."))
    if not policy.may_manage_campaigns_of(actor, organization.id):
        raise PermissionDenied(_("This campaign belongs to another bureau."))


def _default_bureau(actor: User) -> Organization:
    """The caller's bureau: their own organization, or the bureau a unit's staff report to."""
    organization = actor.organization
    if not organization.is_bureau and organization.parent is not None:
        return organization.parent
    return organization


def _resolve_bureau(actor: User, code: str | None) -> Organization:
    bureau = _default_bureau(actor) if code is None else bureau_by_code(code)
    if not bureau.is_bureau:
        raise InvalidInput.field(
            "bureau", _("%(name)s is not a bureau; a campaign is a bureau's.", name=bureau.name)
        )
    return bureau


def _species(ids: Sequence[int], errors: FieldErrors) -> list[Species]:
    wanted = list(dict.fromkeys(ids))  # the same species twice is the same target
    found = {s.id: s for s in db.session.scalars(sa.select(Species).where(Species.id.in_(wanted)))}
    for index, species_id in enumerate(ids):
        if species_id not in found:
            errors[f"species_ids.{index}"] = [_("No species with id %(id)s.", id=species_id)]
    return [found[i] for i in wanted if i in found]


def _window_errors(starts_on: date, ends_on: date, errors: FieldErrors) -> bool:
    if ends_on < starts_on:
        errors["ends_on"] = [_("is before the start (%(day)s).", day=starts_on.isoformat())]
        return False
    return True


class _Places:
    """The district's townships and villages by code, read once for a whole list of units."""

    def __init__(self) -> None:
        self.townships = {t.code: t for t in db.session.scalars(sa.select(Township))}
        self._villages: dict[str, Village] | None = None

    def village(self, code: str) -> Village | None:
        if self._villages is None:
            self._villages = {v.code: v for v in db.session.scalars(sa.select(Village))}
        return self._villages.get(code)


def _place(
    places: _Places, raw: dict[str, Any], prefix: str, errors: FieldErrors
) -> tuple[Township, Village | None] | None:
    """The township (and village) a unit names, or None with the problem added to `errors`."""
    township: Township | None = None
    village: Village | None = None
    township_text = (raw.get("township_code") or "").strip()
    village_text = (raw.get("village_code") or "").strip()
    if township_text:
        try:
            code = parse_unit_code(township_text, f"{prefix}.township_code")
        except InvalidInput as exc:
            errors.update(exc.errors)
            return None
        if code is None or code.village is not None:
            errors[f"{prefix}.township_code"] = [_("give the township's 9-digit code.")]
            return None
        township = places.townships.get(code.township)
        if township is None:
            errors[f"{prefix}.township_code"] = [
                _("No township of this district has the code %(code)s.", code=code.township)
            ]
            return None
    if village_text:
        try:
            code = parse_unit_code(village_text, f"{prefix}.village_code")
        except InvalidInput as exc:
            errors.update(exc.errors)
            return None
        if code is None or code.village is None:
            errors[f"{prefix}.village_code"] = [_("give the village's 12-digit code.")]
            return None
        village = places.village(code.village)
        if village is None:
            errors[f"{prefix}.village_code"] = [
                _("No village of this district has the code %(code)s.", code=code.village)
            ]
            return None
        if township is None:
            township = places.townships.get(village.township.code) or village.township
        elif village.township_id != township.id:
            errors[f"{prefix}.village_code"] = [
                _("%(village)s is not in %(township)s.", village=village.name, township=township.name_zh)
            ]
            return None
    if township is None:
        errors[f"{prefix}.township_code"] = [_("name a township or a village")]
        return None
    return township, village


def _assignee(
    user_id: int | None, bureau: Organization, field: str, errors: FieldErrors, members: frozenset[int]
) -> User | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        errors[field] = [_("No user with id %(id)s.", id=user_id)]
    elif not user.active:
        errors[field] = [_("%(name)s is deactivated.", name=user.display_name)]
    elif user.organization_id not in members:
        errors[field] = [
            _(
                "%(name)s works for neither %(bureau)s nor a unit under it.",
                name=user.display_name,
                bureau=bureau.name,
            )
        ]
    else:
        return user
    return None


def _due_error(due_on: date | None, starts_on: date, ends_on: date) -> str | None:
    if due_on is None or starts_on <= due_on <= ends_on:
        return None
    return _(
        "must be within the campaign's window (%(start)s to %(end)s).",
        start=starts_on.isoformat(),
        end=ends_on.isoformat(),
    )


def _checked_units(
    raw_units: Sequence[dict[str, Any]],
    bureau: Organization,
    starts_on: date,
    ends_on: date,
    errors: FieldErrors,
    kept: dict[str, SurveyUnit] | None = None,
) -> list[dict[str, Any]]:
    """The units as rows to write ({unit_code, township, village, assignee, due_on}); problems are
    added to `errors` under `units.<index>.<field>`.

    `kept`: the campaign's stored units by code, when its bureau stays. A unit kept with the assignee it
    has is not judged on its assignee again (deactivated or moved since: the plan is still changed, and
    read back and sent as it was, without reassigning them first); a new or changed assignee is."""
    places = _Places()
    members = unit_ids(bureau.id)
    seen: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_units):
        prefix = f"units.{index}"
        found = _place(places, raw, prefix, errors)
        stored = None
        if found is not None and kept:
            stored = kept.get(found[1].code if found[1] else found[0].code)
        if (
            stored is not None
            and stored.assignee is not None
            and stored.assignee_id == raw.get("assignee_id")
        ):
            assignee: User | None = stored.assignee
        else:
            assignee = _assignee(raw.get("assignee_id"), bureau, f"{prefix}.assignee_id", errors, members)
        due_problem = _due_error(raw.get("due_on"), starts_on, ends_on)
        if due_problem:
            errors[f"{prefix}.due_on"] = [due_problem]
        if found is None:
            continue
        township, village = found
        code = village.code if village else township.code
        if code in seen:
            field = f"{prefix}.village_code" if village else f"{prefix}.township_code"
            errors[field] = [_("is listed twice (see unit %(n)s).", n=seen[code] + 1)]
            continue
        seen[code] = index
        rows.append(
            {
                "unit_code": code,
                "township": township,
                "village": village,
                "assignee": assignee,
                "due_on": raw.get("due_on"),
            }
        )
    return rows


def _raise(errors: FieldErrors) -> None:
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)


# ---------------------------------------------------------------------------------------------------
# Two planners at once (docs/surveys.md, Campaigns: "Two planners at once")


def check_manager(actor: User, campaign: Campaign) -> None:
    """PermissionDenied unless `actor` plans this campaign's bureau's campaigns."""
    _check_manager(actor, campaign.organization)


def version_tag(campaign: Campaign) -> str:
    """The campaign as read, for an ETag (unquoted): its id and `updated_at`, which every change of the
    campaign or of its units moves on (`_touch`)."""
    return f"campaign-{campaign.id}-{campaign.updated_at.astimezone(UTC):%Y%m%dT%H%M%S%f}"


def _touch(campaign: Campaign) -> None:
    """Move `updated_at` on: a change of the units or species changes the campaign (its ETag), though no
    column of its own row changed. Always later than the stored value, even on a clock that stands still."""
    now = utcnow()
    if campaign.updated_at is not None and now <= campaign.updated_at:
        now = campaign.updated_at + timedelta(microseconds=1)
    campaign.updated_at = now


def _changed(campaign: Campaign) -> bool:
    """Whether the session holds a net change of the campaign, its species or its units."""
    if db.session.is_modified(campaign):
        return True
    return any(unit in db.session.new or db.session.is_modified(unit) for unit in campaign.units)


def hold_unchanged(campaign: Campaign, seen: datetime, *, field: str) -> None:
    """Refuse a change made from an old read: the campaign must still be as the client read it (`seen`,
    its `updated_at` then). The check is one conditional UPDATE of the row (to the same value), so it
    also holds the row until the commit: of two planners saving at once from the same read, the second
    waits for the first and is then refused if the first changed anything (which moves `updated_at` on,
    `_touch`). Raises PreconditionFailed (412) when `field` is the If-Match header, Conflict (409) naming
    `field` otherwise; nothing is written then."""
    result = db.session.execute(
        sa.update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.updated_at == seen)
        .values(updated_at=Campaign.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        refuse_stale(campaign, field=field)


def refuse_stale(campaign: Campaign, *, field: str) -> None:
    """Raise the refusal of a change made from an old read of the campaign, saying when it changed."""
    current = db.session.scalar(sa.select(Campaign.updated_at).where(Campaign.id == campaign.id))
    when = current.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S") if current else ""
    message = _(
        "Someone else changed this campaign (at %(when)s) after you read it; nothing of your change "
        "was saved. Read the campaign again, then make your change.",
        when=when,
    )
    error = PreconditionFailed if field == "If-Match" else Conflict
    reason = _("no longer the campaign as it is: it was changed at %(when)s", when=when)
    raise error(message, {field: [reason]})


# ---------------------------------------------------------------------------------------------------
# Writing


def create_campaign(*, actor: User, args: dict[str, Any]) -> Campaign:
    """A new campaign with its target species and units. Raises PermissionDenied (not a planner of
    that bureau) and InvalidInput naming every field at fault."""
    if not policy.manages_campaigns(actor):
        raise PermissionDenied(_("Only supervisors and bureau admins plan survey campaigns."))
    bureau = _resolve_bureau(actor, args.get("bureau"))
    _check_manager(actor, bureau)
    errors: FieldErrors = {}
    name = args["name"].strip()
    if not name:
        errors["name"] = [_("give the campaign a name")]
    species = _species(args["species_ids"], errors)
    window_ok = _window_errors(args["starts_on"], args["ends_on"], errors)
    rows = _checked_units(
        args.get("units") or [],
        bureau,
        args["starts_on"],
        args["ends_on"] if window_ok else date.max,
        errors,
    )
    _raise(errors)
    campaign = Campaign(
        organization=bureau,
        name=name,
        kind=args["kind"],
        starts_on=args["starts_on"],
        ends_on=args["ends_on"],
        notes=args.get("notes"),
        created_by_id=actor.id,
        species=species,
    )
    campaign.units = [SurveyUnit(**row) for row in rows]
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update_campaign(*, actor: User, campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    """Change any of a campaign's fields; `units`, when sent, is the whole new list (units kept by code
    keep their id, their routes and records). Raises PermissionDenied and InvalidInput."""
    _check_manager(actor, campaign.organization)
    errors: FieldErrors = {}
    bureau = campaign.organization
    if "bureau" in changes and changes["bureau"] != bureau.code:
        bureau = _resolve_bureau(actor, changes["bureau"])
        _check_manager(actor, bureau)
    starts_on = changes.get("starts_on", campaign.starts_on)
    ends_on = changes.get("ends_on", campaign.ends_on)
    window_ok = _window_errors(starts_on, ends_on, errors)
    if "name" in changes and not changes["name"].strip():
        errors["name"] = [_("give the campaign a name")]
    species = _species(changes["species_ids"], errors) if "species_ids" in changes else None
    rows: list[dict[str, Any]] | None = None
    if "units" in changes:
        kept = {u.unit_code: u for u in campaign.units} if bureau is campaign.organization else None
        rows = _checked_units(
            changes["units"], bureau, starts_on, ends_on if window_ok else date.max, errors, kept
        )
    elif window_ok:
        _check_kept_units(campaign, bureau, starts_on, ends_on, errors)
    if rows is not None and not errors:
        _check_removals(campaign, {row["unit_code"] for row in rows}, errors)
    _raise(errors)
    campaign.organization = bureau
    campaign.starts_on = starts_on
    campaign.ends_on = ends_on
    if "name" in changes:
        campaign.name = changes["name"].strip()
    for field in ("kind", "notes"):
        if field in changes:
            setattr(campaign, field, changes[field])
    if species is not None:
        campaign.species = species
    if rows is not None:
        _replace_units(campaign, rows)
    if _changed(campaign):
        _touch(campaign)
    db.session.flush()
    return campaign


def _check_kept_units(
    campaign: Campaign, bureau: Organization, starts_on: date, ends_on: date, errors: FieldErrors
) -> None:
    """A new window or bureau, with the units left as they are: each must still fit (the message goes
    on the field that changed, naming the unit)."""
    members = unit_ids(bureau.id)
    for unit in campaign.units:
        label = unit.village.name if unit.village else unit.township.name_zh
        if _due_error(unit.due_on, starts_on, ends_on):
            field = "starts_on" if unit.due_on and unit.due_on < starts_on else "ends_on"
            errors.setdefault(field, []).append(
                _(
                    "%(unit)s is due on %(day)s, outside the new window; change its due date too.",
                    unit=label,
                    day=unit.due_on.isoformat() if unit.due_on else "",
                )
            )
        if unit.assignee is not None and unit.assignee.organization_id not in members:
            errors.setdefault("bureau", []).append(
                _(
                    "%(unit)s is assigned to %(name)s, who does not work for %(bureau)s.",
                    unit=label,
                    name=unit.assignee.display_name,
                    bureau=bureau.name,
                )
            )


def _check_removals(campaign: Campaign, kept_codes: set[str], errors: FieldErrors) -> None:
    """A unit with routes walked in it stays: its routes would lose their unit."""
    gone = [u for u in campaign.units if u.unit_code not in kept_codes and u.id is not None]
    if not gone:
        return
    walked = set(
        db.session.scalars(sa.select(Route.unit_id).where(Route.unit_id.in_([u.id for u in gone])).distinct())
    )
    for unit in gone:
        if unit.id in walked:
            label = unit.village.name if unit.village else unit.township.name_zh
            errors.setdefault("units", []).append(
                _("%(unit)s has routes walked in it and cannot be taken off the campaign.", unit=label)
            )


def _replace_units(campaign: Campaign, rows: list[dict[str, Any]]) -> None:
    existing = {unit.unit_code: unit for unit in campaign.units}
    wanted = {row["unit_code"] for row in rows}
    for code, gone in existing.items():
        if code not in wanted:
            campaign.units.remove(gone)
    for row in rows:
        unit = existing.get(row["unit_code"])
        if unit is None:
            campaign.units.append(SurveyUnit(**row))
            continue
        # The user, not only its id: the answer (and anything else read before the commit) shows the
        # new assignee, not the one the session still holds.
        if unit.assignee is not row["assignee"]:
            unit.assignee = row["assignee"]
        if unit.due_on != row["due_on"]:
            unit.due_on = row["due_on"]


def get_unit(campaign: Campaign, unit_id: int) -> SurveyUnit:
    unit = db.session.get(SurveyUnit, unit_id)
    if unit is None or unit.campaign_id != campaign.id:
        raise NotFound(
            _("Campaign %(campaign)s has no unit with id %(id)s.", campaign=campaign.id, id=unit_id)
        )
    return unit


def update_unit(*, actor: User, unit: SurveyUnit, changes: dict[str, Any]) -> SurveyUnit:
    """Reassign a unit or move its due date (null clears either). Raises PermissionDenied, InvalidInput."""
    campaign = unit.campaign
    _check_manager(actor, campaign.organization)
    errors: FieldErrors = {}
    if not changes:
        errors["_schema"] = [_("Send at least one field to change.")]
    assignee: User | None = unit.assignee
    # The assignee the unit already has is not judged again (deactivated or moved since): only a new one.
    if "assignee_id" in changes and changes["assignee_id"] != unit.assignee_id:
        assignee = _assignee(
            changes["assignee_id"],
            campaign.organization,
            "assignee_id",
            errors,
            unit_ids(campaign.organization_id),
        )
    problem = _due_error(changes.get("due_on"), campaign.starts_on, campaign.ends_on)
    if problem:
        errors["due_on"] = [problem]
    _raise(errors)
    if "assignee_id" in changes:
        unit.assignee = assignee
    if "due_on" in changes:
        unit.due_on = changes["due_on"]
    if db.session.is_modified(unit):
        _touch(campaign)  # a unit's change is the campaign's: its ETag moves on
    db.session.flush()
    return unit
