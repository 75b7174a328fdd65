"""A crawler over every page each role can reach, on a dataset that puts the product in as many states as
it has: the safety net under the page-by-page tests of each area.

Why: a record flagged `area_mismatch` once answered its page with a 500 (a dict of flag explanations
lacked the flag), and no test caught it, for no test opened a page for a record in that state. Here the
data is made through the API, as phones and desks make it (so it is what production holds): records in
every review status, presence and absence, with every flag, photos and polygons, one returned and sent
again, one of a species since retired; records of a surveyor since deactivated and of one since moved;
control operations with pending, overdue, done (with efficacy against a check plot, and by an absence),
reassigned and cancelled re-inspections; this year's campaign with units, a walked route, a plot and a
record, and last year's; an export written and one given up; notifications of every kind.

Then each role, signed in as a browser, starts at "/" (and the pages the app's scripts open) and follows
every same-origin link (`<a href>`), redirect and GET form (its choices, from its widest scope). Every
page must answer below 500; every link a role is shown must open for it (a link that answers 4xx, or
sends a signed-in reader to sign in, is one the page should not have shown; the failure names the rule
of tests/authorization/rules.py); and no page may show a rendering slip: a template tag, "None" or an
undefined value as text, an enum's Python name, an organization's code where its name belongs, a
catalog string left in English on a Chinese page or in Chinese on an English one, English words in a
Chinese page's tooltip or placeholder. The surveyor and the admin read their pages again in English;
agriculture's bureau admin and a forestry station's supervisor crawl too (readers of another
organization, where links to what is not theirs would show).

Bounded: MAX_PAGES pages a role; VARIANTS URLs of one path with the same query arguments; PER_ROUTE
pages of one route outside the admin's crawl; lists beyond their second page are one page. Files (GIS
downloads, photos, workbooks) are fetched once per path and format, not parsed.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask import Flask

from app.accounts.models import Organization, Role, User
from app.clock import local_today
from app.district import boundaries
from app.district.models import BoundaryLevel, Village
from app.exports import jobs as export_jobs
from app.exports import runner as export_runner
from app.exports.models import Export
from app.extensions import db
from app.notifications import reminders as follow_up_reminders
from app.notifications.models import Notification, NotificationKind
from app.species.models import Species
from app.surveys import reminders as survey_reminders
from tests.areas.shapes import square
from tests.authorization.rules import RULES
from tests.authorization.test_matrix import PARAMETER
from tests.conftest import PADDY, ROOT
from tests.factories import make_campaign
from tests.geo.synthetic import EAST, WEST, feature, geojson, village_grid
from tests.photos.test_photos_api import phone_jpeg

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own

LAT, LON = PADDY
MAX_PAGES = 400  # pages (HTML) a role; files come on top, once per path and format
VARIANTS = 6  # URLs a role of one path with the same query arguments (other values)
PER_ROUTE = 40  # pages of one route (one template: /admin/species/<id> …) but in the admin's crawl
# At least this many pages a role: a crawl that stops early (a menu link lost, a sign-in that failed)
# would otherwise pass for finding nothing wrong.
MIN_PAGES = {
    Role.SURVEYOR: 100,
    Role.VERIFIER: 100,
    Role.SUPERVISOR: 100,
    Role.BUREAU_ADMIN: 150,
    Role.ADMIN: 200,
}
SNAIL = "pomacea-canaliculata"  # 福寿螺
WEED = "alternanthera-philoxeroides"  # 喜旱莲子草
RETIRED = "ageratum-conyzoides"  # 藿香蓟, retired after it was recorded
LIANGSHAN = "500155001"  # 梁山街道 (the paddy's township)
LIRANG = "500155102"  # 礼让镇


# ---------------------------------------------------------------------------------------------
# The dataset, built through the API


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), (response.status_code, response.get_json())
    return response.get_json()


@dataclass
class Dataset:
    people: dict[str, User]  # who crawls, by role (forestry's), each the author of part of the data
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by the state they stand for
    scripted: tuple[str, ...] = ()  # pages of this data that the app's scripts open


@pytest.fixture
def dataset(
    app: Flask,
    api_as: Any,
    make_user: Any,
    make_observation: Any,
    observation_payload: Any,
    species_id: Any,
    treat: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Dataset:
    # Township boundaries of two made-up squares (the paddy sits on their common edge, within the
    # tolerance) and nine villages of 梁山街道 over the west one: what township_mismatch and
    # village_mismatch are checked against.
    boundaries.load_boundaries(
        geojson(feature(LIANGSHAN, WEST), feature("500155002", EAST)),
        "townships.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    villages = list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith(LIANGSHAN)).order_by(Village.code)
        )
    )[:9]
    grid = village_grid(LIANGSHAN, 107.70, 30.60, 107.80, 30.70, 3, villages)
    boundaries.load_boundaries(geojson(*grid), "villages.geojson", level=BoundaryLevel.VILLAGE)

    people = {  # forestry's; names that are no label of the app (the checks look for labels)
        "surveyor": make_user("surveyor", display_name="刘建国"),
        "verifier": make_user("verifier", display_name="陈静"),
        "supervisor": make_user("supervisor", display_name="王强"),
        "bureau_admin": make_user("bureau_admin", display_name="李芳"),
        "admin": make_user("admin", display_name="赵敏"),
    }
    leaver = make_user("surveyor", display_name="周平")
    mover = make_user("surveyor", display_name="吴磊")
    farmer = make_user("surveyor", "agriculture", display_name="郑红")
    colleague = make_user("surveyor", display_name="孙伟")
    db.session.commit()
    api = {role: api_as(user) for role, user in people.items()}
    field_api = api["surveyor"]
    data = Dataset(people)
    rec = data.records

    def record(key: str, client: Any = field_api, **changes: Any) -> dict[str, Any]:
        rec[key] = make_observation(client, **changes)
        return rec[key]

    def review(key: str, decision: str, comment: str | None = "请复核", by: str = "verifier") -> None:
        _ok(
            api[by].post(
                f"/api/v1/observations/{rec[key]['id']}/review",
                json={"decision": decision, "comment": comment},
            )
        )

    def photo(key: str, jpeg: bytes, name: str) -> None:
        _ok(
            field_api.post(
                f"/api/v1/observations/{rec[key]['id']}/photos",
                data={"file": (io.BytesIO(jpeg), name)},
                content_type="multipart/form-data",
            )
        )

    # Records of the surveyor who crawls: each state on its own day (so none is another's duplicate).
    record("submitted", observed_at=_ago(0.1), notes="田埂边发现卵块")
    record("possible_duplicate", observed_at=_ago(0.1))  # the same paddy within the hour
    record("verified", observed_at=_ago(2), severity=3, latitude=LAT + 0.002)
    photo("verified", phone_jpeg(size=(640, 480), gps=(LAT + 0.002, LON)), "IMG_0001.jpg")
    review("verified", "verified", None)
    record("rejected", observed_at=_ago(3), latitude=LAT + 0.004)
    review("rejected", "rejected", "照片不是福寿螺")
    record("returned", observed_at=_ago(4), latitude=LAT + 0.006)
    review("returned", "returned", "请补充面积")
    record(
        "absence",
        observed_at=_ago(5),
        latitude=LAT + 0.008,
        detected=False,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
    )
    review("absence", "verified", None)
    record("low_accuracy", observed_at=_ago(6), latitude=LAT - 0.002, accuracy_m=85)
    record("township_mismatch", observed_at=_ago(7), latitude=30.65, longitude=107.85)
    record(
        "village_mismatch",
        observed_at=_ago(8),
        village_code=villages[0],
        latitude=30.69,
        longitude=107.79,
    )
    record(
        "area_mismatch",
        observed_at=_ago(9),
        latitude=LAT - 0.004,
        area_m2=12_500,
        geometry=square(LON, LAT - 0.004, 100),
    )
    record(
        "polygon",
        observed_at=_ago(10),
        latitude=LAT - 0.006,
        area_m2=None,
        geometry=square(LON, LAT - 0.006, 60),
    )
    review("polygon", "verified", None)
    record("photo_gps_far", observed_at=_ago(11), latitude=LAT - 0.008)
    far = phone_jpeg(size=(640, 480), gps=(LAT - 0.008 + 0.01, LON), colour=(200, 180, 40))  # 1.1 km north
    photo("photo_gps_far", far, "IMG_0002.jpg")
    record(
        "weed",
        observed_at=_ago(12),
        latitude=LAT + 0.010,
        species_id=species_id(WEED),
        habitat="ditch",
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=40.0,
    )
    record(
        "retired_species",
        observed_at=_ago(13),
        latitude=LAT + 0.018,
        species_id=species_id(RETIRED),
        density_per_m2=None,
        egg_masses_per_m2=None,
        cover_pct=15.0,
    )
    record("resubmitted", observed_at=_ago(14), latitude=LAT - 0.010)
    review("resubmitted", "returned", "坐标有误")
    _ok(field_api.patch(f"/api/v1/observations/{rec['resubmitted']['id']}", json={"notes": "已改正"}))
    for flag in (
        "possible_duplicate",
        "low_accuracy",
        "township_mismatch",
        "village_mismatch",
        "area_mismatch",
        "photo_gps_far",
    ):
        flags = _ok(field_api.get(f"/api/v1/observations/{rec[flag]['id']}"))["flags"]
        assert flag in flags, (flag, flags)

    # A surveyor who left (deactivated) and one who moved to agriculture, each with a reviewed record.
    admin = api["admin"]
    record("by_leaver", api_as(leaver), observed_at=_ago(20), latitude=LAT + 0.012)
    record("by_mover", api_as(mover), observed_at=_ago(21), latitude=LAT + 0.014)
    review("by_leaver", "verified", None)
    _ok(admin.patch(f"/api/v1/users/{leaver.id}", json={"active": False}))
    _ok(admin.patch(f"/api/v1/users/{mover.id}", json={"organization": "agriculture"}))
    # A township station under forestry (its staff act for it alone), with a record of its surveyor.
    station = {
        "code": "lp-station",
        "name": "梁山街道林业站",
        "kind": "township_station",
        "parent": "forestry",
    }
    _ok(admin.post("/api/v1/organizations", json=station), 201)
    ranger = make_user("surveyor", "lp-station", display_name="冯刚")
    record("by_station", api_as(ranger), observed_at=_ago(2.5), latitude=LAT + 0.024)
    # Agriculture's own record, reviewed by an admin: another organization's, for forestry's readers.
    record("agriculture", api_as(farmer), observed_at=_ago(1), latitude=LAT + 0.016, township_code=LIRANG)
    review("agriculture", "verified", None, by="admin")

    # Control: a chemical treatment ten days ago (its 1-, 3- and 7-day re-inspections overdue, the first
    # done below, with efficacy against a check plot recorded before and after) and a hand collection
    # today (its re-inspections ahead: one reassigned, one cancelled by the supervisor).
    check_lat = LAT + 0.02
    check = record("check_before", observed_at=_ago(11), latitude=check_lat, density_per_m2=18.0)
    chemical, _ = treat(field_api, method="chemical", days_ago=10, check_site_id=check["site_id"])
    record("check_after", observed_at=_ago(0.2), latitude=check_lat, density_per_m2=24.0)
    first = chemical["follow_ups"][0]
    done = _ok(
        field_api.post(
            f"/api/v1/follow-ups/{first['id']}/complete",
            json={
                "observation": observation_payload(
                    observed_at=_ago(0.05), density_per_m2=3.0, egg_masses_per_m2=1.0, area_m2=800
                )
            },
        )
    )
    assert done["efficacy"]["corrected_efficacy_pct"] is not None, done["efficacy"]
    # The 3-day re-inspection found nothing: an absence completes it (efficacy 100 %).
    nothing = {"detected": False, "density_per_m2": None, "egg_masses_per_m2": None, "area_m2": None}
    absent = observation_payload(observed_at=_ago(0.04), **nothing)
    _ok(
        field_api.post(
            f"/api/v1/follow-ups/{chemical['follow_ups'][1]['id']}/complete", json={"observation": absent}
        )
    )
    # A treatment with its outline drawn (the area from the polygon).
    treat(
        field_api,
        method="hand_collection",
        days_ago=30,
        area_m2=None,
        geometry=square(LON, LAT - 0.012, 40),
        baseline=record("outlined", observed_at=_ago(31), latitude=LAT - 0.012),
    )
    hand, _ = treat(field_api, method="hand_collection", days_ago=0.02, baseline=rec["submitted"])
    _ok(
        api["supervisor"].patch(
            f"/api/v1/follow-ups/{hand['follow_ups'][0]['id']}", json={"assignee_id": colleague.id}
        )
    )
    _ok(
        api["supervisor"].patch(
            f"/api/v1/follow-ups/{hand['follow_ups'][-1]['id']}",
            json={"status": "cancelled", "cancelled_reason": "田块已改种"},
        )
    )
    _ok(
        field_api.post(
            f"/api/v1/control-operations/{hand['id']}/photos",
            data={"file": (io.BytesIO(phone_jpeg(size=(640, 480), colour=(90, 60, 30))), "IMG_0003.jpg")},
            content_type="multipart/form-data",
        )
    )

    # A campaign of forestry: two townships (one assigned to the surveyor, due soon) and a village.
    today = local_today()
    campaign = _ok(
        api["supervisor"].post(
            "/api/v1/campaigns",
            json={
                "name": "2026年福寿螺普查",
                "kind": "census",
                "bureau": "forestry",
                "starts_on": (today - timedelta(days=10)).isoformat(),
                "ends_on": (today + timedelta(days=20)).isoformat(),
                "species_ids": [species_id(SNAIL), species_id(WEED)],
                "units": [
                    {
                        "township_code": LIANGSHAN,
                        "assignee_id": people["surveyor"].id,
                        "due_on": (today + timedelta(days=3)).isoformat(),
                    },
                    {  # overdue and not started: the day's reminders name it
                        "township_code": LIRANG,
                        "assignee_id": people["surveyor"].id,
                        "due_on": (today - timedelta(days=2)).isoformat(),
                    },
                    {"village_code": villages[1]},
                ],
            },
        ),
        201,
    )
    start = datetime.now(UTC) - timedelta(hours=3)
    points = [
        {
            "t": (start + timedelta(seconds=10 * i + (900 if i >= 15 else 0))).isoformat(),  # a pause
            "lat": LAT + i * 0.00003,
            "lon": LON + i * 0.00003,
            "accuracy_m": 5.0,
        }
        for i in range(30)
    ]
    _ok(
        field_api.post(
            "/api/v1/routes",
            json={
                "client_uuid": str(uuid.uuid4()),
                "campaign_id": campaign["id"],
                "unit_id": campaign["units"][0]["id"],
                "started_at": points[0]["t"],
                "ended_at": points[-1]["t"],
                "points": points,
                "notes": "沿河踏查",
            },
        ),
        201,
    )
    _ok(
        field_api.post(
            "/api/v1/plots",
            json={
                "client_uuid": str(uuid.uuid4()),
                "site_id": rec["verified"]["site_id"],
                "campaign_id": campaign["id"],
                "surveyed_at": _ago(0.1),
                "shape": "square",
                "length_m": 10,
                "quadrats": [
                    {
                        "number": 1,
                        "size_m2": 1,
                        "records": [{"species_id": species_id(SNAIL), "density_per_m2": 4}],
                    },
                    {"number": 2, "size_m2": 1, "records": []},
                ],
            },
        ),
        201,
    )
    _ok(  # a circular plot, outside any campaign
        field_api.post(
            "/api/v1/plots",
            json={
                "client_uuid": str(uuid.uuid4()),
                "site_id": rec["weed"]["site_id"],
                "surveyed_at": _ago(0.2),
                "shape": "circle",
                "radius_m": 5,
                "quadrats": [
                    {
                        "number": 1,
                        "size_m2": 1,
                        "records": [{"species_id": species_id(WEED), "cover_pct": 35}],
                    }
                ],
            },
        ),
        201,
    )

    record("in_campaign", observed_at=_ago(0.3), latitude=LAT + 0.022, campaign_id=campaign["id"])
    # Last year's monitoring, over, with a unit never covered (made as a planner would have).
    past = make_campaign(
        created_by=people["supervisor"],
        name="2025年秋季监测",
        kind="monitoring",
        starts_on=today - timedelta(days=400),
        ends_on=today - timedelta(days=300),
        units=((LIRANG, people["surveyor"], today - timedelta(days=310)),),
    )
    db.session.commit()
    data.scripted = tuple(f"/campaigns/{c}/coverage" for c in (campaign["id"], past.id))

    # Exports: forestry's census written (its progress kept in the request's transaction: the runner
    # commits progress on a connection of its own, which the test's rolled-back one would block), and
    # one given up after its runner died every time.
    _ok(api["bureau_admin"].post("/api/v1/exports", json={"kind": "census", "bureau": "forestry"}), 202)
    monkeypatch.setattr(export_runner, "_set_progress", lambda *args, **kwargs: None)
    assert export_jobs.run_pending_exports("crawl") == 1
    _ok(api["bureau_admin"].post("/api/v1/exports", json={"kind": "control", "bureau": "forestry"}), 202)
    for attempt in range(export_runner.MAX_CLAIMS):
        assert export_runner.claim_export(f"crawl-{attempt}") is not None
        db.session.execute(sa.update(Export).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert export_runner.claim_export("crawl-last") is None
    # The day's reminders, as the scheduler sends them: overdue re-inspections, survey units due.
    follow_up_reminders.queue_follow_up_reminders()
    survey_reminders.queue_unit_reminders(today)
    db.session.commit()
    kinds = set(db.session.scalars(sa.select(Notification.kind).distinct()))
    assert kinds >= {
        NotificationKind.OBSERVATION_RETURNED,
        NotificationKind.OBSERVATION_REJECTED,
        NotificationKind.OBSERVATION_RESUBMITTED,
        NotificationKind.FOLLOW_UP_ASSIGNED,
        NotificationKind.FOLLOW_UP_REMINDERS,
        NotificationKind.SURVEY_UNIT_REMINDERS,
        NotificationKind.EXPORT_READY,
        NotificationKind.EXPORT_FAILED,
    }, kinds
    # A species retired from the registry (merged, or gone from the files) after it was recorded.
    retired = db.session.get(Species, species_id(RETIRED))
    assert retired is not None
    retired.retired_on = today
    db.session.commit()
    return data


# ---------------------------------------------------------------------------------------------
# The crawler


class Page(HTMLParser):
    """One page's links, and what a reader sees of it: its text and the values of the attributes a
    reader meets (title, placeholder, aria-label, alt), each with the element it is in."""

    SKIPPED = frozenset({"script", "style", "template", "noscript"})
    EMPTY = frozenset({"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col", "area"})
    SEEN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[SearchForm] = []  # GET forms (filters and searches)
        self.texts: list[tuple[str, str]] = []  # (the enclosing element, text)
        self._stack: list[str] = []
        self._skipping = 0
        self._form: SearchForm | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        self._read_form(tag, values)
        for name in self.SEEN_ATTRIBUTES:
            if values.get(name):
                self.texts.append((f"{tag}[{name}]", values[name] or ""))
        if tag in self.EMPTY:
            return
        self._stack.append(tag)
        if tag in self.SKIPPED:
            self._skipping += 1

    def _read_form(self, tag: str, values: dict[str, str | None]) -> None:
        if tag == "form":
            # Only forms that say method="get": a form without one is sent by the page's script.
            method = (values.get("method") or "").lower()
            self._form = SearchForm(values.get("action") or "") if method == "get" else None
            if self._form is not None:
                self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = values.get("name") or ""
        if tag == "input" and name:
            kind = (values.get("type") or "text").lower()
            value = values.get("value") or ""
            if kind in ("radio", "checkbox"):
                form.choice(name, value or "on", "checked" in values, optional=kind == "checkbox")
            elif kind in ("submit", "button", "reset", "file", "image"):
                return
            else:
                form.fields.setdefault(name, value)
                if kind == "search" and not value:
                    form.choice(name, "福寿螺", False, optional=True)
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            form.choice(self._select, values.get("value") or "", "selected" in values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        if tag in self._stack:
            while self._stack:
                top = self._stack.pop()
                if top in self.SKIPPED:
                    self._skipping -= 1
                if top == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append((self._stack[-1] if self._stack else "", data.strip()))


@dataclass
class SearchForm:
    """A GET form as a reader may send it: its defaults, and each of its choices changed alone (the
    first few of a long list) from its widest scope ("all" wherever a field offers it)."""

    action: str
    fields: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    CHOICES_A_FIELD = 6

    def choice(self, name: str, value: str, chosen: bool, optional: bool = False) -> None:
        options = self.choices.setdefault(name, [""] if optional else [])
        if len(options) < self.CHOICES_A_FIELD and value not in options:
            options.append(value)
        if chosen or (name not in self.defaults and not optional):
            self.defaults[name] = value
        elif optional:
            self.defaults.setdefault(name, "")

    def queries(self) -> list[dict[str, str]]:
        base = {**self.fields, **self.defaults}
        widest = {**base, **{name: "all" for name, options in self.choices.items() if "all" in options}}
        sent = [base]
        for name, options in self.choices.items():
            sent += [{**widest, name: option} for option in options]
        return [{k: v for k, v in query.items() if v} for query in sent]


FILES = re.compile(r"^/api/v1/(?:.+/download$|photos/\d+/|exports/\d+/download)")
NOT_FOLLOWED = ("/static/", "/vendor/", "/api-docs/static/", "/sign-out")


def _normalise(url: str) -> str | None:
    """The crawl's key of a link: same-origin path and sorted query (no fragment); pages of a list beyond
    the second are one key. None for what is not crawled."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
        return None
    if not parts.path.startswith("/") or parts.path.startswith(NOT_FOLLOWED):
        return None
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    if FILES.match(parts.path):  # a file: once per path and format, whatever the list's filters
        query = [(k, v) for k, v in query if k in ("format", "variant")]
    query = [(k, "n" if k == "page" and v.isdigit() and int(v) > 2 else v) for k, v in query]
    return parts.path + ("?" + urlencode(query) if query else "")


def _endpoint_rule(app: Flask, path: str) -> str:
    """The authorization table's key of a GET of `path` ("GET /observations/{id}")."""
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(path, method="GET", return_rule=True)
    except Exception:  # no route: a 404, which the report names as such
        return f"GET {path} (no route)"
    return "GET " + PARAMETER.sub(
        lambda m: "{id}" if m["converter"] == "int" else "{" + m["name"] + "}", rule.rule
    )


@dataclass
class Visit:
    url: str
    status: int
    source: str  # the page that linked it
    page: Page | None = None
    location: str | None = None  # where a redirect sent the reader


# Pages the app's scripts and service worker open, which no link names (/app/offline-tiles needs a
# township: tests/geo/test_tiles.py).
SCRIPTED = ("/offline", "/app/signed-out", "/app/field-data.json", "/app/session.json")


def crawl(
    web: Any, seeds: tuple[str, ...] = (), limit: int = MAX_PAGES, per_route: int | None = None
) -> dict[str, Visit]:
    """Every page reachable from "/" and its menu by same-origin links, breadth first; then `seeds`.
    `per_route`: at most so many pages of one route (the registry's 92 species pages …)."""
    visits: dict[str, Visit] = {}
    queue = [("/", "/", "(start)")] + [(seed, seed, "(a script)") for seed in seeds]  # key, url, source
    pages = 0
    forms_sent: set[str] = set()
    variants: dict[tuple[str, tuple[str, ...]], int] = {}
    routes: dict[str, int] = {}
    while queue:
        key, url, source = queue.pop(0)
        if key in visits:
            continue
        path, _, query = key.partition("?")
        if query:  # the same page with other arguments: a few of them (a form for each record, …)
            variant = (path, tuple(sorted({k for k, _ in parse_qsl(query)})))
            variants[variant] = variants.get(variant, 0) + 1
            if variants[variant] > VARIANTS:
                continue
        is_file = bool(FILES.match(path))
        if not is_file and pages >= limit:
            continue
        if per_route is not None:
            route = _endpoint_rule(web.client.application, path)
            routes[route] = routes.get(route, 0) + 1
            if routes[route] > per_route:
                continue
        response = web.get(url)
        visit = Visit(url, response.status_code, source)
        visits[key] = visit
        if 300 <= response.status_code < 400:  # followed as a link of the page that linked here
            visit.location = urlsplit(urljoin("http://localhost" + url, response.headers["Location"])).path
            hrefs = [response.headers["Location"]]
        elif is_file or response.status_code != 200 or response.mimetype != "text/html":
            response.close()
            continue
        else:
            hrefs = parse(visit, response.get_data(as_text=True), url, forms_sent)
            pages += 1
        for href in hrefs:
            absolute = urljoin("http://localhost" + url, href)
            link = _normalise(absolute)
            if link is not None and link not in visits:
                parts = urlsplit(absolute)
                queue.append((link, parts.path + ("?" + parts.query if parts.query else ""), url))
    return visits


def parse(visit: Visit, html: str, url: str, forms_sent: set[str]) -> list[str]:
    """Read a page into `visit`; the links it shows, and the queries of the GET forms not met before."""
    page = visit.page = Page()
    page.feed(html)
    hrefs = list(page.links)
    for form in page.forms:  # each form once, where it is first met (its choices, not the pages')
        target = urlsplit(urljoin("http://localhost" + url, form.action or urlsplit(url).path)).path
        if target not in forms_sent:
            forms_sent.add(target)
            hrefs += [target + ("?" + urlencode(query) if query else "") for query in form.queries()]
    return hrefs


# ---------------------------------------------------------------------------------------------
# Rendering slips


def _catalog() -> dict[str, str]:
    """English msgid → Chinese msgstr, for the messages that read differently in Chinese, have no
    placeholder and contain a lowercase word (so codes and names such as "GeoJSON" are not in it)."""
    with open(ROOT / "app/translations/zh/LC_MESSAGES/messages.po", "rb") as po:
        catalog = read_po(po)
    english: dict[str, str] = {}
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, msgstr in zip(map(str, ids), map(str, strs), strict=False):
            if msgid and msgstr and msgid != msgstr and "%" not in msgid and re.search(r"[a-z]{3}", msgid):
                english[msgid.strip()] = msgstr
    return english


ENUM_REPR = re.compile(r"\b(?:Flag|ReviewStatus|Role|[A-Z][a-z]+(?:Status|Kind|Method))\.[A-Z_]{2,}\b")
DATA_ELEMENTS = {"td", "dd", "th", "li", "span", "strong", "b", "p", "small", "div", "time", "a", "option"}


def slips(page: Page, chinese: bool, english: dict[str, str], codes: re.Pattern[str]) -> list[str]:
    chinese_texts = {zh: en for en, zh in english.items() if re.search(r"[\u4e00-\u9fff]", zh)}
    found = []
    for where, text in page.texts:
        if chinese and codes.search(text):
            found.append(f"an organization's code where its name belongs, in <{where}>: {text!r}")
        if "{{" in text or "{%" in text or "}}" in text or "%}" in text:
            found.append(f"template syntax in <{where}>: {text!r}")
        if re.search(r"\bUndefined\b", text):
            found.append(f"'Undefined' in <{where}>: {text!r}")
        if ENUM_REPR.search(text):
            found.append(f"an enum's Python name in <{where}>: {text!r}")
        if where in DATA_ELEMENTS and re.fullmatch(r"None|null|nan|NaN|undefined", text):
            found.append(f"{text!r} shown as a value in <{where}>")
        if chinese and re.search(r"(?<![\w.])None(?![\w.])", text):
            found.append(f"'None' in a Chinese page's <{where}>: {text!r}")
        if chinese and "[" in where and re.fullmatch(r"[a-z]+(?: [a-z]+)*", text):
            found.append(f"English words in a Chinese page's <{where}>: {text!r}")
        if not chinese and text in chinese_texts:
            found.append(f"Chinese for an English reader in <{where}>: {text!r} ({chinese_texts[text]!r})")
        if chinese and text in english:
            found.append(f"untranslated in <{where}>: {text!r} (Chinese: {english[text]!r})")
    return found


# ---------------------------------------------------------------------------------------------
# The test


def _problems(
    app: Flask,
    who: str,
    visits: dict[str, Visit],
    chinese: bool,
    english: dict[str, str],
    codes: re.Pattern[str],
) -> list[str]:

    problems = []
    for visit in visits.values():
        where = f"{who}: {visit.url} (linked from {visit.source})"
        if visit.status >= 500:
            problems.append(f"{where} answered {visit.status}")
        elif visit.location == "/sign-in":
            problems.append(f"{where} sent a signed-in reader to sign in again")
        elif 400 <= visit.status < 500:
            rule = RULES.get(_endpoint_rule(app, urlsplit(visit.url).path))
            reason = f"; the rule lets in {sorted(rule.roles)} ({rule.reach.value})" if rule else ""
            problems.append(f"{where} answered {visit.status}: a link the page should not show{reason}")
        if visit.page is not None:
            problems.extend(f"{where}: {slip}" for slip in slips(visit.page, chinese, english, codes))
    return problems


def _in_english(app: Flask, web: Any, visits: dict[str, Visit]) -> dict[str, Visit]:
    """The pages of a crawl again, for a reader of English (the same session: the user's locale), at
    most PER_ROUTE of one route."""
    again = {}
    routes: dict[str, int] = {}
    for key, visit in visits.items():
        if visit.page is None:
            continue
        route = _endpoint_rule(app, urlsplit(visit.url).path)
        routes[route] = routes.get(route, 0) + 1
        if routes[route] > PER_ROUTE:
            continue
        response = web.get(visit.url)
        again[key] = Visit(visit.url, response.status_code, visit.source)
        if response.status_code == 200 and response.mimetype == "text/html":
            again[key].page = Page()
            again[key].page.feed(response.get_data(as_text=True))  # type: ignore[union-attr]
    return again


def test_every_page_each_role_reaches_renders(app: Flask, dataset: Dataset, web_as: Any) -> None:
    english = _catalog()
    # Organization codes (forestry, agriculture …) are identifiers: a page names an organization.
    names = "|".join(re.escape(code) for code in db.session.scalars(sa.select(Organization.code)))
    codes = re.compile(rf"(?<![\w./-])(?:{names})(?![\w/-])")
    problems: list[str] = []
    counts = []
    started = time.monotonic()
    for role in Role:
        user = dataset.people[role.value]
        web = web_as(user)
        # Every page of the registry once (the admin's crawl), a sample of them for the others.
        per_route = None if role == Role.ADMIN else PER_ROUTE
        visits = crawl(web, (*SCRIPTED, *dataset.scripted), per_route=per_route)
        pages = sum(v.page is not None for v in visits.values())
        assert pages >= MIN_PAGES[role], f"{role.value} reached only {pages} pages"
        problems += _problems(app, role.value, visits, True, english, codes)
        counts.append(f"{role.value} {pages} pages + {len(visits) - pages} other URLs")
        if role in (Role.SURVEYOR, Role.ADMIN):
            user.locale = "en"
            db.session.commit()
            again = _in_english(app, web, visits)
            problems += _problems(app, f"{role.value} (English)", again, False, english, codes)
            counts.append(f"{role.value} {len(again)} pages again in English")
    # Readers of another organization: agriculture's bureau admin (forestry's records, campaigns and
    # re-inspections are not theirs to change) and the station's supervisor (a unit acts for itself only).
    for role, organization in ((Role.BUREAU_ADMIN, "agriculture"), (Role.SUPERVISOR, "lp-station")):
        web = web_as(role, organization)
        visits = crawl(web, (*SCRIPTED, *dataset.scripted), per_route=PER_ROUTE)
        pages = sum(v.page is not None for v in visits.values())
        assert pages >= MIN_PAGES[role], f"{role.value} of {organization} reached only {pages} pages"
        problems += _problems(app, f"{role.value} of {organization}", visits, True, english, codes)
        counts.append(f"{role.value} of {organization} {pages} pages")
    print(f"crawled in {time.monotonic() - started:.1f} s:", "; ".join(counts))
    assert not problems, "\n".join(problems)


def test_the_crawls_keys_and_forms() -> None:
    """How the crawl names what it opened: lists past their second page are one, files once per format,
    other sites and sign-out never; a GET form is sent with its defaults and each choice alone."""
    assert _normalise("/observations?status=verified&page=2") == "/observations?page=2&status=verified"
    assert _normalise("/observations?page=3&status=verified") == _normalise(
        "/observations?status=verified&page=9"
    )
    assert (
        _normalise("/api/v1/observations/download?format=kml&status=x")
        == "/api/v1/observations/download?format=kml"
    )
    assert _normalise("https://example.org/x") is None and _normalise("/static/app.css") is None
    assert _normalise("/sign-out") is None and _normalise("mailto:a@example.org") is None
    page = Page()
    page.feed(
        '<form method="get" action="/follow-ups"><select name="scope"><option value="mine">我的</option>'
        '<option value="all">全部</option></select><input type="checkbox" name="overdue" value="1">'
        '<button>显示</button></form><form method="post" action="/x"><input name="y" value="1"></form>'
        '<p>{{ slip }}</p><td>None</td><span title="unconfirmed"></span>'
    )
    [form] = page.forms
    assert form.queries() == [
        {"scope": "mine"},
        {"scope": "mine"},
        {"scope": "all"},
        {"scope": "all"},
        {"scope": "all", "overdue": "1"},
    ]
    found = slips(page, True, {}, re.compile("forestry"))
    assert len(found) == 4, found  # the tag, None (as a value, and on a Chinese page), the title
