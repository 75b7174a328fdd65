"""Where webhooks may go: public addresses only, so that a webhook cannot reach into the server's own
network (SSRF). Hosts the operator lists in IAS_WEBHOOK_ALLOWED_HOSTS are exempt.

A host is checked by name (localhost, metadata services, local suffixes) and by every address it resolves
to (loopback, private, link-local, shared address space, documentation ranges are refused), when a webhook
is saved (`check_webhook_target`) and again when connecting (`public_opener`): the connection goes to the
very addresses that were checked, so a DNS answer that changes in between gains nothing.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection
from typing import IO, Any

from app.notifications.channels import check_http_url

# Told of each connected socket (app/notifications/deadline.py watches a delivery's).
OnConnect = Callable[[socket.socket], None]

# Cloud metadata services by name (their addresses, 169.254.169.254 and Alibaba's 100.100.100.200,
# are link-local and shared address space, refused as addresses anyway).
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "metadata.azure.com"}
)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class BlockedAddress(OSError):
    """A webhook host that is not on the public Internet (and that the operator did not allow)."""


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is no help
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:a.b.c.d, or 6to4's 2002:aabb:ccdd::, which a host with a
        # 6to4 route sends to a.b.c.d) is judged as that IPv4 address.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    # is_global is false for loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
    # (169.254/16, fe80::/10), shared address space (100.64/10) and the documentation ranges.
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _check_name(host: str) -> None:
    name = host.lower().rstrip(".")
    if name == "localhost" or name in _METADATA_NAMES or name.endswith(_LOCAL_SUFFIXES):
        raise BlockedAddress(f"{host} is a local or metadata name, not a public host")


def _public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for `host`, refusing (BlockedAddress) when any address it resolves to is not public."""
    _check_name(host)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = str(info[4][0])
        if _non_public(address):
            raise BlockedAddress(f"{host} resolves to {address}, which is not a public address")
    return infos


def check_webhook_target(url: str, allowed_hosts: Collection[str] = ()) -> None:
    """For saving a webhook: ValueError for a URL that is not http(s), BlockedAddress for a host that is
    a local or metadata name or an address (or a name resolving to one) off the public Internet.

    A name that does not resolve now is let through: whether it does is checked again at each send.
    """
    check_http_url(url, what="A webhook URL")
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.lower() in {h.lower() for h in allowed_hosts}:
        return
    try:
        _public_addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return


def _connect_public(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    allowed: frozenset[str],
    on_connect: OnConnect | None = None,
) -> socket.socket:
    """socket.create_connection, to the very addresses that were checked (no second lookup that a
    rebinding DNS server could answer differently); `on_connect` is told of the connected socket."""
    sock = _connect_checked(address, timeout, source_address, allowed=allowed)
    if on_connect is not None:
        on_connect(sock)
    return sock


def _connect_checked(
    address: tuple[str, int],
    timeout: float | None,
    source_address: tuple[str, int] | None,
    *,
    allowed: frozenset[str],
) -> socket.socket:
    host, port = address
    if host.lower() in allowed:
        return socket.create_connection(address, timeout, source_address)
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in _public_addresses(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"{host} has no address")


def _guarded(
    connection_class: type[http.client.HTTPConnection], allowed: frozenset[str], on_connect: OnConnect | None
) -> Any:
    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = connection_class(host, **kwargs)
        # http.client connects through this attribute; TLS then checks the certificate against `host`.
        connection._create_connection = functools.partial(  # type: ignore[attr-defined]
            _connect_public, allowed=allowed, on_connect=on_connect
        )
        return connection

    return make


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed: frozenset[str], on_connect: OnConnect | None) -> None:
        super().__init__()
        self._allowed = allowed
        self._on_connect = on_connect

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPConnection, self._allowed, self._on_connect), req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed: frozenset[str], on_connect: OnConnect | None) -> None:
        super().__init__()
        self._allowed = allowed
        self._on_connect = on_connect

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPSConnection, self._allowed, self._on_connect), req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # the 3xx then surfaces as an HTTPError


def public_opener(
    allowed_hosts: Collection[str] = (), on_connect: OnConnect | None = None
) -> urllib.request.OpenerDirector:
    """A urllib opener that connects to public addresses only (`allowed_hosts` exempt), uses no proxy from
    the environment (a proxy would be the one connecting, unchecked) and follows no redirect (a 3xx
    surfaces as an HTTPError). `on_connect` is told of each connection's socket (a delivery's
    deadline.Deadline watches it)."""
    allowed = frozenset(host.lower() for host in allowed_hosts)
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _PublicHTTPHandler(allowed, on_connect),
        _PublicHTTPSHandler(allowed, on_connect),
        _NoRedirects(),
    )
