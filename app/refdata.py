"""Shared by the reference-data syncs (species registry, district): tallies and change detection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Tally:
    """What a sync did to one kind of record."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.retired)

    def __str__(self) -> str:
        text = f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged"
        return text + (f", {self.retired} retired" if self.retired else "")


def apply_values(obj: Any, values: dict[str, Any]) -> str:
    """Set the attributes that differ; "changed" if any did, else "unchanged"."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return "changed" if changed else "unchanged"
