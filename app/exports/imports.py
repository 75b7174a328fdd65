"""Importing legacy census workbooks (in a template's layout): each row checked by the API's own rules.

Observation rows become observations and control-operation rows control operations, through the same
schemas and services as the API, so a row the API would refuse is refused here too, with the reason
and the cell. Follow-up rows are not imported: follow-ups are scheduled from their control operations,
those whose day has passed excepted (an operation of a past season; the row report says which).

Re-importing the same workbook creates nothing new: a row's `client_uuid` (or, for a legacy row without
one, a UUID derived from its content) makes the second import a replay of the first, whoever imports it
(a row's fingerprint leaves out who sent it: its person may be the importer).

Legacy workbooks are taken as the bureaus have them: only the columns an import needs must be there
(REQUIRED_COLUMNS; not the system columns an export adds), a species may be named by any name the
species search knows (aliases such as 水花生, pinyin, the Latin name), dates as Excel users type them.
Records belong to the bureau the workbook is imported for. A row's 调查人 is the record's surveyor only
when exactly one colleague of that name records in that bureau or a unit under it (a township station's
technician; surveyors, supervisors, bureau admins; not verifiers, who would then review their own
records); otherwise the record is the importer's, the name is kept on it (`legacy_surveyor`), and the
row report says so. A column the template does not know is not imported, but never silently: the report
names each (`ImportReport.ignored`: header and letter, or the first value of a column without a header),
each column the template knows but the import does not use (`ImportReport.unused`: 审核状态, 记录编号…,
IMPORTED_FIELDS) and each sheet not imported at all (`ImportReport.sheets`: 复查记录, the summaries, a
sheet the template does not have).
Reasons are in the reader's language (Chinese unless the request asks otherwise).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import policy
from app.accounts.models import Organization, User
from app.accounts.organizations import unit_ids
from app.clock import local_today, local_zone
from app.control import services as control
from app.control.models import ControlOperation
from app.control.schedule import passed_days
from app.control.schemas import ControlOperationCreateArgs
from app.errors import Conflict, InvalidInput, PermissionDenied, ServiceError, TooLarge
from app.exports.import_columns import IMPORTED_FIELDS, REQUIRED_COLUMNS, with_square_metre_columns
from app.exports.import_report import (
    OBSERVATION_CELLS,
    OPERATION_CELLS,
    ImportReport,
    RowRejected,
    cell_of,
    field_reason,
    first_message,
    not_imported,
    not_used,
    row_refusal,
    sheet_not_imported,
)
from app.exports.labels import position_source_code
from app.exports.layouts import SheetSpec, header_key, load_template
from app.exports.reader import CensusRows, ReadLimits, SheetRow, read_census
from app.extensions import db
from app.observations.create import create_observation
from app.observations.models import Observation
from app.observations.schemas import ObservationCreateArgs
from app.sites.models import Site
from app.species.models import ControlMethod, Species, SpeciesName
from app.species.names import normalize_query
from app.units import to_square_metres

# Rows of a legacy workbook without a client_uuid get one derived from their content.
LEGACY_NAMESPACE = uuid.UUID("6c1f9b52-3f0e-4a8e-9a51-2f7d0c8e4b13")


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# Left out of a row's derived UUID: the m² area (with_square_metre_columns) was not read before, so a row
# imported then is the same row now: its UUID unchanged, a re-import is a replay, or (its area now read)
# a clash the row report names, never a second record.
_NOT_FINGERPRINTED = frozenset({"id", "client_uuid", "area_m2"})


def _legacy_uuid(row: SheetRow) -> str:
    content = {k: _iso(v) for k, v in sorted(row.values.items()) if k not in _NOT_FINGERPRINTED}
    return str(
        uuid.uuid5(
            LEGACY_NAMESPACE, f"{row.sheet_key}:{json.dumps(content, ensure_ascii=False, default=str)}"
        )
    )


# A row's fate: a new record or operation; the same row imported before (a replay); or a record the
# bureau holds already under the row's 记录标识, with other content (`Importer._already_held`).
Outcome = Literal["created", "again", "held"]


def _outcome(created: bool) -> Outcome:
    return "created" if created else "again"


@dataclass(frozen=True)
class Person:
    """Whom a row is attributed to, and what the row report says when it is not who the row named."""

    user: User
    legacy_name: str | None = None  # the name the row gave, when it is not `user`
    note: str | None = None


class Importer:
    """One import run for one bureau: lookups cached, people and sites mapped as the rows come."""

    def __init__(self, actor: User, organization: Organization, headers: dict[str, dict[str, str]]):
        self.actor = actor
        self.organization = organization
        self.headers = headers  # sheet key → field → the column's header
        # Every name the species search matches exactly (names, aliases, pinyin, Latin names and
        # synonyms, lower-case) → the current species it names; a name two species share names neither.
        # A retired species is left out, as the API refuses it for a new record: after a merge its old
        # name is an alias of the species kept, which the row then means.
        self.species: dict[str, set[int]] = {}
        self.species_names: dict[int, str] = {}
        current = Species.retired_on.is_(None)
        for species in db.session.scalars(sa.select(Species).where(current)):
            self.species_names[species.id] = species.name_zh
            for name in (species.name_zh, species.name_sci):
                self.species.setdefault(normalize_query(name), set()).add(species.id)
        names = sa.select(SpeciesName.species_id, SpeciesName.value).join(Species).where(current)
        for species_id, value in db.session.execute(names):
            self.species.setdefault(value, set()).add(species_id)
        # The bureau's workbook lists its units' records too (a township station's technicians): its
        # colleagues are found among the bureau and the units under it. The record stays the bureau's
        # (the workbook's), so a re-import finds it whoever the row's name resolves to then.
        people = sa.select(User).where(
            User.active.is_(True),
            User.organization_id.in_(sorted(unit_ids(organization.id))),
            User.role.in_(policy.IMPORT_SURVEYORS),
        )
        self.people: dict[str, list[User]] = {}
        for user in db.session.scalars(people):
            self.people.setdefault(user.display_name.strip(), []).append(user)
        self.methods = {m.code: m.code for m in db.session.scalars(sa.select(ControlMethod))}
        self.methods.update({m.name_zh: m.code for m in db.session.scalars(sa.select(ControlMethod))})
        self.site_codes: dict[str, int] = {}  # the workbook's site code → the site it became here

    def find_species(self, *names: Any) -> int | None:
        """The one species a cell names, by any name the species search knows; None when unknown."""
        for name in names:
            found = self._named(name)
            if len(found) == 1:
                return next(iter(found))
        return None

    def _named(self, name: Any) -> set[int]:
        if name is None or not str(name).strip():
            return set()
        query = normalize_query(str(name))
        return self.species.get(query) or self.species.get(query.replace(" ", "")) or set()

    def species_refusal(self, *names: Any) -> str:
        """Why no species was found: a name two current species answer to is said to be ambiguous, with
        both species named (the bureau then writes the one it means); otherwise unknown."""
        for name in names:
            found = self._named(name)
            if len(found) > 1:
                return _(
                    "%(name)s is a name of more than one species: %(species)s; write the one meant.",
                    name=str(name).strip(),
                    species="、".join(sorted(self.species_names[i] for i in found)),
                )
        return _("Unknown species.")

    def person(self, name: Any) -> Person:
        """The colleague a row names (surveyor, operator): exactly one of that name who records in the
        bureau; otherwise the importer, with the reason."""
        text = str(name).strip() if name is not None else ""
        if not text:
            return Person(self.actor)
        matches = self.people.get(text, [])
        if len(matches) == 1:
            return Person(matches[0])
        if matches:
            note = _(
                "%(name)s names %(count)s colleagues in %(bureau)s; recorded as imported by %(importer)s, "
                "with the name kept.",
                name=text,
                count=len(matches),
                bureau=self.organization.name,
                importer=self.actor.display_name,
            )
        else:
            note = _(
                "%(name)s is not a colleague who records in %(bureau)s (surveyor, supervisor or bureau "
                "admin); recorded as imported by %(importer)s, with the name kept.",
                name=text,
                bureau=self.organization.name,
                importer=self.actor.display_name,
            )
        return Person(self.actor, text, note)

    def observation(self, row: SheetRow) -> tuple[Outcome, str | None]:
        v = row.values
        species_id = self.find_species(v.get("species_name_zh"), v.get("species_name_sci"))
        if species_id is None:
            cell = row.cells.get("species_name_zh") or row.cells.get("species_name_sci")
            raise RowRejected(self.species_refusal(v.get("species_name_zh"), v.get("species_name_sci")), cell)
        raw = {
            "client_uuid": str(v.get("client_uuid") or _legacy_uuid(row)),
            "species_id": species_id,
            "detected": True if v.get("detected") is None else v.get("detected"),
            "observed_at": _iso(v.get("observed_at")),
            "latitude": v.get("latitude"),
            "longitude": v.get("longitude"),
            "accuracy_m": v.get("accuracy_m"),
            "altitude_m": v.get("altitude_m"),
            "position_source": position_source_code(v.get("position_source")),
            "township_code": v.get("township_code") or v.get("township_name"),
            "village_code": v.get("village_code") or v.get("village_name"),
            "place_name": v.get("place_name"),
            "habitat": v.get("habitat") or v.get("habitat_class"),
            "area_m2": _area(row),
            "cover_pct": v.get("cover_pct"),
            "density_per_m2": v.get("density_per_m2"),
            "egg_masses_per_m2": v.get("egg_masses_per_m2"),
            "count": v.get("count"),
            "severity": v.get("severity"),
            "notes": v.get("notes"),
        }
        headers = self.headers.get(row.sheet_key, {})
        cells = _area_cells(row, OBSERVATION_CELLS)
        args = self._load(ObservationCreateArgs(), raw, row, cells, headers)
        surveyor = self.person(v.get("surveyor"))
        try:
            with db.session.begin_nested():
                record, created = create_observation(
                    actor=surveyor.user,
                    args=args,
                    organization_id=self.organization.id,
                    legacy_surveyor=surveyor.legacy_name,
                    imported=True,
                )
        except Conflict as exc:
            held = self._already_held(Observation, row, args)
            if held is None:
                raise row_refusal(exc, row, cells, headers) from exc
            return "held", held
        except ServiceError as exc:
            raise row_refusal(exc, row, cells, headers) from exc
        if v.get("site_code") and record.site is not None:
            self.site_codes[str(v["site_code"])] = record.site.id
        return _outcome(created), surveyor.note

    def operation(self, row: SheetRow) -> tuple[Outcome, str | None]:
        v = row.values
        code = str(v.get("site_code") or "").strip()
        site_id = self.site_codes.get(code) or db.session.scalar(sa.select(Site.id).where(Site.code == code))
        if site_id is None:
            raise RowRejected(_("Unknown site code."), row.cells.get("site_code"))
        method = self.methods.get(str(v.get("method_code") or "").strip()) or self.methods.get(
            str(v.get("method_name") or "").strip()
        )
        if method is None:
            raise RowRejected(
                _("Unknown control method."), row.cells.get("method_name") or row.cells.get("method_code")
            )
        raw = {
            "client_uuid": str(v.get("client_uuid") or _legacy_uuid(row)),
            "site_id": site_id,
            "method": method,
            "performed_at": _iso(v.get("performed_at")),
            "area_m2": _area(row),
            "details": _parse_details(v.get("details"), method),
            "labour_person_days": v.get("labour_person_days"),
            "cost_yuan": v.get("cost_yuan"),
            "team": v.get("team"),
            "notes": v.get("notes"),
        }
        headers = self.headers.get(row.sheet_key, {})
        cells = _area_cells(row, OPERATION_CELLS)
        args = self._load(ControlOperationCreateArgs(), raw, row, cells, headers)
        operator = self.person(v.get("operator"))
        try:
            with db.session.begin_nested():
                operation, created = control.create_control_operation(
                    actor=operator.user, args=args, organization_id=self.organization.id, imported=True
                )
        except Conflict as exc:
            held = self._already_held(ControlOperation, row, args)
            if held is None:
                raise row_refusal(exc, row, cells, headers) from exc
            return "held", held
        except ServiceError as exc:
            raise row_refusal(exc, row, cells, headers) from exc
        passed = passed_days(operation, local_today()) if created else []
        if not passed:
            return _outcome(created), operator.note
        unscheduled = ngettext(
            "%(num)d re-inspection was not scheduled: its day (%(days)s) had passed.",
            "%(num)d re-inspections were not scheduled: their days (%(days)s) had passed.",
            len(passed),
            days="、".join(day.isoformat() for day in passed),
        )
        return _outcome(created), " ".join(filter(None, [operator.note, unscheduled]))

    def _already_held(self, model: Any, row: SheetRow, args: dict[str, Any]) -> str | None:
        """A row of an exported workbook (its 记录标识 is a record's own client_uuid) naming a record the
        bureau holds with other content (made on a phone, or edited since): the record is already here,
        and an import never changes one. Said so, as a row already there; None for a legacy row (its
        identity derived from its content), whose other figures are a refusal (`_imported_clash`)."""
        if not row.values.get("client_uuid"):
            return None
        existing = db.session.scalar(
            sa.select(model.id).where(
                model.organization_id == self.organization.id, model.client_uuid == args["client_uuid"]
            )
        )
        if existing is None:
            return None
        if model is Observation:
            return _(
                "Record %(id)s is already in the system; this row was not imported again. An import never "
                "changes a record: if the row's figures differ, correct record %(id)s itself.",
                id=existing,
            )
        return _(
            "Control operation %(id)s is already in the system; this row was not imported again. An import "
            "never changes an operation: if the row's figures differ, correct operation %(id)s itself.",
            id=existing,
        )

    @staticmethod
    def _load(
        schema: ma.Schema, raw: dict[str, Any], row: SheetRow, cells: dict[str, str], headers: dict[str, str]
    ) -> dict[str, Any]:
        for name in ("count", "severity"):  # Excel keeps every number as a float: 4.0 is 4
            if isinstance(raw.get(name), float) and raw[name].is_integer():
                raw[name] = int(raw[name])
        try:
            loaded: dict[str, Any] = schema.load({k: val for k, val in raw.items() if val is not None})
        except ma.ValidationError as exc:
            name, message = first_message(exc.normalized_messages())  # type: ignore[no-untyped-call]
            raise RowRejected(field_reason(name, message, cells, headers), cell_of(row, name, cells)) from exc
        return loaded


def _area_m2(area_mu: Any) -> Any:
    return round(to_square_metres(float(area_mu)), 4) if isinstance(area_mu, int | float) else area_mu


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _area(row: SheetRow) -> Any:
    """The row's area in m², from its 亩 column or its m² column (a value that is no number is passed
    on, for the schema to refuse naming its cell). Given in both, they must agree to the 0.01 亩 a 亩
    figure is written to (the m² figure is then taken, the finer); otherwise the row is refused, naming
    both, rather than one of them silently dropped."""
    mu, m2 = row.values.get("area_mu"), row.values.get("area_m2")
    if m2 is None:
        return None if mu is None else _area_m2(mu)
    if mu is None or not _number(m2):
        return round(float(m2), 4) if _number(m2) else m2
    if not _number(mu):
        return mu
    if abs(to_square_metres(float(mu)) - float(m2)) > to_square_metres(0.005) + 1e-9:
        raise RowRejected(
            _(
                "The area is given twice and the two disagree: %(mu)s 亩 in %(mu_cell)s is %(converted)s m², "
                "not the %(m2)s m² in %(m2_cell)s; keep one of them.",
                mu=f"{float(mu):g}",
                mu_cell=row.cells["area_mu"],
                converted=f"{to_square_metres(float(mu)):.2f}",
                m2=f"{float(m2):g}",
                m2_cell=row.cells["area_m2"],
            ),
            row.cells["area_mu"],
        )
    return round(float(m2), 4)


def _area_cells(row: SheetRow, cells: dict[str, str]) -> dict[str, str]:
    """Which workbook field an error about area_m2 names: the m² column when the area came from it."""
    if row.values.get("area_m2") is not None and (
        row.values.get("area_mu") is None or not _number(row.values.get("area_m2"))
    ):
        return {**cells, "area_m2": "area_m2"}
    return cells


def _parse_details(text: Any, method_code: str) -> dict[str, Any]:
    """The 详情 text ("药剂名称: 四聚乙醛；用量: 500.0 克/亩") back into the method's fields."""
    if not text:
        return {}
    method = db.session.scalar(sa.select(ControlMethod).where(ControlMethod.code == method_code))
    fields = {f.get("label_zh") or f["name"]: f for f in (method.fields if method else [])}
    details: dict[str, Any] = {}
    for part in str(text).split("；"):
        label, _, value = part.partition(": ")
        spec = fields.get(label.strip())
        if spec is None:
            details[label.strip()] = value.strip()  # refused by the method's field check, naming it
            continue
        value = value.strip()
        unit = spec.get("unit") or ""
        if unit and value.endswith(" " + unit):
            value = value[: -len(unit) - 1]
        if spec.get("type") in {"number", "integer"}:
            try:
                number = float(value)
                details[spec["name"]] = (
                    int(number) if spec["type"] == "integer" and number.is_integer() else number
                )
            except ValueError:
                details[spec["name"]] = value
        else:
            details[spec["name"]] = value
    return details


def import_census(
    source: BinaryIO | Path,
    *,
    actor: User,
    bureau: str,
    max_rows: int | None = None,
    limits: ReadLimits | None = None,
) -> ImportReport:
    """Import the observation and control-operation sheets of a workbook in the bureau's layout, as
    records of the bureau (the organization whose code is `bureau`).

    Raises PermissionDenied (not a bureau admin of that bureau, nor an admin), InvalidInput naming
    `bureau` (no such organization), reader.ReaderError when the workbook is not in that layout (its
    WorkbookTooLarge when it passes `limits`), and TooLarge (naming `file`, before any row is imported)
    when it holds more than `max_rows` data rows. Each row is imported or rejected on its own (a
    savepoint each); the caller commits.
    """
    if not policy.makes_imports(actor):
        raise PermissionDenied(_("Census workbooks are imported by bureau admins."))
    organization = db.session.scalar(sa.select(Organization).where(Organization.code == bureau))
    if organization is None:
        raise InvalidInput.field("bureau", _("No organization has the code %(code)s.", code=bureau))
    if not policy.may_import_for(actor, organization.id):
        raise PermissionDenied(_("You import your own bureau's census only."))
    layout = load_template(bureau)
    template = with_square_metre_columns(layout.restricted_to({"observations", "control_operations"}))
    if max_rows is not None:
        _refuse_over(source, template, max_rows, limits)
    titles = {sheet.key: sheet.title for sheet in template.sheets}
    importer = Importer(actor, organization, {sheet.key: _headers(sheet) for sheet in template.sheets})
    report = ImportReport()
    rows = _rows(source, template, limits)
    for row in rows:
        handler = importer.observation if row.sheet_key == "observations" else importer.operation
        try:
            outcome, note = handler(row)
        except RowRejected as exc:
            report.rejected += 1
            report.rows.append((titles[row.sheet_key], row.row_number, "rejected", exc.reason, exc.cell))
            continue
        if outcome == "created":
            report.imported += 1
        else:
            report.unchanged += 1
            if outcome == "again":
                note = " ".join(filter(None, [_("imported before; nothing new created"), note]))
        report.rows.append((titles[row.sheet_key], row.row_number, "imported", note, None))
    report.ignored = [not_imported(column) for column in rows.ignored]
    report.unused = [
        not_used(column) for column in rows.columns if column.field not in IMPORTED_FIELDS[column.sheet_key]
    ]
    layout_titles = {header_key(title) for title in (layout.cover_title, *(s.title for s in layout.sheets))}
    report.sheets = [
        sheet_not_imported(
            title, in_template=header_key(title) in layout_titles, imported=list(titles.values())
        )
        for title in rows.unread_sheets
    ]
    return report


def _headers(sheet: SheetSpec) -> dict[str, str]:
    headers: dict[str, str] = {}
    for column in sheet.columns:
        headers.setdefault(column.field, column.header)  # 发生面积（平方米） for area_m2, of its forms
    return headers


def _rows(source: BinaryIO | Path, template: Any, limits: ReadLimits | None) -> CensusRows:
    return read_census(source, template, tz=local_zone(), limits=limits, required=REQUIRED_COLUMNS)


def _refuse_over(source: BinaryIO | Path, template: Any, max_rows: int, limits: ReadLimits | None) -> None:
    """Count the data rows (reading stops at one past the limit) and raise TooLarge when there are more.

    Reading a row costs microseconds and importing one milliseconds, so the count comes first: a
    workbook that is too big is refused at once, not after minutes of work that is then rolled back.
    """
    count = sum(1 for _row in itertools.islice(_rows(source, template, limits), max_rows + 1))
    if not isinstance(source, Path):
        source.seek(0)
    if count > max_rows:
        message = _(
            "The workbook has more than %(limit)s data rows, more than one upload imports; split it, "
            "or ask the administrator to run flask imports census with it.",
            limit=max_rows,
        )
        raise TooLarge(message, {"file": [message]})
