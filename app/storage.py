"""Where files live (photo originals and derivatives, exports), behind a key-value interface.

Services name files by keys such as `photos/display/3f/3f2a….jpg` and never build paths, so that
the files could move to an object store without touching them. `LocalStorage` keeps them under one
directory. Keys come from `new_key` (random, so two uploads never collide), and any key is checked
before use: a key can never name a file outside the root, whatever a caller or a database row says.

Writes are atomic (a temporary file in the same directory, then a rename): a reader sees the whole
old file or the whole new one, never half, and a crash leaves at most a `.tmp-` file, which no key
can name (`files` lists those too, for the job that removes photo files nothing names).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

# Lower case so keys mean the same on case-insensitive file systems; no leading dot in any segment
# (hidden files, and our temporary files, stay out of reach).
_SEGMENT = r"[a-z0-9][a-z0-9_.-]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(/{_SEGMENT})*")
_EXTENSION_RE = re.compile(r"\.[a-z0-9]{1,10}")
MAX_KEY_LENGTH = 200  # the width of the key columns
_TEMPORARY_RE = re.compile(r"\.tmp-[A-Za-z0-9_]+")  # tempfile.mkstemp's names with our prefix


class Storage(Protocol):
    """Files by key. Reading a missing key raises FileNotFoundError; deleting one does nothing."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there, atomically."""
        ...

    def read(self, key: str) -> bytes: ...

    def open(self, key: str) -> BinaryIO:
        """The file for reading, as a binary stream the caller closes."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def path(self, key: str) -> Path:
        """A local file holding the key's bytes (for `send_file`); it may not exist."""
        ...

    def files(self, prefix: str) -> Iterator[StoredFile]:
        """Every file under `prefix`: the keys, and the temporary files of writes cut short."""
        ...

    def delete_file(self, stored: StoredFile) -> None:
        """Delete one file `files` listed, a key's or a temporary one; a missing one does nothing."""
        ...


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative to the root: a key, or a key's directory and a `.tmp-` name no key can be
    modified: float  # seconds since the epoch

    @property
    def temporary(self) -> bool:
        return self.name.rsplit("/", 1)[-1].startswith(".tmp-")


def new_key(prefix: str, extension: str) -> str:
    """A fresh key under `prefix`, e.g. `photos/display/3f/3f2a….jpg`.

    The name is a random UUID, so keys never collide and give nothing away; its first two hex digits
    are a directory of their own, so that no directory grows past a few thousand files.
    """
    prefix = prefix.strip("/")
    validate_key(prefix)
    extension = extension.lower()
    if not extension.startswith("."):
        extension = f".{extension}"
    if not _EXTENSION_RE.fullmatch(extension):
        raise ValueError(f"Bad file extension: {extension!r}")
    name = uuid.uuid4().hex
    return validate_key(f"{prefix}/{name[:2]}/{name}{extension}")


def validate_key(key: str) -> str:
    """`key` itself if it is a well-formed relative key; ValueError otherwise."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise ValueError(f"Bad storage key: {key!r}")
    if any(segment in (".", "..") for segment in key.split("/")):  # the pattern already excludes them
        raise ValueError(f"Bad storage key: {key!r}")
    return key


class LocalStorage:
    """Files under one directory on the local disk; `fsync=True` also survives a power cut."""

    def __init__(self, root: Path | str, *, fsync: bool = False, file_mode: int = 0o640) -> None:
        self.root = Path(root)
        self.fsync = fsync
        # Temporary files are created 0600; a web server in the group may need to read them.
        self.file_mode = file_mode

    def path(self, key: str) -> Path:
        """The file for `key`. ValueError for a bad key or one that leads out of the root (a symlink)."""
        validate_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"Storage key leads outside the storage root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        self._make_directory(path.parent)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fchmod(file.fileno(), self.file_mode)
                if self.fsync:
                    os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        if self.fsync:  # make the rename itself durable
            _fsync_directory(path.parent)

    def _make_directory(self, directory: Path) -> None:
        """`directory` and any parent missing; with `fsync`, each new one's entry in its parent synced too
        (a file synced in a directory whose own entry was lost in a power cut is lost with it)."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for made in reversed(missing):
            made.mkdir(exist_ok=True)
            if self.fsync:
                _fsync_directory(made.parent)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def files(self, prefix: str) -> Iterator[StoredFile]:
        top = self.path(validate_key(prefix.strip("/")))
        root = self.root.resolve()
        if not top.is_dir():
            return
        for directory, _subdirectories, names in os.walk(top):
            for name in names:
                path = Path(directory) / name
                with contextlib.suppress(FileNotFoundError):  # deleted since the listing
                    yield StoredFile(path.relative_to(root).as_posix(), path.lstat().st_mtime)

    def delete_file(self, stored: StoredFile) -> None:
        directory, _, name = stored.name.rpartition("/")
        if not stored.temporary:
            self.delete(stored.name)
            return
        if not _TEMPORARY_RE.fullmatch(name):
            raise ValueError(f"Not a temporary file: {stored.name!r}")
        (self.path(directory) / name).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
