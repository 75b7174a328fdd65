"""Profiles that say where the time goes: cProfile's own time grouped by package (SQLAlchemy, marshmallow,
the database driver, openpyxl, our app …), then our app's functions by cumulative time, then the usual
pstats listings."""

from __future__ import annotations

import cProfile
import io
import pstats
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)")
_STDLIB = re.compile(r"/lib/python3\.\d+/([A-Za-z0-9_]+)")
_BUILTIN_OWNER = re.compile(r"of '([A-Za-z0-9_]+)\.")


def _package(filename: str, function: str) -> str:
    if filename == "~":  # a C function: name its module (sqlite3.Cursor, zlib.Compress …)
        owner = _BUILTIN_OWNER.search(function)
        if owner:
            module = owner.group(1)
            return f"{module} (driver)" if module in ("sqlite3", "psycopg") else f"{module} (C)"
        return "builtins (C)"
    if f"{ROOT}/app/" in filename:
        return "app (ours)"
    if f"{ROOT}/bench/" in filename:
        return "bench (harness)"
    site = _SITE.search(filename)
    if site:
        return site.group(1)
    stdlib = _STDLIB.search(filename)
    if stdlib:
        return f"stdlib {stdlib.group(1)}"
    return "other"


def summary(profiler: cProfile.Profile, *, top: int = 12) -> str:
    """Own time by package, and the app's own functions by cumulative time."""
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    own: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        own[_package(filename, function)] += tottime
    lines = [f"own time by package (of {total:.2f} s profiled):"]
    for package, seconds in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {seconds / total:6.1%}  {seconds:8.2f} s  {package}")
    ours = [
        (entry[3], f"{Path(filename).relative_to(ROOT)}:{line}({function})")
        for (filename, line, function), entry in raw.items()
        if f"{ROOT}/app/" in filename
    ]
    lines.append("our functions by cumulative time (includes what they call):")
    for cumulative, name in sorted(ours, reverse=True)[:top]:
        lines.append(f"  {cumulative / total:6.1%}  {cumulative:8.2f} s  {name}")
    return "\n".join(lines) + "\n"


def listing(profiler: cProfile.Profile, *, cumulative: int = 35, own: int = 20) -> str:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(cumulative)
    stats.sort_stats("tottime").print_stats(own)
    return text.getvalue()


def report(profiler: cProfile.Profile, title: str, *, extra: str = "") -> str:
    """Title, summary, anything the caller adds, then the listings."""
    return f"{title}\n\n{summary(profiler)}\n{extra}{listing(profiler)}"
