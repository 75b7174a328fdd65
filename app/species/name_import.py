"""A district list imported from a spreadsheet of names (.xlsx or .csv), with a report of every row, and
the one species a typed name means.

Each name is matched by Chinese name, alias, Latin name, old synonym or English name against the search
names stored for every species (app/species/names.py). The workbook is read within bounds by the kernel
(app/sheets/names.py).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.clock import local_today
from app.errors import InvalidInput
from app.extensions import db
from app.sheets.names import SheetUnreadable, first_sheet_rows
from app.species.district_lists import add_member
from app.species.editing import (
    check_may_edit_list,
)
from app.species.models import (
    ListMembership,
    NameKind,
    Species,
    SpeciesList,
    SpeciesName,
)

IMPORT_MAX_ROWS = 2000  # a county's 普查清单 has about a hundred names; far more is not a name list
NAME_HEADERS = {"名称", "中文名", "物种", "物种名称", "种名", "名录", "name", "species", "name_zh"}
MATCH_KINDS = (NameKind.NAME, NameKind.ALIAS, NameKind.SCIENTIFIC, NameKind.SYNONYM, NameKind.ENGLISH)


def _cell_text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def read_name_rows(data: bytes, filename: str) -> list[tuple[int, str]]:
    """(row number, name) of a spreadsheet's name column: .xlsx, or .csv in UTF-8 or GB18030.

    The name column is the one headed 名称/中文名/物种/name… in the first row, else the first column.
    Empty rows are skipped. Raises InvalidInput naming `file` for anything else.
    """
    rows: list[list[Any]]
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        try:
            rows = first_sheet_rows(data, IMPORT_MAX_ROWS + 2)
        except SheetUnreadable:
            raise InvalidInput.field("file", _("The file is not a readable .xlsx workbook.")) from None
    elif lower.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InvalidInput.field("file", _("The CSV file is neither UTF-8 nor GB18030 text."))
        rows = [list(r) for r in csv.reader(io.StringIO(text))][: IMPORT_MAX_ROWS + 2]
    else:
        raise InvalidInput.field("file", _("Upload an .xlsx workbook or a .csv file of names."))
    if not rows:
        return []
    column, start = 0, 1
    header = [_cell_text(v).lower() for v in rows[0]]
    for i, text in enumerate(header):
        if text in NAME_HEADERS:
            column, start = i, 2
            break
    names = []
    for number, values in enumerate(rows[start - 1 :], start):
        name = _cell_text(values[column]) if column < len(values) else ""
        if name:
            names.append((number, name))
    if len(names) > IMPORT_MAX_ROWS:
        raise InvalidInput.field(
            "file", _("The file has more than %(n)s names; split it.", n=IMPORT_MAX_ROWS)
        )
    return names


def _match_index(names: list[str]) -> dict[str, set[int]]:
    """Each normalised name (and the binomial of a Latin name with an authority) → species ids."""
    wanted: set[str] = set()
    for name in names:
        wanted.add(name.lower())
        words = name.split()
        if len(words) > 2 and words[0][:1].isupper():
            wanted.add(" ".join(words[:2]).lower())  # "Pomacea canaliculata (Lamarck, 1819)"
    index: dict[str, set[int]] = {}
    if not wanted:
        return index
    rows = db.session.execute(
        sa.select(SpeciesName.value, SpeciesName.species_id)
        .join(Species, Species.id == SpeciesName.species_id)
        .where(
            SpeciesName.kind.in_(MATCH_KINDS),
            SpeciesName.value.in_(sorted(wanted)),
            Species.retired_on.is_(None),
        )
    )
    for value, sid in rows:
        index.setdefault(value, set()).add(sid)
    return index


def import_names(
    actor: User, species_list: SpeciesList, rows: list[tuple[int, str]], *, apply: bool, added_on: date | None
) -> dict[str, Any]:
    """Match each name by Chinese name, alias, Latin name, synonym or English name; report every row.

    Row statuses: `matched` (would be added, or `added` with apply), `on_list` (already there today),
    `duplicate` (the same species earlier in the file), `ambiguous` (several species have that name:
    candidates listed), `unknown` (no species: create it with POST /species, then import again).
    Nothing is added unless `apply` is set; then every matched row is added in one transaction.
    """
    check_may_edit_list(actor, species_list)
    day = added_on or local_today()
    index = _match_index([name for _row, name in rows])
    on_list = set(
        db.session.scalars(
            sa.select(ListMembership.species_id).where(
                ListMembership.list_id == species_list.id, ListMembership.removed_on.is_(None)
            )
        )
    )
    species_by_id: dict[int, Species] = {}
    ids = {sid for sids in index.values() for sid in sids}
    if ids:
        species_by_id = {s.id: s for s in db.session.scalars(sa.select(Species).where(Species.id.in_(ids)))}
    seen: set[int] = set()
    report: list[dict[str, Any]] = []
    counts = {"matched": 0, "added": 0, "on_list": 0, "duplicate": 0, "ambiguous": 0, "unknown": 0}
    for number, name in rows:
        key = name.lower()
        found = index.get(key)
        if not found and len(name.split()) > 2:
            found = index.get(" ".join(name.split()[:2]).lower())
        entry: dict[str, Any] = {"row": number, "name": name, "species": None, "candidates": []}
        if not found:
            entry["status"] = "unknown"
        elif len(found) > 1:
            entry["status"] = "ambiguous"
            entry["candidates"] = sorted((species_by_id[i] for i in found), key=lambda s: s.id)
        else:
            species = species_by_id[next(iter(found))]
            entry["species"] = species
            if species.id in on_list:
                entry["status"] = "on_list"
            elif species.id in seen:
                entry["status"] = "duplicate"
            else:
                entry["status"] = "matched"
                seen.add(species.id)
                if apply:
                    add_member(
                        actor,
                        species_list,
                        {"species_id": species.id, "name_as_listed": name[:100], "added_on": day},
                    )
                    entry["status"] = "added"
        counts[entry["status"]] += 1
        report.append(entry)
    return {"counts": counts, "rows": report, "applied": apply}


def resolve_name(name: str, field: str = "name") -> Species:
    """The one species a typed name (Chinese name, alias, Latin name, synonym, English) means."""
    text = " ".join(name.split())
    if not text:
        raise InvalidInput.field(field, _("type a Chinese name, alias or Latin name"))
    index = _match_index([text])
    found = index.get(text.lower()) or index.get(" ".join(text.split()[:2]).lower()) or set()
    if not found:
        raise InvalidInput.field(field, _("No species is called %(name)s.", name=text))
    if len(found) > 1:
        names = "、".join(
            db.session.scalars(sa.select(Species.name_zh).where(Species.id.in_(found)).order_by(Species.id))
        )
        raise InvalidInput.field(
            field, _("%(name)s could mean %(names)s: type the Latin name.", name=text, names=names)
        )
    return db.session.get_one(Species, next(iter(found)))
