"""Pages of the species domain (browser UI): the species lists, read-only.

Lists change only through the data files in species_lists/ and `flask species sync`, which keeps
their history (added/removed dates) so a list's membership on any past date can be shown.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from app.accounts.auth import roles_required
from app.accounts.models import Role
from app.errors import NotFound, ServiceError
from app.extensions import db
from app.species import services
from app.species.models import ListLevel

bp = Blueprint("species", __name__)

ADMINS = (Role.BUREAU_ADMIN, Role.ADMIN)


def level_labels() -> dict[ListLevel, str]:
    return {
        ListLevel.NATIONAL: _("national"),
        ListLevel.PROVINCIAL: _("provincial"),
        ListLevel.DISTRICT: _("district"),
    }


def _day_argument(name: str) -> date | None:
    """A YYYY-MM-DD query argument; a malformed one is a 400 that names it."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = _("use a date such as 2024-05-01")
        raise ServiceError(
            _("Invalid value for %(field)s: %(message)s", field=name, message=message), {name: [message]}
        ) from None


@bp.route("/admin/species-lists")
@login_required
@roles_required(*ADMINS)
def lists() -> str:
    rows = services.list_species_lists()
    return render_template(
        "admin/species_lists.html", rows=rows, levels=level_labels(), title=_("Species lists")
    )


@bp.route("/admin/species-lists/<code>")
@login_required
@roles_required(*ADMINS)
def list_detail(code: str) -> str:
    species_list = services.find_list(code)
    if species_list is None:
        raise NotFound(_("No species list has the code %(code)s.", code=code))
    on = _day_argument("on")
    members = db.session.scalars(services.members_on(species_list, on)).all()
    return render_template(
        "admin/species_list.html",
        species_list=species_list,
        members=members,
        on=on,
        levels=level_labels(),
        title=species_list.short_name or species_list.name,
    )
