"""Every string the UI and API show is in the Chinese catalogue, translated (Chinese is the default)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "app"), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_into_chinese() -> None:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]  # a plural's singular form names it
        for m in catalogue
        if m.id and (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy
    }
    missing = sorted(source_messages() - translated)
    assert not missing, f"run `make extract-messages` and translate: {missing}"


def test_placeholders_survive_translation() -> None:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh)
    problems = [(m.id, errors) for m in catalogue if m.id and (errors := m.check(catalogue))]
    assert problems == []


def test_each_message_is_translated_once() -> None:
    """Two entries for one message (two branches adding the same string) would silently keep the last."""
    text = CATALOGUE.read_text(encoding="utf-8")
    entries = re.findall(r'^(msgctxt "(?:[^"\\]|\\.)*"\n)?msgid ((?:"(?:[^"\\]|\\.)*"\n)+)', text, re.M)
    counts = Counter(entries)
    assert [entry for entry, n in counts.items() if n > 1 and entry[1].strip() != '""'] == []
