"""The service worker's shell holds every module its pages import: a module left out of it (one split
from another, say) fails to load offline, and the page with it."""

from __future__ import annotations

import posixpath
from pathlib import Path

from app.main.assets import IMPORT
from app.main.offline import SHELL_FILES

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


def test_every_module_a_shell_module_imports_is_in_the_shell() -> None:
    shell = set(SHELL_FILES)
    missing = set()
    for name in (n for n in SHELL_FILES if n.endswith(".js")):
        source = (STATIC / name).read_text(encoding="utf-8")
        for imported in IMPORT.findall(source):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), imported))
            if path not in shell:
                missing.add(f"{path} (imported by {name})")
    assert not missing


def test_every_module_is_under_five_hundred_lines() -> None:
    long = {
        path.name: lines
        for path in (STATIC / "js").glob("*.js")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long
