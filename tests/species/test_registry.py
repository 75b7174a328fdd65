"""The registry files and `flask species sync`: checked, idempotent, never deleting a species."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.species.models import ListMembership, Species, SpeciesList
from app.species.names import pinyin_initials
from app.species.registry import RegistryError, read_registry
from app.species.services import members_on
from app.species.sync import sync_registry

REGISTRY = Path(__file__).resolve().parents[2] / "species_lists"


@pytest.fixture
def registry_copy(tmp_path: Path) -> Path:
    target = tmp_path / "species_lists"
    shutil.copytree(REGISTRY, target)
    return target


def test_shipped_registry_has_the_published_lists() -> None:
    registry = read_registry(REGISTRY)
    counts = {code: len(spec.members) for code, spec in registry.lists.items()}
    assert counts == {
        "moa-567": 59,
        "mee-ias-1": 16,
        "mee-ias-2": 19,
        "mee-ias-3": 18,
        "mee-ias-4": 18,
        "lp-forestry-national": 12,
        "cq-forestry-supplement": 13,
    }
    rows_567 = sorted(m.row for m in registry.lists["moa-567"].members)
    assert rows_567 == list(range(1, 60))
    unverified = {m.row for m in registry.lists["moa-567"].members if not m.verified}
    assert unverified == {38, 39, 40, 41, 42, 43, 44, 45, 46, 49, 50}


def test_pinyin_initials() -> None:
    assert pinyin_initials("福寿螺") == "fsl"
    assert pinyin_initials("喜旱莲子草") == "xhlzc"


def test_second_sync_changes_nothing() -> None:
    report = sync_registry(REGISTRY)  # the session fixture already synced once
    assert not report.changed_anything
    assert report.species.unchanged == len(read_registry(REGISTRY).species)
    assert report.flagged  # unverified rows and cautions are always reported


def test_a_changed_file_is_reported_as_changed(registry_copy: Path) -> None:
    path = registry_copy / "species.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"大瓶螺", ', '"大瓶螺", "南美螺", '), encoding="utf-8"
    )
    report = sync_registry(registry_copy)
    assert (report.species.changed, report.species.added) == (1, 0)
    snail = db.session.scalar(sa.select(Species).where(Species.key == "pomacea-canaliculata"))
    assert "南美螺" in snail.aliases
    assert not sync_registry(registry_copy).changed_anything


def test_a_species_dropped_from_the_files_is_retired_not_deleted(registry_copy: Path) -> None:
    members = registry_copy / "members" / "cq-forestry-supplement.csv"
    lines = members.read_text(encoding="utf-8").splitlines()
    dropped = next(line for line in lines if "cuscuta-japonica" in line)
    members.write_text("\n".join(line for line in lines if line != dropped) + "\n", encoding="utf-8")
    species_file = registry_copy / "species.toml"
    text = species_file.read_text(encoding="utf-8")
    start = text.index('key = "cuscuta-japonica"')
    block_start = text.rfind("[[species]]", 0, start)
    block_end = text.find("[[species]]", start)
    species_file.write_text(text[:block_start] + text[block_end:], encoding="utf-8")

    report = sync_registry(registry_copy, today=date(2027, 1, 15))
    assert report.species.retired == 1 and report.memberships.retired == 1
    dodder = db.session.scalar(sa.select(Species).where(Species.key == "cuscuta-japonica"))
    assert dodder is not None and dodder.retired_on == date(2027, 1, 15)
    supplement = db.session.scalar(sa.select(SpeciesList).where(SpeciesList.code == "cq-forestry-supplement"))
    assert len(db.session.scalars(members_on(supplement, None)).all()) == 12
    # The list as it stood before the change still has 13 rows.
    assert len(db.session.scalars(members_on(supplement, date(2027, 1, 1))).all()) == 13


def test_a_row_added_later_dates_from_the_sync(registry_copy: Path) -> None:
    members = registry_copy / "members" / "mee-ias-1.csv"
    members.write_text(
        members.read_text(encoding="utf-8") + "17,solidago-canadensis,加拿大一枝黄花,confirmed,true\n",
        encoding="utf-8",
    )
    report = sync_registry(registry_copy, today=date(2027, 3, 1))
    assert report.memberships.added == 1
    added = db.session.scalar(
        sa.select(ListMembership)
        .join(SpeciesList)
        .where(SpeciesList.code == "mee-ias-1", ListMembership.row == 17)
    )
    assert added.added_on == date(2027, 3, 1)
    batch1 = added.species_list
    assert len(db.session.scalars(members_on(batch1, date(2027, 2, 1))).all()) == 16
    assert len(db.session.scalars(members_on(batch1, date(2027, 3, 1))).all()) == 17


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("species.toml", 'group = "mollusc"', 'group = "mollusk"', "group"),
        ("species.toml", "chemical = [1, 3, 7, 15, 30]", "chemical = [30, 7]", "ascending"),
        ("species.toml", "hand_collection = [7, 14]", "teleport = [7]", "unknown control method"),
        ("defaults.toml", "thresholds = [5, 15, 30, 50]", "thresholds = [50, 5]", "thresholds"),
        ("members/moa-567.csv", "pomacea-canaliculata", "pomacea-nonexistent", "not in species.toml"),
        ("lists.toml", 'level = "provincial"', 'level = "county"', "level"),
        ("habitats.toml", 'class = "cropland"', 'class = "paddy"', "is not a [[class]] code"),
        ("habitats.toml", 'code = "ditch"', 'code = "Ditch Side"', "snake_case"),
        ("habitats.toml", 'code = "pond"', 'code = "paddy"', "appears twice"),
    ],
)
def test_broken_files_are_refused_whole_naming_the_problem(
    registry_copy: Path, file: str, old: str, new: str, message: str, count_queries: Any
) -> None:
    path = registry_copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with count_queries() as queries, pytest.raises(RegistryError) as excinfo:
        sync_registry(registry_copy)
    assert any(message in problem for problem in excinfo.value.problems), excinfo.value.problems
    assert queries == []  # nothing was written, or even read, before the files were checked


def test_a_list_code_entered_twice_in_lists_toml_is_refused(registry_copy: Path) -> None:
    """A [[list]] block pasted twice (the second pointing at an older members file) would replace the
    first, and sync would then end the periods of every species the first file held."""
    (registry_copy / "members" / "old.csv").write_text(
        "row,species_key,name_as_listed,status,verified\n1,pomacea-canaliculata,福寿螺,confirmed,true\n",
        encoding="utf-8",
    )
    with (registry_copy / "lists.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[list]]\ncode = "moa-567"\nname = "重复"\nlevel = "national"\nissuer = "x"\n'
            'members = "members/old.csv"\n'
        )
    with pytest.raises(RegistryError) as caught:
        read_registry(registry_copy)
    assert any("'moa-567' appears twice" in p for p in caught.value.problems), caught.value.problems


def test_two_rows_with_the_same_row_number_in_a_members_file_are_refused(registry_copy: Path) -> None:
    path = registry_copy / "members" / "lp-forestry-national.csv"
    text = path.read_text(encoding="utf-8")
    assert "\n2,obolodiplosis-robiniae" in text
    path.write_text(
        text.replace("\n2,obolodiplosis-robiniae", "\n1,obolodiplosis-robiniae"), encoding="utf-8"
    )
    with pytest.raises(RegistryError) as caught:
        read_registry(registry_copy)
    assert any("row 1 is on line 2 too" in p for p in caught.value.problems), caught.value.problems


def test_habitats_are_synced_and_a_removed_one_is_retired(registry_copy: Path, api_as: Any) -> None:
    habitats = api_as("surveyor").get("/api/v1/habitats").get_json()
    paddy = next(h for h in habitats if h["code"] == "paddy")
    assert paddy == {
        "code": "paddy",
        "level": 2,
        "name_zh": "稻田",
        "name_en": "Paddy field",
        "class_code": "cropland",
        "provisional": False,
    }
    assert habitats[0]["level"] == 1  # classes first, in file order
    path = registry_copy / "habitats.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('[[place]]\ncode = "wasteland"')
    path.write_text(text[:start], encoding="utf-8")
    report = sync_registry(registry_copy)
    assert report.habitats.retired == 1
    codes = [h["code"] for h in api_as("surveyor").get("/api/v1/habitats").get_json()]
    assert "wasteland" not in codes


def test_a_next_spring_check_on_29_february_is_accepted_and_30_february_refused(registry_copy: Path) -> None:
    """29 February names a real day (in leap years): the registry keeps it and the schedule falls on
    28 February in other years (tests/control/test_operations.py); 30 February names none."""
    path = registry_copy / "defaults.toml"
    text = path.read_text(encoding="utf-8")
    assert "month = 3\nday = 15" in text
    path.write_text(text.replace("month = 3\nday = 15", "month = 2\nday = 29", 1), encoding="utf-8")
    registry = read_registry(registry_copy)
    assert registry.species["pomacea-canaliculata"].spring_check_md == "02-29"
    path.write_text(text.replace("month = 3\nday = 15", "month = 2\nday = 30", 1), encoding="utf-8")
    with pytest.raises(RegistryError) as excinfo:
        read_registry(registry_copy)
    assert any("[next_spring_check]" in problem for problem in excinfo.value.problems)
