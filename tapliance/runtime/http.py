"""A small HTTP/1.1 server run by the event loop: GET requests for metrics, the status page and its API.

No threads: a request is read, answered and written from the same loop that runs the tunnel, so every
response reads one consistent state of the core (a scrape never races the data path) and nothing is
counted per packet on its behalf. A slow or hostile client cannot stall the loop: sockets are
non-blocking, a response that does not fit the socket buffer is finished when the socket is writable
again, requests are bounded (8 KiB of headers, 32 connections, 5 s per connection), and every
connection is closed after its response (``Connection: close``).
"""

from __future__ import annotations

import errno
import hmac
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from tapliance.config import Endpoint

log = logging.getLogger("tapliance.http")
MAX_REQUEST = 8192
MAX_CONNECTIONS = 32
TIMEOUT = 5.0
HEADERS = (
    b"Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
    b"Content-Security-Policy: default-src 'self'; img-src 'self' data:\r\n"
)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


class HttpError(RuntimeError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


Route = Callable[[], Response]


class Poller(Protocol):
    def register(self, fd: int, handler: Callable[[float], None]) -> None: ...
    def unregister(self, fd: int) -> None: ...
    def want_write(self, fd: int, on: bool) -> None: ...


def listen(where: Endpoint) -> socket.socket:
    try:
        return stream_listener(where, 16)
    except OSError as e:
        raise HttpError(f"cannot listen for metrics on {where}: {e.strerror}") from None


def stream_listener(ep: Endpoint, backlog: int) -> socket.socket:
    """A non-blocking TCP listener on ``ep`` (dual stack on ``[::]``); raises OSError."""
    v6 = ":" in ep.host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((ep.host, ep.port))
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


class HttpServer:
    def __init__(
        self,
        sock: socket.socket,
        routes: dict[str, Route],
        token: bytes | None = None,
        public: frozenset[str] = frozenset(),
    ) -> None:
        """``public``: paths served without the token (the page's own files, which hold no data)."""
        self.sock = sock
        self.routes = routes
        self.token = token
        self.public = public
        self.conns: dict[int, _Conn] = {}
        self.poller: Poller | None = None

    def attach(self, poller: Poller) -> None:
        self.poller = poller
        poller.register(self.sock.fileno(), self._accept)

    def flush(self) -> None:
        """Nothing queued between loop turns: responses are written as soon as they are made."""

    def stats(self) -> None:
        return None

    def close(self) -> None:
        for c in list(self.conns.values()):
            self._drop(c)
        self.sock.close()

    def _accept(self, now: float) -> None:
        for c in [c for c in self.conns.values() if now - c.started > TIMEOUT]:
            self._drop(c)
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(self.conns) >= MAX_CONNECTIONS:
            conn.close()
            return
        conn.setblocking(False)
        c = _Conn(conn, now)
        self.conns[conn.fileno()] = c
        assert self.poller is not None
        self.poller.register(conn.fileno(), partial(self._serve, c))

    def _serve(self, c: _Conn, now: float) -> None:  # registered with the poller, bound to its connection
        if not c.out:
            try:
                data = c.sock.recv(MAX_REQUEST)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(c)
                return
            c.inp += data
            if b"\r\n\r\n" not in c.inp:
                if len(c.inp) > MAX_REQUEST:
                    c.out = _render(Response(400, "text/plain", b"request too large\n"))
                else:
                    return
            else:
                c.out = _render(self._answer(c.inp))
        self._write(c)

    def _answer(self, request: bytes) -> Response:
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return Response(400, "text/plain", b"bad request line\n")
        if parts[0] != "GET":
            return Response(405, "text/plain", b"only GET\n")
        path, _, query = parts[1].partition("?")
        if self.token is not None and path not in self.public and not _authorized(head[1:], query, self.token):
            return Response(401, "text/plain", b"a bearer token is required\n")
        route = self.routes.get(path)
        if route is None:
            return Response(404, "text/plain", b"not found\n")
        return route()

    def _write(self, c: _Conn) -> None:
        try:
            sent = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                log.debug("metrics client: %s", e)
            self._drop(c)
            return
        c.out = c.out[sent:]
        if c.out:
            assert self.poller is not None
            self.poller.want_write(c.sock.fileno(), True)
        else:
            self._drop(c)

    def _drop(self, c: _Conn) -> None:
        fd = c.sock.fileno()
        if self.conns.pop(fd, None) is not None and self.poller is not None:
            self.poller.unregister(fd)
        c.sock.close()


class _Conn:
    __slots__ = ("inp", "out", "sock", "started")

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.started = now
        self.inp = b""
        self.out = b""


def _authorized(headers: list[str], query: str, token: bytes) -> bool:
    """``Authorization: Bearer TOKEN``, or ``?token=TOKEN`` (a browser opening the status page has no way to
    send the header; the page then sends it on its own requests)."""
    for item in query.split("&"):
        name, _, value = item.partition("=")
        if name == "token":
            return hmac.compare_digest(value.encode(), token)
    for h in headers:
        name, _, value = h.partition(":")
        if name.strip().lower() == "authorization":
            scheme, _, given = value.strip().partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)
    return False


def _render(r: Response) -> bytes:
    head = f"HTTP/1.1 {r.status} {REASONS.get(r.status, 'OK')}\r\nContent-Type: {r.content_type}\r\n"
    head += f"Content-Length: {len(r.body)}\r\n"
    return head.encode() + HEADERS + b"\r\n" + r.body
