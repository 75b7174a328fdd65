"""HTTP from the outside, as a phone on a bad network sends it: whole requests, and requests given up on.

`call` sends a request and reads the answer. `send_and_drop` writes a request (or only the first part
of its body) on a raw socket and closes the connection without reading anything: the server may or may
not act on it, and the client cannot know which. `call(..., timeout=0.05)` gives up the same way, but
while waiting.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.body[:300]!r}>"


@dataclass(frozen=True)
class Request:
    """A request ready to go out, the same bytes each time it is sent (a retry)."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


def json_request(method: str, path: str, token: str, payload: Any) -> Request:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Request(
        method,
        path,
        body,
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"},
    )


def get_request(path: str, token: str) -> Request:
    return Request("GET", path, b"", {"Authorization": f"Bearer {token}"})


def upload_request(
    path: str,
    token: str,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    field: str = "file",
) -> Request:
    """A multipart/form-data POST with one file, as a browser's FormData sends it."""
    boundary = f"----reliability{uuid.uuid4().hex}"
    quoted = filename.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return Request(
        "POST",
        path,
        body,
        {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def call(host: str, port: int, request: Request, *, timeout: float = 60.0) -> Reply:
    """Send and read the answer. Raises OSError (socket.timeout included) when none comes."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(request.method, request.path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def send_and_drop(host: str, port: int, request: Request, *, fraction: float = 1.0) -> None:
    """Write the request, or its head and `fraction` of its body, then close without reading."""
    head = f"{request.method} {request.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    head += f"Content-Length: {len(request.body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + request.body[: int(len(request.body) * fraction)])
