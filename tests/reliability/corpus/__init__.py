"""The hostile corpus: broken and malicious photos (photos.py) and workbooks (workbooks.py), built in code
(nothing binary committed).

Each `Case` is a file as a client would upload it (name, declared type, bytes) and what the app must
answer: the statuses allowed, and for files taken, a check of the result. Photos go to
POST /api/v1/observations/{id}/photos, workbooks to POST /api/v1/imports?bureau=agriculture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    expect: tuple[int, ...]  # allowed statuses
    filename: str = "upload.bin"
    content_type: str = "application/octet-stream"
    check: Callable[[Any], None] | None = None  # of the JSON answer, when the file was taken

    def __str__(self) -> str:
        return self.name
