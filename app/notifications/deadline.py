"""A time limit for the whole of one delivery: its connection, its conversation and its answer.

The channels' own timeouts (IAS_WEBHOOK_TIMEOUT_SECONDS, the SMTP timeout) bound each connect and each
read, not the conversation: a receiver that answers one byte every few seconds keeps a delivery going for
hours, holding up its lane and outliving its claim, so that another sender takes the message over and
sends it a second time (docs/notifications.md, "Sending"). `Deadline` bounds the whole: every socket
opened under it is shut down once its time is up, which ends whatever read or write is waiting on it
with an error; the channel then fails as for a dropped connection, and `expired` tells why.

Hand-written: neither urllib nor smtplib has a time limit for a whole exchange, and a per-read timeout
cannot express one (a read may take less than the timeout each time, forever). The watched sockets are
duplicates of the channel's descriptors: shutting one down ends the connection for every descriptor
of it, a TLS layer put over it later included, and the duplicate keeps its descriptor number from being
reused by another connection while the timer may still fire.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from types import TracebackType
from typing import Self


class Deadline:
    """`with Deadline(seconds) as deadline:` … open connections with `on_connect=deadline.watch` …"""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("a deadline must be positive")
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            watched, self._watched = self._watched, []
        for sock in watched:
            sock.close()

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the time is up (at once if it is up already)."""
        # A plain socket on a duplicate descriptor: an SSL socket (SMTPS's) has no dup() of its own.
        duplicate = socket.socket(sock.family, sock.type, sock.proto, os.dup(sock.fileno()))
        with self._lock:
            if self._done:
                duplicate.close()
                return
            self._watched.append(duplicate)
            expired = self.expired
        if expired:
            _shut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._watched:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected (yet, or any more): nothing waits on it
        sock.shutdown(socket.SHUT_RDWR)
