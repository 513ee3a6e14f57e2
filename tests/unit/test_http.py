"""The in-loop HTTP server on real loopback sockets (no root): routes, the bearer token, bounds, and a slow
client that cannot hold up the others."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tapliance.config import Endpoint
from tapliance.runtime import http

TOKEN = b"s3cret-token-0123456789"


class Loop:
    """Just enough of the runtime's poller to drive the server in a test."""

    def __init__(self) -> None:
        self.ep = select.epoll()
        self.handlers: dict[int, Callable[[float], None]] = {}

    def register(self, fd: int, handler: Callable[[float], None]) -> None:
        self.handlers[fd] = handler
        self.ep.register(fd, select.EPOLLIN)

    def unregister(self, fd: int) -> None:
        self.handlers.pop(fd)
        self.ep.unregister(fd)

    def want_write(self, fd: int, on: bool) -> None:
        self.ep.modify(fd, select.EPOLLIN | (select.EPOLLOUT if on else 0))

    def spin(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for fd, _ in self.ep.poll(0.01):
                if fd in self.handlers:
                    self.handlers[fd](time.monotonic())


@pytest.fixture
def served() -> Iterator[tuple[Loop, http.HttpServer, int]]:
    loop = Loop()
    big = b"x" * (2 << 20)  # larger than a socket buffer: written over several loop turns
    routes = {
        "/hello": lambda: http.Response(200, "text/plain", b"hi\n"),
        "/big": lambda: http.Response(200, "text/plain", big),
    }
    server = http.HttpServer(http.listen(Endpoint("127.0.0.1", 0)), routes)
    server.attach(loop)
    yield loop, server, server.sock.getsockname()[1]
    server.close()


def get(loop: Loop, port: int, request: bytes) -> bytes:
    c = socket.create_connection(("127.0.0.1", port))
    c.setblocking(False)
    c.sendall(request)
    out = b""
    for _ in range(500):
        loop.spin(0.01)
        try:
            chunk = c.recv(1 << 20)
        except BlockingIOError:
            continue
        if not chunk:
            break
        out += chunk
    c.close()
    return out


def test_routes_and_errors(served: tuple[Loop, http.HttpServer, int]) -> None:
    loop, _, port = served
    ok = get(loop, port, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"\r\n\r\nhi\n")
    assert b"Content-Length: 3\r\n" in ok and b"Connection: close" in ok and b"default-src 'self'" in ok
    assert get(loop, port, b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert get(loop, port, b"POST /hello HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405")
    assert get(loop, port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert get(loop, port, b"GET /hello HTTP/1.1\r\nX: " + b"a" * 9000).startswith(b"HTTP/1.1 400")


def test_a_response_bigger_than_the_socket_buffer(served: tuple[Loop, http.HttpServer, int]) -> None:
    loop, _, port = served
    out = get(loop, port, b"GET /big HTTP/1.1\r\n\r\n")
    assert out.endswith(b"x" * 1000) and len(out.split(b"\r\n\r\n", 1)[1]) == 2 << 20


def test_a_slow_client_does_not_hold_up_others(served: tuple[Loop, http.HttpServer, int]) -> None:
    loop, server, port = served
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /hel")  # never finishes its request
    loop.spin(0.05)
    assert get(loop, port, b"GET /hello HTTP/1.1\r\n\r\n").endswith(b"hi\n")
    server.conns[next(iter(server.conns))].started -= http.TIMEOUT + 1  # the slow one is past its time
    get(loop, port, b"GET /hello HTTP/1.1\r\n\r\n")  # the next accept sweeps it
    assert len(server.conns) == 0
    slow.close()


def test_the_bearer_token(served: tuple[Loop, http.HttpServer, int]) -> None:
    loop, server, port = served
    server.token = TOKEN
    assert get(loop, port, b"GET /hello HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 401")
    wrong = b"GET /hello HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n"
    assert get(loop, port, wrong).startswith(b"HTTP/1.1 401")
    right = b"GET /hello HTTP/1.1\r\nAuthorization: Bearer " + TOKEN + b"\r\n\r\n"
    assert get(loop, port, right).startswith(b"HTTP/1.1 200")
    assert get(loop, port, b"GET /hello?token=" + TOKEN + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert get(loop, port, b"GET /hello?token=no HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 401")
    server.public = frozenset({"/hello"})  # the page's own files are served without it
    assert get(loop, port, b"GET /hello HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_a_listen_address_in_use_is_one_line() -> None:
    s = http.listen(Endpoint("127.0.0.1", 0))
    try:
        with pytest.raises(http.HttpError, match=r"^cannot listen for metrics on 127\.0\.0\.1:\d+: "):
            http.listen(Endpoint("127.0.0.1", s.getsockname()[1]))
    finally:
        s.close()
