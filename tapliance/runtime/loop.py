"""The event loop: one thread, one epoll over the TAP, the UDP socket, the control socket and a
signal wake-up pipe. Feeds the sans-IO node and performs the I/O it asks for.

Pipeline:
    TAP readable -> read up to BATCH frames (64 KiB TSO super-frames with offloads) -> node.on_frame
                 -> node.tx: one buffer per frame, datagrams back to back -> one sendmsg with
                    UDP_SEGMENT (GSO) each, or one sendto per datagram where GSO is unavailable
    UDP readable -> recvmsg_into a preallocated buffer; with UDP_GRO one call returns many datagrams
                    of the same size -> node.on_datagram per datagram (views, no copies)
                 -> write node.to_tap frames (super-frames keep their virtio-net header) and flush tx
    deadline     -> node.on_timer (handshake retransmits, keepalives, rekey, expiry)
I/O errors on the data path are counted drops (``tx_*``/``tap_*``), never fatal: a full socket buffer
or an unreachable peer must not stop the tunnel.

Latency: a packet arriving after an idle spell finds the CPU caches cold, and then every Python call on its
way costs several microseconds instead of tens of nanoseconds (measured on the 2-vCPU bench machine: a
null call 11 us after 20 ms of sleep, 0.3 us warm). So the per-packet path keeps its call depth small:
epoll is used directly instead of through ``selectors``, and v4 sockets skip the v6 address mapping.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import socket
import time
from typing import Any

from tapliance.control.server import ControlServer
from tapliance.proto.events import EndpointChanged, HandshakeCompleted, HandshakeRejected, PeerDown
from tapliance.proto.node import Node
from tapliance.runtime.udp import GSO_MAX_BYTES, GSO_MAX_SEGMENTS, SOL_UDP, UDP_GRO, UDP_SEGMENT, normalize, sendable

log = logging.getLogger("tapliance")
BATCH = 64  # at most this many reads per readiness event ...
BATCH_BYTES = 192 << 10  # ... or this many bytes: big enough to amortise, small enough that the
# other direction (e.g. TCP ACKs coming back) waits at most ~3 super-frames. Measured: 4 super-frames
# per turn gave 3.1-3.4 Gbit/s single-stream, 64 gave 1.7 (ACKs starved), 1 gave 2.8.
READ_SIZE = 65536 + 512  # a 64 KiB super-frame plus Ethernet, VLAN and virtio-net headers
RECV_SIZE = 1 << 17
_GRO_CMSG = socket.CMSG_SPACE(4)


class Runtime:
    def __init__(self, node: Node, tap_fd: int, sock: socket.socket, *, ifname: str, listen: str,
                 gso: bool = True, gro: bool = False) -> None:
        self.node = node
        self.gso = gso
        self.gro = gro
        self._rbuf = bytearray(RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        self.tap_fd = tap_fd
        self.sock = sock
        self._v6 = sock.family == socket.AF_INET6  # v4 peers need the mapped form, source addresses the plain one
        self.ifname = ifname
        self.listen = listen
        self.drops = node.drops  # runtime drops share the node's counter dict
        self.stopping = False
        self.started = time.monotonic()
        self.control: ControlServer | None = None

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        s = self.node.status(now)
        s.update(interface=self.ifname, listen=self.listen, pid=os.getpid(), uptime=round(now - self.started, 1))
        return s

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _flush(self) -> None:
        node = self.node
        if node.to_tap:
            write, fd = os.write, self.tap_fd
            for frame in node.to_tap:
                try:
                    write(fd, frame)
                except BlockingIOError:
                    self._drop("tap_busy")
                except OSError as e:
                    self._drop("tap_error")
                    log.debug("TAP write: %s", e)
            node.to_tap.clear()
        if node.tx:
            self._send_all(node.tx)
            node.tx.clear()
        if node.events:
            for ev in node.events:
                _log_event(ev)
            node.events.clear()

    def _send_all(self, tx: list[tuple[bytes | bytearray, Any, int]]) -> None:
        """Send what the node queued. Runs of single-datagram frames of one size to one peer (a flood of
        small packets, e.g. VoIP or 64-byte UDP) leave as one GSO send like a super-frame's fragments; the
        receiver's GRO path takes them apart again. Each datagram stays sealed on its own."""
        sock, i, m = self.sock, 0, len(tx)
        while i < m:
            buf, addr, seg = tx[i]
            n = len(buf)
            j = i + 1
            if self.gso and n <= seg and j < m:
                limit = i + min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // n)
                while j < m and j < limit:
                    b2, a2, s2 = tx[j]
                    k = len(b2)
                    if a2 != addr or k > n or k > s2:
                        break
                    j += 1
                    if k < n:  # only the last datagram of a GSO send may be shorter
                        break
            if self._v6:
                addr = sendable(sock, addr)
            if j - i > 1:
                self._send(b"".join(t[0] for t in tx[i:j]), addr, n)
            else:
                self._send(buf, addr, seg)
            i = j

    def _send(self, buf: bytes | bytearray, addr: tuple[str, int], seg: int) -> None:
        n = len(buf)
        try:
            if n <= seg:
                self.sock.sendto(buf, addr)
                return
            mv = memoryview(buf)
            if self.gso:
                step = min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // seg) * seg
                opt = [(SOL_UDP, UDP_SEGMENT, seg.to_bytes(2, "little"))]
                try:
                    for off in range(0, n, step):
                        self.sock.sendmsg([mv[off : off + step]], opt, 0, addr)
                    return
                except OSError as e:
                    if e.errno not in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP):
                        raise
                    log.warning("UDP GSO not usable here (%s): sending datagrams one by one", e.strerror)
                    self.gso = False
            for off in range(0, n, seg):
                self.sock.sendto(mv[off : off + seg], addr)
        except BlockingIOError:
            self._drop("tx_busy")
        except OSError as e:
            self._drop("tx_too_big" if e.errno == errno.EMSGSIZE else "tx_error")
            log.debug("UDP send to %s: %s", addr, e)

    def _read_tap(self) -> None:
        now = time.monotonic()
        on_frame, read, fd = self.node.on_frame, os.read, self.tap_fd
        budget = BATCH_BYTES
        for _ in range(BATCH):
            try:
                frame = read(fd, READ_SIZE)
            except BlockingIOError:
                break
            on_frame(frame, now)
            budget -= len(frame)
            if budget <= 0:
                break
        self._flush()

    def _read_udp(self) -> None:
        now = time.monotonic()
        on_dgram, on_batch = self.node.on_datagram, self.node.on_datagram_batch
        recv, view = self.sock.recvmsg_into, self._rview
        bufs = [self._rbuf]
        v6 = self._v6
        budget = BATCH_BYTES
        for _ in range(BATCH):
            try:
                n, anc, _flags, addr = recv(bufs, _GRO_CMSG)
            except BlockingIOError:
                break
            except OSError as e:  # e.g. ICMP port unreachable reported on the socket
                self._drop("rx_error")
                log.debug("UDP receive: %s", e)
                continue
            src = normalize(addr) if v6 else addr
            seg = n
            for level, kind, data in anc:
                if level == SOL_UDP and kind == UDP_GRO:
                    seg = int.from_bytes(data[:4], "little") or n
            if seg >= n:
                on_dgram(view[:n], src, now)
            else:
                on_batch(view[:n], seg, src, now)
            budget -= n
            if budget <= 0:
                break
        self._flush()

    def run(self, control: ControlServer | None) -> None:
        self.control = control
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        handlers: dict[int, Any] = {self.tap_fd: self._read_tap, self.sock.fileno(): self._read_udp,
                                    wake_r.fileno(): lambda: wake_r.recv(64)}
        if control is not None:
            handlers[control.fileno()] = control.handle
        ep = select.epoll()
        for fd in handlers:
            ep.register(fd, select.EPOLLIN)
        poll, monotonic = ep.poll, time.monotonic
        try:
            deadline = self.node.on_timer(monotonic())
            self._flush()
            while not self.stopping:
                for fd, _ in poll(max(0.0, deadline - monotonic())):
                    try:
                        handlers[fd]()
                    except Exception:  # a bug must cost a counted drop and a log line, not the tunnel
                        self._drop("internal_error")
                        log.exception("internal error (dropped what was being processed)")
                now = monotonic()
                if now >= deadline:
                    deadline = self.node.on_timer(now)
                    self._flush()
        finally:
            ep.close()
            signal.set_wakeup_fd(old_wakeup)
            for s, h in old_handlers.items():
                signal.signal(s, h)
            wake_r.close()
            wake_w.close()

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self.stopping = True


def _log_event(ev: object) -> None:
    if isinstance(ev, HandshakeCompleted):
        log.info("peer %s: %s with %s:%d (%s)", ev.peer, "rekeyed" if ev.rekey else "handshake completed",
                 ev.endpoint[0], ev.endpoint[1], "we initiated" if ev.initiator else "they initiated")
    elif isinstance(ev, EndpointChanged):
        if ev.old is None:
            log.info("peer %s: discovered at %s:%d", ev.peer, *ev.new)
        else:
            log.info("peer %s: roamed from %s:%d to %s:%d", ev.peer, *ev.old, *ev.new)
    elif isinstance(ev, PeerDown):
        log.warning("peer %s: down: %s", ev.peer, ev.reason)
    elif isinstance(ev, HandshakeRejected):
        log.warning("peer %s: handshake from %s:%d rejected: %s", ev.peer, *ev.endpoint, ev.reason)
