"""The repository is self-contained: what its code and documents cite is in it (docs/, not the files the
project was first specified in, which a newcomer who clones it does not have)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("app", "bench", "districts", "docs", "migrations", "species_lists", "tests")
SUFFIXES = {".py", ".md", ".toml", ".js", ".html", ".csv", ".cfg", ".txt", ".json"}
OUTSIDE = re.compile(r"SPEC\.md|STYLE\.md|shared/(reference|seed)|\.\./shared")


def test_nothing_cites_a_file_outside_the_repository() -> None:
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in CHECKED:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    this = Path(__file__).resolve()
    citing = sorted(
        str(path.relative_to(ROOT))
        for path in files
        if path.resolve() != this and OUTSIDE.search(path.read_text(encoding="utf-8", errors="replace"))
    )
    assert citing == []
