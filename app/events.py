"""Domain events: how a lower domain lets a higher one react without importing it.

Observations and control sit below notifications in the domain order (docs/architecture.md), so a review
cannot call `notifications` to tell the surveyor. It publishes an event instead; notifications subscribes
to it when the app is built. Handlers run at once, in the publisher's unit of work: what they write is
committed or rolled back with what raised the event, so a rolled-back review never sends a message.

An event is a frozen dataclass defined by the domain that publishes it (for example
`app/observations/events.py`), carrying ids and values, never a session-bound object that a handler could
change by accident.

Deliberately small: in-process and synchronous, no queue, no retries (delivery retries are the outbox's
job, see app/notifications). Handlers are registered once per process by `subscribe`, normally from a
domain's `init_app`.

`publish` returns what the handlers returned, in order (most return None): a publisher whose reader must
hear what a higher domain did about the event (accounts saying how many re-inspections a moved user's
organization took back) reads it there, still without importing that domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")

_handlers: dict[type, list[Callable[[Any], object]]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], object]) -> None:
    """Call `handler(event)` for every published event of `event_type`. Idempotent per handler."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(event: object) -> list[object]:
    """Run every handler subscribed to the event's type, in the order they subscribed; what they returned."""
    return [handler(event) for handler in list(_handlers.get(type(event), ()))]


def handlers(event_type: type) -> list[Callable[[Any], object]]:
    """The handlers of one event type (for tests and the architecture check)."""
    return list(_handlers.get(event_type, ()))
