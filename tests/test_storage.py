"""LocalStorage: atomic writes, keys that cannot escape the root, names that cannot collide."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from app.storage import LocalStorage, StoredFile, new_key, validate_key


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def test_put_read_open_exists_delete(store: LocalStorage) -> None:
    key = "photos/display/ab/abc.jpg"
    assert not store.exists(key)
    store.put(key, b"\xff\xd8first")
    assert store.exists(key)
    assert store.read(key) == b"\xff\xd8first"
    with store.open(key) as file:
        assert file.read() == b"\xff\xd8first"
    assert store.path(key) == (store.root / key).resolve()
    store.delete(key)
    assert not store.exists(key)
    assert not store.path(key).exists()


def test_put_replaces_and_leaves_no_temporary_files(store: LocalStorage) -> None:
    key = "exports/2024/report.xlsx"
    store.put(key, b"old")
    store.put(key, b"new, and longer")
    assert store.read(key) == b"new, and longer"
    assert sorted(p.name for p in store.path(key).parent.iterdir()) == ["report.xlsx"]


def test_a_failed_write_keeps_the_old_file_whole(
    store: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "photos/original/ab/abc.heic"
    store.put(key, b"the original")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put(key, b"half a new file")
    monkeypatch.undo()
    assert store.read(key) == b"the original"
    assert [p.name for p in store.path(key).parent.iterdir()] == ["abc.heic"]


def test_fsync_mode_writes_the_same(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path, fsync=True)
    store.put("a/b.bin", b"\x00" * 1000)
    assert store.read("a/b.bin") == b"\x00" * 1000


def test_files_get_the_configured_mode(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path, file_mode=0o644)
    store.put("a/b.jpg", b"x")
    assert stat.S_IMODE(store.path("a/b.jpg").stat().st_mode) == 0o644


def test_missing_keys(store: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError):
        store.read("photos/none.jpg")
    with pytest.raises(FileNotFoundError):
        store.open("photos/none.jpg")
    store.delete("photos/none.jpg")  # not an error
    assert not store.exists("photos/none.jpg")


BAD_KEYS = [
    "",
    "../x",
    "/etc/passwd",
    "a/../../b",
    "a/./b",
    "..",
    "a\\..\\b",
    "photos\\x.jpg",
    "a\x00b",
    "Photos/x.jpg",
    "photos/X.JPG",
    "photos//x.jpg",
    "photos/x.jpg/",
    "photos/.tmp-abc",
    ".hidden",
    "-rf",
    "photos/ x.jpg",
    "photos/x.jpg\n",
    "照片/x.jpg",
    "a" * 201,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(store: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError, match="Bad storage key"):
        validate_key(key)
    for operation in (store.path, store.read, store.open, store.exists, store.delete):
        with pytest.raises(ValueError):
            operation(key)
    with pytest.raises(ValueError):
        store.put(key, b"x")
    assert not (store.root.parent / "x").exists() and not (store.root.parent / "b").exists()


def test_a_symlink_cannot_lead_out_of_the_root(store: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir(parents=True)
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        store.put("link/secret.txt", b"x")
    assert not (outside / "secret.txt").exists()


def test_new_keys_are_sharded_random_and_valid() -> None:
    keys = {new_key("photos/display", ".jpg") for _ in range(2000)}
    assert len(keys) == 2000
    for key in keys:
        assert validate_key(key) == key
        match = re.fullmatch(r"photos/display/([0-9a-f]{2})/([0-9a-f]{32})\.jpg", key)
        assert match is not None and match[2].startswith(match[1])
    assert len({key.split("/")[2] for key in keys}) > 200  # the shards spread


def test_new_key_normalises_the_extension() -> None:
    assert new_key("photos/original", "HEIC").endswith(".heic")
    assert new_key("/exports/", ".xlsx").startswith("exports/")


@pytest.mark.parametrize(
    ("prefix", "extension"), [("../photos", ".jpg"), ("photos", ".j/pg"), ("photos", "."), ("", ".jpg")]
)
def test_new_key_refuses_bad_parts(prefix: str, extension: str) -> None:
    with pytest.raises(ValueError):
        new_key(prefix, extension)


def test_files_lists_keys_and_temporary_files_and_deletes_only_those(store: LocalStorage) -> None:
    store.put("photos/thumb/ab/abc.jpg", b"a thumbnail")
    temporary = store.root / "photos" / "thumb" / "ab" / ".tmp-x1_y2"
    temporary.write_bytes(b"half")
    listed = sorted(store.files("photos"), key=lambda f: f.name)
    assert [(f.name, f.temporary) for f in listed] == [
        ("photos/thumb/ab/.tmp-x1_y2", True),
        ("photos/thumb/ab/abc.jpg", False),
    ]
    assert list(store.files("exports")) == []  # nothing there yet
    for stored in listed:
        store.delete_file(stored)
    assert list(store.files("photos")) == []
    for crafted in ("photos/../../escape", "photos/thumb/ab/.hidden", "../outside/.tmp-abc"):
        with pytest.raises(ValueError):
            store.delete_file(StoredFile(crafted, 0.0))
