"""The event loop: one thread, one epoll over the TAP, the transports' sockets, the control socket and a
signal wake-up pipe. Feeds the sans-IO node and performs the I/O it asks for.

Pipeline:
    TAP readable -> read up to BATCH frames (64 KiB TSO super-frames with offloads) -> node.on_frame
                 -> the switch -> a protocol seals into its tx
    socket readable -> the transport reads (UDP: GRO batches) and feeds its protocol
                 -> the protocol hands frames to the switch, which puts the TAP's in node.to_tap
    after each   -> write node.to_tap frames (super-frames keep their virtio-net header), then every
                    transport sends its protocol's tx, then events are logged
    deadline     -> node.on_timer (handshake retransmits, keepalives, rekey, expiry)
I/O errors on the data path are counted drops (``tap_*``; the transports count theirs), never fatal.

Latency: a packet arriving after an idle spell finds the CPU caches cold, and then every Python call on its
way costs several microseconds instead of tens of nanoseconds (measured on the 2-vCPU bench machine: a
null call 11 us after 20 ms of sleep, 0.3 us warm). So the per-packet path keeps its call depth small:
epoll is used directly instead of through ``selectors``, and v4 sockets skip the v6 address mapping.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tapliance.control.server import ControlServer
from tapliance.proto.drops import Drop
from tapliance.proto.events import ConnectionChanged, EndpointChanged, Event, HandshakeCompleted, PeerDown, PeerNotice
from tapliance.proto.node import Node

log = logging.getLogger("tapliance")
BATCH = 64  # at most this many reads per readiness event ...
BATCH_BYTES = 192 << 10  # ... or this many bytes: big enough to amortise, small enough that the
# other direction (e.g. TCP ACKs coming back) waits at most ~3 super-frames. Measured: 4 super-frames
# per turn gave 3.1-3.4 Gbit/s single-stream, 64 gave 1.7 (ACKs starved), 1 gave 2.8.
READ_SIZE = 65536 + 512  # a 64 KiB super-frame plus Ethernet, VLAN and virtio-net headers
Handler = Callable[[float], None]
NOTICE_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class Poller(Protocol):
    """What the loop offers a transport: file descriptors with the handler to call when they are ready
    (readable, or writable after ``want_write``)."""

    def register(self, fd: int, handler: Handler) -> None: ...
    def unregister(self, fd: int) -> None: ...
    def want_write(self, fd: int, on: bool) -> None: ...
    def every(self, interval: float, fn: Callable[[float], None]) -> None: ...


class Transport(Protocol):
    """What the loop needs of a transport (runtime/udp.py is one; runtime/http.py serves HTTP the same
    way): it registers its file descriptors with ``attach`` (a stream transport registers and
    unregisters connections as they come and go), its handlers are called with the time when one is
    ready, and it sends its protocol's output in ``flush``."""

    def attach(self, poller: Poller) -> None: ...
    def flush(self) -> None: ...
    def stats(self) -> dict[str, object] | None: ...
    def close(self) -> None: ...


class Runtime:
    def __init__(self, node: Node, tap_fd: int, transports: Sequence[Transport], *, ifname: str, listen: str) -> None:
        self.node = node
        self.tap_fd = tap_fd
        self.transports = list(transports)
        self.ifname = ifname
        self.listen = listen
        self.drops = node.drops  # runtime drops share the node's counter object
        self.stopping = False
        self.started = time.monotonic()
        self.control: ControlServer | None = None
        self._handlers: dict[int, Handler] = {}
        self._ep: Any = None
        self._tickers: list[list[Any]] = []  # [next due, interval, fn(now)]: housekeeping off the data path
        self.enrich: Callable[[dict[str, Any]], None] | None = None  # adds what the control side derives
        self.listeners: list[Callable[[Event], None]] = []  # called with every event after it is logged
        self.on_reload: Callable[[], object] | None = None  # SIGHUP
        self.hub: Any = None  # the hub's address handout (tapliance/hub/service.py), if any
        self._reload = False

    def register(self, fd: int, handler: Handler) -> None:
        self._handlers[fd] = handler
        if self._ep is not None:
            self._ep.register(fd, select.EPOLLIN)

    def unregister(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None and self._ep is not None:
            self._ep.unregister(fd)

    def want_write(self, fd: int, on: bool) -> None:
        if self._ep is not None:
            self._ep.modify(fd, select.EPOLLIN | (select.EPOLLOUT if on else 0))

    def every(self, interval: float, fn: Callable[[float], None]) -> None:
        """Call ``fn(now)`` every ``interval`` seconds from the loop (status history, watchdog pings)."""
        self._tickers.append([time.monotonic() + interval, interval, fn])

    def snapshot(self) -> dict[str, Any]:
        """One status snapshot: `tapliance status --json`, ``/api/status`` and every scrape read this."""
        now = time.monotonic()
        transports = [st for t in self.transports if (st := t.stats()) is not None]  # first: a worker's counts
        s = self.node.status(now)  # reach the node's when its stats are read (runtime/worker.py)
        s.update(interface=self.ifname, listen=self.listen, pid=os.getpid(), uptime=round(now - self.started, 1))
        s["transports"] = transports
        if self.enrich is not None:
            self.enrich(s)
        return s

    def _flush(self) -> None:
        node = self.node
        if node.to_tap:
            write, fd = os.write, self.tap_fd
            for frame in node.to_tap:
                try:
                    write(fd, frame)
                except BlockingIOError:
                    self.drops.count(Drop.TAP_BUSY)
                except OSError as e:
                    self.drops.count(Drop.TAP_ERROR)
                    log.debug("TAP write: %s", e)
            node.to_tap.clear()
        if node.events:  # before the transports flush: a listener may queue output (a hub's lease)
            events = list(node.events)
            node.events.clear()
            for ev in events:
                _log_event(ev)
                for fn in self.listeners:
                    fn(ev)
        for t in self.transports:
            t.flush()

    def _read_tap(self, now: float) -> None:
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

    def run(self, control: ControlServer | None) -> None:
        self.control = control
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        self._ep = ep = select.epoll()
        self.register(self.tap_fd, self._read_tap)
        for t in self.transports:
            t.attach(self)

        def wake(_now: float) -> None:
            wake_r.recv(64)

        self.register(wake_r.fileno(), wake)
        if control is not None:
            self.register(control.fileno(), lambda _now: control.handle())
        try:
            self._loop(ep)
        finally:
            ep.close()
            self._ep = None
            signal.set_wakeup_fd(old_wakeup)
            for s, h in old_handlers.items():
                signal.signal(s, h)
            wake_r.close()
            wake_w.close()

    def _loop(self, ep: Any) -> None:
        poll, monotonic, handlers = ep.poll, time.monotonic, self._handlers
        deadline = self.node.on_timer(monotonic())
        self._flush()
        while not self.stopping:
            due = min([deadline, *(t[0] for t in self._tickers)])
            for fd, _ in poll(max(0.0, due - monotonic())):
                try:
                    handlers[fd](monotonic())
                    self._flush()
                except Exception:  # a bug must cost a counted drop and a log line, not the tunnel
                    self.drops.count(Drop.INTERNAL_ERROR)
                    log.exception("internal error (dropped what was being processed)")
            if self._reload:
                self._reload = False
                if self.on_reload is not None:
                    self.on_reload()
                    self._flush()
            now = monotonic()
            if now >= deadline:
                deadline = self.node.on_timer(now)
                self._flush()
            for t in self._tickers:
                if now >= t[0]:
                    t[0] = max(t[0] + t[1], now)
                    t[2](now)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            log.info("received SIGHUP: reloading the peers")
            self._reload = True
            return
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self.stopping = True


def _log_event(ev: Event) -> None:
    """One line per event: the words for a person, the fields for a machine (tapliance.logs)."""
    if isinstance(ev, HandshakeCompleted):
        what = "rekeyed" if ev.rekey else "handshake completed"
        fields = {
            "event": "rekey" if ev.rekey else "handshake",
            "peer": ev.peer,
            "endpoint": _addr(ev.endpoint),
            "initiator": ev.initiator,
        }
        log.info(
            "peer %s: %s with %s (%s)",
            ev.peer,
            what,
            _addr(ev.endpoint),
            "we initiated" if ev.initiator else "they initiated",
            extra={"fields": fields},
        )
    elif isinstance(ev, EndpointChanged):
        fields = {"event": "discovered" if ev.old is None else "roamed", "peer": ev.peer, "endpoint": _addr(ev.new)}
        if ev.old is None:
            log.info("peer %s: discovered at %s", ev.peer, _addr(ev.new), extra={"fields": fields})
        else:
            fields["from"] = _addr(ev.old)
            log.info("peer %s: roamed from %s to %s", ev.peer, _addr(ev.old), _addr(ev.new), extra={"fields": fields})
    elif isinstance(ev, PeerDown):
        log.warning(
            "peer %s: down: %s",
            ev.peer,
            ev.reason,
            extra={"fields": {"event": "down", "peer": ev.peer, "reason": ev.reason}},
        )
    elif isinstance(ev, ConnectionChanged):
        fields = {"event": "connected" if ev.up else "disconnected", "peer": ev.peer, "transport": "tcp"}
        where = _addr(ev.endpoint) if ev.endpoint else "?"
        if ev.up:
            log.info("peer %s: TCP tunnel up with %s", ev.peer, where, extra={"fields": fields})
        else:
            log.warning(
                "peer %s: TCP connection with %s ended: %s",
                ev.peer,
                where,
                ev.reason,
                extra={"fields": {**fields, "reason": ev.reason}},
            )
    elif isinstance(ev, PeerNotice):
        log.log(
            NOTICE_LEVELS.get(ev.level, logging.WARNING),
            "peer %s: %s",
            ev.peer,
            ev.message,
            extra={"fields": {"event": "notice", "peer": ev.peer}},
        )


def _addr(a: tuple[str, int]) -> str:
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"
