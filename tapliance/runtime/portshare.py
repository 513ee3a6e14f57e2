"""Port sharing: one TCP port (e.g. 443) for the tunnel and another server (HTTPS, SSH).

Every accepted connection is sniffed: if its first 10 bytes are the QuickTun preamble
``80 08 51 55 49 43 4B 54 55 4E`` (protocol identification, which a QuickTun TCP client sends first), it
is the tunnel's; as soon as a byte differs, or when the client has said nothing for ``SNIFF_WAIT``
seconds (protocols where the server speaks first), the connection is relayed unchanged to the
backend, optionally after a PROXY protocol v2 header so the backend sees the real client address.
The relay copies both ways with bounded buffers (a side's reading pauses while the other's buffer is
full) and passes half-closes on.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tapliance.config import Endpoint
from tapliance.proto.qtcp.wire import PREAMBLE

if TYPE_CHECKING:
    from tapliance.runtime.loop import Poller

Adopt = Callable[[socket.socket, tuple[str, int], bytes, float], None]

log = logging.getLogger("tapliance")
SNIFF_WAIT = 1.0
BUFFER = 262144
MAX_RELAYS = 512
PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2_header(src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    """PROXY protocol v2, PROXY command, TCP over IPv4 or IPv6 (v4 addresses mapped if the two differ)."""
    a, b = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if a.version == b.version == 4:
        body = a.packed + b.packed + struct.pack("!HH", src[1], dst[1])
        fam = 0x11
    else:
        a6 = a if a.version == 6 else ipaddress.IPv6Address(f"::ffff:{a}")
        b6 = b if b.version == 6 else ipaddress.IPv6Address(f"::ffff:{b}")
        body = a6.packed + b6.packed + struct.pack("!HH", src[1], dst[1])
        fam = 0x21
    return PROXY_V2_SIGNATURE + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


@dataclass
class _Pending:
    sock: socket.socket
    addr: tuple[str, int]
    deadline: float
    buf: bytearray = field(default_factory=bytearray)


@dataclass
class _Side:
    sock: socket.socket
    out: bytearray = field(default_factory=bytearray)  # bytes for this side
    read_closed: bool = False
    shut: bool = False
    registered: bool = False
    writing: bool = False


class Sharer:
    def __init__(self, backend: Endpoint, proxy_v2: bool, adopt: Adopt, poller: Callable[[], Poller]) -> None:
        """``adopt``: hands a connection that speaks the tunnel's protocol back (with the bytes read);
        ``poller``: the loop the transport attached to."""
        self.backend = backend
        self.proxy_v2 = proxy_v2
        self.adopt = adopt
        self._poller = poller
        self.pending: dict[int, _Pending] = {}
        self.relays = 0
        self.passed = self.failed = 0

    @property
    def poller(self) -> Poller:
        return self._poller()

    def sniff(self, s: socket.socket, addr: tuple[str, int], now: float) -> None:
        p = _Pending(s, addr, now + SNIFF_WAIT)
        self.pending[s.fileno()] = p
        self.poller.register(s.fileno(), lambda t: self._sniffed(p, t))

    def _sniffed(self, p: _Pending, now: float) -> None:
        try:
            data = p.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(p)
            p.sock.close()
            return
        p.buf += data
        n = min(len(p.buf), len(PREAMBLE))
        if p.buf[:n] != PREAMBLE[:n]:
            self._to_backend(p)
        elif len(p.buf) >= len(PREAMBLE):
            self._drop(p)
            self.adopt(p.sock, p.addr, bytes(p.buf), now)

    def sweep(self, now: float) -> None:
        for p in [p for p in self.pending.values() if now >= p.deadline]:
            self._to_backend(p)

    def _drop(self, p: _Pending) -> None:
        self.pending.pop(p.sock.fileno(), None)
        self.poller.unregister(p.sock.fileno())

    def _to_backend(self, p: _Pending) -> None:
        self._drop(p)
        if self.relays >= MAX_RELAYS:
            p.sock.close()
            self.failed += 1
            return
        b = socket.socket(socket.AF_INET6 if ":" in self.backend.host else socket.AF_INET, socket.SOCK_STREAM)
        b.setblocking(False)
        err = b.connect_ex((self.backend.host, self.backend.port))
        if err not in (0, errno.EINPROGRESS):
            log.warning("port sharing: cannot reach the backend %s: %s", self.backend, errno.errorcode.get(err, err))
            b.close()
            p.sock.close()
            self.failed += 1
            return
        head = proxy_v2_header(p.addr, _local(p.sock)) if self.proxy_v2 else b""
        client, backend = _Side(p.sock), _Side(b, bytearray(head + p.buf))
        self.relays += 1
        self.passed += 1
        log.debug("port sharing: %s:%s to the backend %s", p.addr[0], p.addr[1], self.backend)
        _Relay(self, client, backend)

    def stats(self) -> dict[str, object]:
        return {
            "share_backend": str(self.backend),
            "shared_active": self.relays,
            "shared_total": self.passed,
            "shared_failed": self.failed,
        }

    def close(self) -> None:
        for p in self.pending.values():
            p.sock.close()
        self.pending.clear()


def _local(s: socket.socket) -> tuple[str, int]:
    host, port = s.getsockname()[:2]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, port)


class _Relay:
    """Bytes both ways between a client and the backend until both have closed."""

    def __init__(self, sharer: Sharer, client: _Side, backend: _Side) -> None:
        self.sharer = sharer
        self.a, self.b = client, backend
        self.done = False
        for side in (client, backend):
            self._listen(side, True)
        self._want(backend, True)  # the connect's completion, and the bytes already read

    def _listen(self, side: _Side, on: bool) -> None:
        poller = self.sharer.poller
        if on and not side.registered:
            poller.register(side.sock.fileno(), lambda _now: self.pump())
            side.registered, side.writing = True, False
            if side.out:
                self._want(side, True)
        elif not on and side.registered:
            poller.unregister(side.sock.fileno())
            side.registered = False

    def _want(self, side: _Side, on: bool) -> None:
        if side.registered and side.writing != on:
            side.writing = on
            self.sharer.poller.want_write(side.sock.fileno(), on)

    def pump(self) -> None:
        try:
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                self._move(src, dst)
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                self._send(dst)
                if src.read_closed and not dst.out and not dst.shut:
                    dst.shut = True
                    dst.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            if e.errno not in (errno.EAGAIN,):
                self.close()
                return
        if self.a.read_closed and self.b.read_closed and not self.a.out and not self.b.out:
            self.close()
            return
        for src, dst in ((self.a, self.b), (self.b, self.a)):
            # read from src only while dst's buffer has room (and src has not ended)
            self._listen(src, (len(dst.out) < BUFFER and not src.read_closed) or bool(src.out))
            self._want(src, bool(src.out))

    def _move(self, src: _Side, dst: _Side) -> None:
        if src.read_closed or len(dst.out) >= BUFFER or not src.registered:
            return
        try:
            data = src.sock.recv(BUFFER - len(dst.out))
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            src.read_closed = True
        dst.out += data

    def _send(self, side: _Side) -> None:
        if not side.out:
            return
        try:
            n = side.sock.send(side.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if e.errno == errno.ENOTCONN:  # the backend's connect is still in progress
                return
            raise
        del side.out[:n]

    def close(self) -> None:
        if self.done:
            return
        self.done = True
        for side in (self.a, self.b):
            self._listen(side, False)
            side.sock.close()
        self.sharer.relays -= 1
