"""Real servers on loopback for delivery tests: an SMTP server and an HTTP webhook receiver.

Both run in a background thread, bind an ephemeral port on 127.0.0.1, record what they receive, and
can be told to fail the next N messages or requests. Use them as context managers (or call
`start()` / `stop()`); the `smtp_server` and `http_receiver` fixtures in `conftest.py` do that per test.

    from tests.notifications.servers import HttpReceiver, SmtpServer

    with SmtpServer() as smtp:                     # .host, .port
        ...send to smtp.host:smtp.port...
        smtp.messages[0].message["Subject"]        # accepted mail only, as parsed EmailMessage
        smtp.fail_next(2, reply="451 4.3.0 Try again later")      # the next 2 DATA commands
        smtp.fail_next(1, reply="550 5.1.1 No such user", stage="RCPT")
        smtp.drop_next(1)                          # close the connection instead of answering DATA

    with HttpReceiver() as hook:                   # .host, .port, .url ("http://127.0.0.1:PORT")
        ...POST to hook.url + "/robot/send?access_token=t"...
        hook.requests[0].json                      # every request, failed ones too (see `.status`)
        hook.fail_next(1, status=500)              # answer 500 to the next request
        hook.answer_next(1, json={"errcode": 45009, "errmsg": "api freq out of limit"})
        hook.stall_next(1)                         # never answer the next request (client timeout)
        hook.trickle_next(1, every_s=0.2)          # answer 200 a byte at a time, status line first

Plans are consumed in order, one per message (SMTP, per stage) or per request (HTTP); afterwards the
servers behave normally again. SMTP accepts any sender and recipient unless told otherwise; the HTTP
receiver answers 200 `{"errcode": 0, "errmsg": "ok"}` (what WeCom and DingTalk robots answer, and
harmless for generic webhooks).

The SMTP server can also offer and check a login (`SmtpServer(users={"name": "password"})`, successful
logins in `smtp.logins`) and speak TLS
(`starttls=` or `implicit_tls=` a server `ssl.SSLContext`).
"""

from __future__ import annotations

import asyncio
import collections
import email
import email.message
import email.policy
import json
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["HttpReceiver", "ReceivedMail", "ReceivedRequest", "SmtpServer"]

LOOPBACK = "127.0.0.1"

SmtpStage = Literal["MAIL", "RCPT", "DATA"]


class _Running:
    """start/stop as a context manager."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the envelope and the raw bytes as they came over the wire."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


_DROP = None  # a planned "reply" that closes the connection instead


class _Handler:
    """aiosmtpd hooks: record accepted mail, play the planned failures."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        planned = self.server._planned("MAIL", smtp)
        if planned:
            return planned
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        planned = self.server._planned("RCPT", smtp)
        if planned:
            return planned
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        planned = self.server._planned("DATA", smtp)
        if planned:
            return planned
        assert isinstance(envelope.original_content, bytes)
        self.server.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=envelope.original_content,
            )
        )
        return "250 OK: queued"


class _Controller(Controller):
    """aiosmtpd's controller, able to bind port 0: it pokes the server on `self.port` once it listens,
    so `self.port` must be the port actually bound by then."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer(_Running):
    """An SMTP server on 127.0.0.1 that keeps what it accepts in `messages` (a list of ReceivedMail).

    `users`: name → password; when given, AUTH (PLAIN, LOGIN) is offered and checked (not required).
    `starttls`: a server SSLContext to offer STARTTLS with (AUTH then only after it);
    `implicit_tls`: a server SSLContext for TLS from the first byte (SMTPS).
    """

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []  # user names that logged in successfully
        self._users = users
        self._plans: dict[SmtpStage, collections.deque[str | None]] = {
            stage: collections.deque() for stage in ("MAIL", "RCPT", "DATA")
        }
        options: dict[str, Any] = {}
        if users is not None:
            options["authenticator"] = self._authenticate
            # Over SMTPS the whole session is encrypted, but aiosmtpd only counts STARTTLS as TLS.
            options["auth_require_tls"] = starttls is not None
        if starttls is not None:
            options["tls_context"] = starttls
        self._controller = _Controller(
            _Handler(self),
            hostname=LOOPBACK,
            port=0,
            ssl_context=implicit_tls,
            server_hostname="smtp.test",  # else aiosmtpd asks socket.getfqdn(), which can be slow
            **options,
        )

    def fail_next(
        self, count: int = 1, *, reply: str = "451 4.3.0 Try again later", stage: SmtpStage = "DATA"
    ) -> None:
        """Answer the next `count` MAIL, RCPT (one per recipient) or DATA commands with `reply`."""
        self._plans[stage].extend([reply] * count)

    def drop_next(self, count: int = 1, *, stage: SmtpStage = "DATA") -> None:
        """Close the connection instead of answering the next `count` commands of `stage`. At DATA
        the message has been transferred but not accepted: the sender cannot know which."""
        self._plans[stage].extend([_DROP] * count)

    def _planned(self, stage: SmtpStage, smtp: SMTP) -> str | None:
        """The reply planned for this command, if any; for a drop, the connection is closed and the
        reply written after it is lost."""
        try:
            planned = self._plans[stage].popleft()
        except IndexError:
            return None
        if planned is _DROP:
            assert smtp.transport is not None
            smtp.transport.close()
            return "421 4.4.2 Connection dropped"  # never reaches the client
        return planned

    def _authenticate(
        self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._users is None:
            return AuthResult(success=False, handled=False)
        name = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if self._users.get(name) != password:
            return AuthResult(success=False, handled=False)
        self.logins.append(name)
        return AuthResult(success=True)

    def start(self) -> None:
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        self._controller.stop()


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as received, and the status it was answered with (None: never answered)."""

    method: str
    path: str  # with the query string
    headers: email.message.Message  # case-insensitive: request.headers["content-type"]
    body: bytes
    status: int | None

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (UTF-8); it fails the test if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class _Answer:
    status: int = 200
    body: bytes = b'{"errcode": 0, "errmsg": "ok"}'
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False
    trickle_s: float | None = None  # seconds between the body's bytes


_OK = _Answer()


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        answer = receiver._next_answer()
        receiver.requests.append(
            ReceivedRequest(
                method=self.command,
                path=self.path,
                headers=self.headers,
                body=body,
                status=None if answer.stall else answer.status,
            )
        )
        if answer.stall:
            # Hold the request until the test ends (or a long while); the client times out first.
            receiver._released.wait(_STALL_MAX_S)
            self.close_connection = True
            return
        if answer.trickle_s is not None:
            self._trickle(answer)
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _trickle(self, answer: _Answer) -> None:
        """The whole answer, status line first, a byte every `answer.trickle_s` seconds."""
        head = f"HTTP/1.1 {answer.status} OK\r\nContent-Type: {answer.content_type}\r\n"
        head += f"Content-Length: {len(answer.body)}\r\n\r\n"
        self.close_connection = True
        for byte in head.encode("ascii") + answer.body:  # each well inside any read timeout; the whole not
            if self.server.receiver._released.wait(answer.trickle_s):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:  # the client gave up
                return

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


_STALL_MAX_S = 30.0


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: HttpReceiver) -> None:
        super().__init__((LOOPBACK, 0), _RequestHandler)
        self.receiver = receiver


class HttpReceiver(_Running):
    """An HTTP server on 127.0.0.1 that keeps every request in `requests` (a list of ReceivedRequest)."""

    def __init__(self) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.requests: list[ReceivedRequest] = []
        self._answers: collections.deque[_Answer] = collections.deque()
        self._released = threading.Event()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: `receiver.url + "/hook"`."""
        return f"http://{self.host}:{self.port}"

    def fail_next(self, count: int = 1, *, status: int = 500, headers: dict[str, str] | None = None) -> None:
        """Answer the next `count` requests with `status` and a short JSON error body."""
        body = json.dumps({"error": f"planned failure {status}"}).encode()
        self._answers.extend([_Answer(status=status, body=body, headers=headers or {})] * count)

    def answer_next(self, count: int = 1, *, json: Any, status: int = 200) -> None:
        """Answer the next `count` requests with this JSON body (e.g. a robot's non-zero errcode)."""
        body = _json_bytes(json)
        self._answers.extend([_Answer(status=status, body=body)] * count)

    def stall_next(self, count: int = 1) -> None:
        """Read the next `count` requests and never answer them (until `stop()`): clients time out."""
        self._answers.extend([_Answer(stall=True)] * count)

    def trickle_next(self, count: int = 1, *, every_s: float = 0.2) -> None:
        """Answer the next `count` requests 200, one byte every `every_s` seconds from the status line on
        (a body of a thousand bytes): no read waits long, the whole answer takes minutes."""
        body = b'{"errcode": 0, "errmsg": "ok", "pad": "' + b"x" * 960 + b'"}'
        self._answers.extend([_Answer(body=body, trickle_s=every_s)] * count)

    def recover(self) -> None:
        """Forget the planned answers: every request from now on is answered 200 (an outage ends)."""
        self._answers.clear()

    def _next_answer(self) -> _Answer:
        try:
            return self._answers.popleft()
        except IndexError:
            return _OK

    def start(self) -> None:
        assert self._server is None, "already running"
        self._released.clear()
        self._server = _HttpServer(self)
        self.port = self._server.server_address[1]
        # A short poll interval: stop() waits up to one interval for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="http-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._released.set()  # let stalled requests finish
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = None
        self._thread = None


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
