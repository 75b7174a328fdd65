"""What the phone needs to work without signal.

- `/sw.js`: the service worker, served from the root so its scope is the whole app. Its cache name
  carries a digest of the static files, so a deploy replaces the cached app shell.
- `/app/field-data.json`: species (with every searchable name form), townships and their villages,
  habitats and control methods, so the capture forms open and the species picker searches with no network.
- `/app/signed-out`: the page the worker shows after signing out with no signal, until the sign-out reaches
  the server (docs/architecture.md, "Signing out on a shared phone").
- `/app/session.json`: who is signed in and a fresh CSRF token, asked for before the outbox is sent
  (a page opened from the cache may carry the token of an expired session).
- `/vendor/leaflet/…`: Leaflet from the XStatic-Leaflet wheel (no CDN, nothing copied into the repo).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
import xstatic.pkg.leaflet
from flask import Blueprint, current_app, jsonify, make_response, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app import metrics, units
from app.accounts.organizations import list_owners
from app.clock import CLOCK_SKEW, EARLIEST
from app.control.schemas import ControlOperationCreateArgs
from app.district.models import Township, Village
from app.district.services import get_district, has_boundaries
from app.extensions import db
from app.main.drawing import GEOMAN_FILES
from app.observations.schemas import ObservationCreateArgs
from app.sites.models import Site
from app.species.models import Species, SpeciesName
from app.species.services import (
    census_category_labels,
    district_species_ids,
    list_control_methods,
    list_habitats,
)

# About a kilometre: the phone refuses only points plainly outside the district (see field_data).
OUTSIDE_MARGIN_DEG = 0.01
LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)

bp = Blueprint("offline", __name__, static_folder=str(LEAFLET_DIR), static_url_path="/vendor/leaflet")

# Cached by the service worker when it installs: enough to draw every offline-capable page.
SHELL_FILES = (
    "app.css",
    "icon.svg",
    "js/app.js",
    "js/outbox.js",
    "js/idb.js",  # the IndexedDB helper of the outbox and of a route's points
    "js/saved-state.js",  # what a form says of the item it saved (record, control and plot forms)
    "js/fielddata.js",
    "js/forms.js",
    "js/capture.js",
    "js/record-pickers.js",  # the record form's place and species pickers (capture.js imports it)
    "js/checks.js",
    "js/position.js",
    "js/mapkit.js",
    "js/photos.js",
    "js/control.js",
    "js/map.js",
    "js/drawkit.js",
    "js/campaigns.js",
    "js/route.js",  # walking a route, and the record form's part while one runs (docs/surveys.md)
    "js/route-form.js",
    "js/route-store.js",
    "js/plot.js",
    "js/tiles.js",  # the offline map page lists and deletes saved tiles with no signal (docs/maps.md)
    "js/signed-out.js",  # signing out with no signal: the page shown until the sign-out reaches the server
    "js/offline-page.js",  # the offline page offers the record form only when the phone keeps it
    "js/forget.js",
)


# Leaflet and the images its stylesheet and default marker use (a map drawn offline needs them all).
LEAFLET_FILES = (
    "leaflet.js",
    "leaflet.css",
    "images/marker-icon.png",
    "images/marker-icon-2x.png",
    "images/marker-shadow.png",
    "images/layers.png",
    "images/layers-2x.png",
)


@cache
def _static_digest(static_folder: str) -> str:
    digest = hashlib.sha256(LEAFLET_DIR.joinpath("leaflet.js").read_bytes())
    for name in SHELL_FILES:
        digest.update(Path(static_folder, name).read_bytes())
    return digest.hexdigest()[:12]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sw.js")
def service_worker() -> Response:
    shell = [url_for("static", filename=name) for name in SHELL_FILES]
    shell += [url_for("offline.static", filename=name) for name in LEAFLET_FILES]
    shell += [url_for("geoman.static", filename=name) for name in GEOMAN_FILES]  # the area tool, offline
    shell.append(url_for("offline.offline_page"))
    shell.append(url_for("offline.signed_out_page"))
    body = render_template(
        "offline/sw.js", version=_static_digest(current_app.static_folder or ""), shell=shell
    )
    response = make_response(body)
    response.mimetype = "text/javascript"
    # Browsers check for a new worker on every navigation when it is not cached.
    return _no_store(response)


@bp.route("/manifest.webmanifest")
def manifest() -> Response:
    response = jsonify(
        {
            "name": _("IAS Tracker"),
            "short_name": _("IAS Tracker"),
            "start_url": url_for("main.home"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#f6f7f5",
            "theme_color": "#1f6f43",
            "icons": [
                {"src": url_for("static", filename="icon.svg"), "sizes": "any", "type": "image/svg+xml"}
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/offline")
def offline_page() -> str:
    """Shown by the service worker for a page that was never opened while online. Saved once, when the
    worker installs (on a signed-in page), and shown to whoever uses the phone next: a shared copy,
    without the name of the person it was fetched for."""
    return render_template("offline/offline.html", title=_("No connection"), shared_copy=True)


@bp.route("/app/signed-out")
def signed_out_page() -> str:
    """Shown by the service worker after signing out with no signal, until the sign-out reaches the server
    (docs/architecture.md, "Signing out on a shared phone"). Saved when the worker installs and shown to
    whoever picks the phone up next: drawn as if nobody were signed in."""
    return render_template("offline/signed_out.html", title=_("Signed out on this phone"), nobody_copy=True)


@bp.route("/app/session.json")
def session_info() -> Response:
    if not current_user.is_authenticated:
        return _no_store(make_response(jsonify(signed_in=False), 401))
    return _no_store(
        jsonify(
            signed_in=True, user_id=current_user.id, csrf_token=generate_csrf(), locale=current_user.locale
        )
    )


def field_limits(schema: ma.Schema) -> dict[str, dict[str, Any]]:
    """Each field's range, whole-number and length rules, read from the API schema the server checks with,
    so the phone checks a record by the same rules before queuing it (static/js/checks.js)."""
    limits: dict[str, dict[str, Any]] = {}
    for name, field in schema.fields.items():
        rule: dict[str, Any] = {}
        if isinstance(field, ma.fields.Integer):
            rule["integer"] = True
        for validator in field.validators:
            if isinstance(validator, ma.validate.Range):
                rule["min"], rule["max"] = validator.min, validator.max
            elif isinstance(validator, ma.validate.Length) and isinstance(field, ma.fields.String):
                rule["max_length"] = validator.max
        if "min" in rule or "max" in rule or "max_length" in rule:
            limits[field.data_key or name] = rule
    return limits


def _townships_payload() -> list[dict[str, Any]]:
    """Townships with a point each (the mean position of the district's sites in it; null when it has
    none yet), so the phone lists the nearest first. Sites, not records: far fewer rows, same places."""
    means = sa.select(Site.township_id, sa.func.avg(Site.longitude), sa.func.avg(Site.latitude)).where(
        Site.township_id.is_not(None)
    )
    where = {
        township_id: (float(lon), float(lat))
        for township_id, lon, lat in db.session.execute(means.group_by(Site.township_id))
    }
    return [
        {
            "code": t.code,
            "name_zh": t.name_zh,
            "lon": round(where[t.id][0], 6) if t.id in where else None,
            "lat": round(where[t.id][1], 6) if t.id in where else None,
        }
        for t in db.session.scalars(sa.select(Township).order_by(Township.code))
    ]


def _villages_payload() -> list[dict[str, Any]]:
    """Every village (村/社区) with its township, for the village picker and search (short name first)."""
    rows = db.session.execute(
        sa.select(Village.code, Village.short_name, Village.name, Township.code)
        .join(Township, Township.id == Village.township_id)
        .order_by(Village.code)
    )
    return [
        {"code": code, "short_name": short, "name": name, "township_code": township}
        for code, short, name, township in rows
    ]


def _species_payload() -> list[dict[str, Any]]:
    # The bureau's district lists first; a unit's staff use their bureau's (docs/contract.md §1).
    first = district_species_ids(*list_owners(current_user.organization))
    names: dict[int, list[str]] = {}
    for species_id, value in db.session.execute(sa.select(SpeciesName.species_id, SpeciesName.value)):
        names.setdefault(species_id, []).append(value)
    rows = db.session.scalars(
        sa.select(Species).where(Species.retired_on.is_(None)).order_by(Species.pinyin)
    ).all()
    return [
        {
            "id": s.id,
            "name_zh": s.name_zh,
            "name_sci": s.name_sci,
            "aliases": s.all_aliases,
            "group": s.group.value,
            "metrics": s.metrics,
            "census_categories": s.census_categories,
            "district_first": s.id in first,
            "terms": sorted(set(names.get(s.id, []))),
        }
        for s in rows
    ]


@bp.route("/app/field-data.json")
@login_required
def field_data() -> Response:
    """Reference data for the capture forms; the service worker keeps the last copy for offline use."""
    district = get_district()
    payload = {
        "user": {
            "id": current_user.id,
            "display_name": current_user.display_name,
            "role": current_user.role.value,
            "organization": current_user.organization.code,
        },
        "gps_accuracy_limit_m": current_app.config["IAS_GPS_ACCURACY_LIMIT_M"],
        "district": None
        if district is None
        else {
            "name": district.name,
            "bounds": [district.min_lon, district.min_lat, district.max_lon, district.max_lat],
        },
        "species": _species_payload(),
        "census_categories": census_category_labels(),
        "metrics": metrics.field_data(),
        "units": {"square_metres_per_mu": units.SQUARE_METRES_PER_MU},
        "limits": {
            "observation": field_limits(ObservationCreateArgs()),
            "control_operation": field_limits(ControlOperationCreateArgs()),
        },
        # The record's time and place as the server checks them (app/observations/checks.py), for the phone to
        # check before it queues a record (app/static/js/checks.js). A point further outside the district's
        # box than its buffer and OUTSIDE_MARGIN_DEG is outside whatever outline is loaded; nearer, the
        # server decides.
        "record_checks": {
            "max_ahead_s": int(CLOCK_SKEW.total_seconds()),
            "earliest": EARLIEST.isoformat(),
            "outside_margin_deg": None if district is None else district.buffer_deg + OUTSIDE_MARGIN_DEG,
        },
        "townships": _townships_payload(),
        # Township polygons loaded: a record sent without a township gets the one its point is in; without
        # them only a nearby site's, when there is one (app/observations/checks.py, `derive_township`).
        "township_from_position": has_boundaries(),
        "villages": _villages_payload(),
        "habitats": [
            {
                "code": h.code,
                "name_zh": h.name_zh,
                "name_en": h.name_en,
                "level": h.level,
                "parent": h.parent.code if h.parent else None,
            }
            for h in list_habitats()
        ],
        "methods": [
            {
                "code": m.code,
                "name_zh": m.name_zh,
                "name_en": m.name_en,
                "applies_to": m.applies_to,
                "fields": m.fields,
            }
            for m in list_control_methods()
        ],
    }
    response = jsonify(payload)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
