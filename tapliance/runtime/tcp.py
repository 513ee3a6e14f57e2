"""The TCP transport: a listener, the connections it accepts and the ones its stream protocol dials.

Bytes read are handed to the protocol as they come (``on_stream``); output is pulled: when a connection's
socket can take more, the transport asks the protocol for about ``ROOM`` bytes (``take``), so the protocol
seals nothing it cannot send yet and drops frames (counted) from its own bounded queue instead of
buffering seconds of traffic. Every socket has TCP_NODELAY (a tunnel's frames must not wait for each
other) and TCP_NOTSENT_LOWAT (the kernel keeps at most ``LOWAT`` bytes not yet sent; the rest stays in
the protocol's queue where it can still be dropped). A connection's I/O error or end is the protocol's
``on_closed``, never fatal. Port sharing (runtime/portshare.py): with a backend configured, an accepted
connection that does not start with the QuickTun preamble is passed to the backend unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from tapliance.config import Endpoint
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.protocol import StreamProtocol
from tapliance.runtime.http import stream_listener
from tapliance.runtime.loop import Poller
from tapliance.runtime.portshare import Sharer
from tapliance.runtime.resolve import Resolver

log = logging.getLogger("tapliance")
ACCEPTED = 1 << 32  # handles of accepted connections start here (the protocol's own dials are below)
ROOM = 65536  # bytes asked of the protocol per write
LOWAT = 65536  # TCP_NOTSENT_LOWAT
TCP_NOTSENT_LOWAT = 25
READ = 262144
READ_BUDGET = 1 << 20  # bytes read from one connection per readiness event
MAX_CONNECTIONS = 1024


class TcpError(RuntimeError):
    pass


def listen(ep: Endpoint) -> socket.socket:
    try:
        return stream_listener(ep, 128)
    except OSError as e:
        raise TcpError(f"cannot listen on TCP {ep}: {e.strerror}") from None


def tune(s: socket.socket) -> None:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(OSError):  # every kernel since 3.12 has it
        s.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, LOWAT)


def plain(addr: Any) -> tuple[str, int]:
    host = addr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, addr[1])


@dataclass
class Conn:
    handle: int
    sock: socket.socket
    addr: tuple[str, int]
    connecting: bool = False
    out: bytearray = field(default_factory=bytearray)  # bytes taken from the protocol, not yet written
    writing: bool = False  # EPOLLOUT wanted


class TcpTransport:
    def __init__(
        self,
        protocol: StreamProtocol[Any],
        drops: Drops,
        *,
        listen_on: Endpoint | None = None,
        share: Endpoint | None = None,
        proxy_v2: bool = False,
    ) -> None:
        self.protocol = protocol
        self.drops = drops
        self.listen_on = listen_on
        self.listener = listen(listen_on) if listen_on is not None else None
        self.conns: dict[int, Conn] = {}
        self.poller: Poller | None = None
        self.resolver = Resolver()
        self.sharer = Sharer(share, proxy_v2, self.adopt, self._attached) if share is not None else None
        self._next = ACCEPTED
        self.accepted = self.refused = self.dialled = 0

    def _attached(self) -> Poller:
        assert self.poller is not None
        return self.poller

    # -- the loop's side ---------------------------------------------------------------------------------

    def attach(self, poller: Poller) -> None:
        self.poller = poller
        if self.listener is not None:
            poller.register(self.listener.fileno(), self._accept)
        self.resolver.attach(poller)
        if self.sharer is not None:
            poller.every(0.25, self.sharer.sweep)

    def _accept(self, now: float) -> None:
        assert self.listener is not None
        for _ in range(64):
            try:
                s, addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. EMFILE: the connection waits in the backlog
                log.warning("TCP accept: %s", e.strerror)
                return
            if len(self.conns) >= MAX_CONNECTIONS:
                self.refused += 1
                self.drops.count(Drop.TCP_TOO_MANY)
                s.close()
                continue
            s.setblocking(False)
            tune(s)
            self.accepted += 1
            if self.sharer is not None:
                self.sharer.sniff(s, plain(addr), now)  # hands QuickTun connections back via adopt()
            else:
                self.adopt(s, plain(addr), b"", now)

    def adopt(self, s: socket.socket, addr: tuple[str, int], first: bytes, now: float) -> None:
        """An accepted connection that speaks the protocol (``first``: bytes already read from it)."""
        handle, self._next = self._next, self._next + 1
        c = Conn(handle, s, addr)
        self.conns[handle] = c
        self._register(c)
        self.protocol.on_connected(handle, addr, now)
        if first:
            self.protocol.on_stream(handle, first, now)

    def _register(self, c: Conn) -> None:
        assert self.poller is not None
        self.poller.register(c.sock.fileno(), lambda now: self._ready(c, now))

    def _dial(self, handle: int, host: str, port: int) -> None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            self.resolver.lookup(host, lambda addrs, err: self._resolved(handle, host, port, addrs, err))
            return
        self._connect(handle, host, port)

    def _resolved(self, handle: int, host: str, port: int, addrs: list[str], err: str | None) -> None:
        if not addrs:
            log.warning("TCP: cannot resolve %s: %s", host, err)
            self.protocol.on_closed(handle, time.monotonic())
            return
        self._connect(handle, addrs[0], port)

    def _connect(self, handle: int, host: str, port: int) -> None:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        tune(s)
        c = Conn(handle, s, (host, port), connecting=True)
        self.conns[handle] = c
        self.dialled += 1
        err = s.connect_ex((host, port))
        self._register(c)
        if err not in (0, errno.EINPROGRESS):
            self._gone(c, time.monotonic(), f"connect to {host}:{port}: {errno.errorcode.get(err, err)}")
            return
        self._want_write(c, True)

    def _ready(self, c: Conn, now: float) -> None:
        if c.connecting:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._gone(c, now, f"connect to {c.addr[0]}:{c.addr[1]}: {errno.errorcode.get(err, err)}")
                return
            c.connecting = False
            self._want_write(c, False)
            self.protocol.on_connected(c.handle, c.addr, now)
        self._read(c, now)
        if c.handle in self.conns:
            self._write(c, now)

    def _read(self, c: Conn, now: float) -> None:
        got = 0
        while got < READ_BUDGET:
            try:
                data = c.sock.recv(READ)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._gone(c, now, e.strerror or "receive error")
                return
            if not data:
                self._gone(c, now, "closed by the far end")
                return
            got += len(data)
            self.protocol.on_stream(c.handle, data, now)
            if c.handle not in self.conns:
                return

    def _write(self, c: Conn, now: float) -> None:
        """Write what is pending, then pull more from the protocol while the socket takes it."""
        proto = self.protocol
        for _ in range(32):
            if not c.out:
                data = proto.take(c.handle, ROOM)
                if not data:
                    break
                c.out += data
            try:
                n = c.sock.send(c.out)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as e:
                self._gone(c, now, e.strerror or "send error")
                return
            del c.out[:n]
            if c.out:
                break
        self._want_write(c, bool(c.out) or c.handle in proto.ready())

    def _want_write(self, c: Conn, on: bool) -> None:
        if on != c.writing and self.poller is not None:
            c.writing = on
            self.poller.want_write(c.sock.fileno(), on)

    def _gone(self, c: Conn, now: float, why: str) -> None:
        if self.conns.pop(c.handle, None) is None:
            return
        log.debug("TCP %s:%s: %s", c.addr[0], c.addr[1], why)
        if self.poller is not None:
            self.poller.unregister(c.sock.fileno())
        c.sock.close()
        self.protocol.on_closed(c.handle, now)

    def flush(self) -> None:
        proto = self.protocol
        now = time.monotonic()
        if proto.dial:
            dials, proto.dial[:] = list(proto.dial), []
            for handle, (host, port) in dials:
                self._dial(handle, host, port)
        while proto.close:
            handle = proto.close.pop(0)
            c = self.conns.get(handle)
            if c is None:
                proto.on_closed(handle, now)
                continue
            if not c.connecting:
                self._write(c, now)  # what was queued before the close (e.g. the reason's last message)
            self._gone(c, now, "closed")
        for handle in proto.ready():
            c = self.conns.get(handle)
            if c is not None and not c.connecting and not c.out:
                self._write(c, now)

    def stats(self) -> dict[str, object]:
        out: dict[str, object] = {
            "transport": "tcp",
            "listen": str(self.listen_on) if self.listen_on else None,
            "connections": len(self.conns),
            "accepted": self.accepted,
            "refused": self.refused,
            "dialled": self.dialled,
        }
        if self.sharer is not None:
            out.update(self.sharer.stats())
        return out

    def close(self) -> None:
        for c in list(self.conns.values()):
            c.sock.close()
        self.conns.clear()
        if self.sharer is not None:
            self.sharer.close()
        if self.listener is not None:
            self.listener.close()
        self.resolver.close()
