"""Species names as surveyors type them: pinyin, initials, and the search names stored for each species."""

from __future__ import annotations

import re

from app.extensions import db
from app.species.models import (
    NAME_KIND_WEIGHT,
    NameKind,
    Species,
    SpeciesName,
)


def pinyin_full(text: str, reading: str | None = None) -> str:
    """福寿螺 → fushouluo (letters only: punctuation and spaces dropped).

    `reading` is an override ("chang mang xian") for a name whose polyphonic characters pypinyin
    reads wrongly (长芒苋 is not zhang-mang-xian).
    """
    if reading:
        return re.sub(r"[^a-z0-9]", "", reading.lower())
    # Imported here: pypinyin's dictionaries take ~55 MB, and only writing names needs them
    # (search matches the pinyin stored with the names), not every web worker's search.
    from pypinyin import Style, lazy_pinyin

    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.NORMAL)).lower())


def pinyin_initials(text: str, reading: str | None = None) -> str:
    """福寿螺 → fsl; with a reading, the first letter of each of its syllables."""
    if reading:
        return "".join(syllable[0] for syllable in reading.lower().split())
    from pypinyin import Style, lazy_pinyin

    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower())


def normalize_query(text: str) -> str:
    return " ".join(text.lower().split())


def search_names(
    *,
    name_zh: str,
    name_sci: str,
    aliases: list[str] | tuple[str, ...] = (),
    synonyms: list[str] | tuple[str, ...] = (),
    names_en: list[str] | tuple[str, ...] = (),
    pinyin: dict[str, str] | None = None,
) -> set[tuple[NameKind, str]]:
    """Every form a surveyor might type for this species, normalised for LIKE matching."""
    pinyin = pinyin or {}
    names: set[tuple[NameKind, str]] = {
        (NameKind.NAME, name_zh),
        (NameKind.SCIENTIFIC, normalize_query(name_sci)),
    }
    for alias in aliases:
        names.add((NameKind.ALIAS, alias))
    for synonym in synonyms:
        names.add((NameKind.SYNONYM, normalize_query(synonym)))
    for english in names_en:
        names.add((NameKind.ENGLISH, normalize_query(english)))
    for chinese in (name_zh, *aliases):
        names.add((NameKind.PINYIN, pinyin_full(chinese, pinyin.get(chinese))))
        names.add((NameKind.INITIALS, pinyin_initials(chinese, pinyin.get(chinese))))
    return {(kind, value) for kind, value in names if value}


def species_search_names(species: Species) -> set[tuple[NameKind, str]]:
    """The search names of a species as it stands: its files' names and its local edits."""
    return search_names(
        name_zh=species.name_zh,
        name_sci=species.name_sci,
        aliases=species.all_aliases,
        synonyms=species.all_synonyms,
        names_en=species.all_names_en,
        pinyin=species.all_pinyin,
    )


def write_search_names(species: Species, current: dict[tuple[NameKind, str], SpeciesName]) -> None:
    """Make the stored search names of one species match its names (`current`: what is stored)."""
    wanted = species_search_names(species)
    for name_key, row in current.items():
        if name_key not in wanted:
            db.session.delete(row)
    for kind, value in wanted - current.keys():
        db.session.add(
            SpeciesName(species_id=species.id, kind=kind, weight=NAME_KIND_WEIGHT[kind], value=value)
        )
