"""The protocol interface: what the switch and the runtime know about a wire protocol, and no more.

::

    TAP <-> Switch (learn / look up / flood) <-> Port ... Port <-> Protocol <-> transport (runtime)
                                                                   sans-IO       UDP datagrams | TCP stream

A **protocol** speaks one wire format to one or more peers over one transport endpoint (one UDP
socket, or one TCP listener and its connections). Each peer is a **port** of the switch. The native
Noise protocol serves many peers on one socket (it tells them apart by session index); a legacy
format that cannot tell peers apart serves one peer on its own socket. The switch and the runtime
drive every protocol the same way:

In (each call carries the current time ``now``, a float from a monotonic clock):
    ``on_datagram(data, addr, now)``            one datagram from ``addr`` (datagram protocols)
    ``on_datagram_batch(view, seg, addr, now)``  a UDP GRO batch: datagrams of ``seg`` bytes back to back
    ``on_stream(conn, data, now)``, ``on_connected(conn, addr, now)``, ``on_closed(conn, now)``
                                                (stream protocols; ``conn`` is the transport's handle)
    ``send(port, frame, flags, now, flood)``     a frame the switch forwards to one of our ports
    ``on_timer(now) -> deadline``                due timers run; returns when to be called next
Out:
    ``tx``                      what to send: ``(buffer, addr, seg)`` for datagrams (``seg``: the size of
                                each datagram laid out back to back in ``buffer``, the UDP GSO layout);
                                ``(conn, bytes)`` for streams. The runtime drains it after every call.
    ``ingress(port, frame, flags, now)``
                                a frame that arrived from a peer, handed to the switch (``attach``)
    ``ctx.events``              small frozen events (:mod:`tapliance.proto.events`), logged by the runtime
    ``ctx.drops``               one counter per :class:`~tapliance.proto.drops.Drop` reason

Contract: a call never raises for bad input (a malformed, forged or replayed packet is one counted
drop and changes no state); it never blocks, sleeps, reads the clock or touches a file descriptor;
randomness comes from ``ctx.random``, the CPU cost of metered work from ``ctx.cpu_time``. ``flags``
says how a frame is framed: ``VNET`` set means a 10-byte virtio-net header comes first (TAP offloads,
:mod:`tapliance.proto.offload`). A port whose ``vnet`` is False is only ever given plain Ethernet
frames: the switch segments super-frames for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from tapliance.proto.drops import Drops
from tapliance.proto.events import Addr, Event
from tapliance.proto.hubpolicy import OPEN, PortPolicy

Frame = bytes | bytearray  # an Ethernet frame (with a virtio-net header in front when flags & VNET)
VNET = 0x01  # frame flag: a virtio-net header precedes the Ethernet frame
IPV4_UDP_OVERHEAD = 20 + 8  # IP and UDP headers: what the underlay's MTU must also hold besides a datagram
IPV6_UDP_OVERHEAD = 40 + 8
Ingress = Callable[["Port", Frame, int, float], None]
TransportKind = Literal["datagram", "stream", "none"]  # none: carries nothing itself (proto/failover.py)


@dataclass
class Context:
    """What every protocol of one daemon shares: the randomness source, the offset from the monotonic
    clock to Unix time (for wall-clock fields such as TAI64N), the event list and the drop counters.

    ``cpu_time``: the process's CPU clock in seconds (the runtime passes ``time.process_time``). It is
    not a time source: a protocol calls it only around costly work it must meter (the native suite's
    handshakes, cookie.py) and uses only differences; the default, a clock that never moves, meters
    nothing (tests use it, or a fake)."""

    random: Callable[[int], bytes]
    unix_offset: float
    drops: Drops = field(default_factory=Drops)
    events: list[Event] = field(default_factory=list)
    cpu_time: Callable[[], float] = field(default=lambda: 0.0)


class Port:
    """A switch port: one peer, reached through ``protocol``. Counters are the frames the switch handed
    in (rx, counted by the switch) and out (tx, counted by the protocol when it sealed them)."""

    def __init__(self, name: str, protocol: Protocol[Any], *, vnet: bool) -> None:
        self.name = name
        self.protocol = protocol
        self.vnet = vnet  # takes frames with a virtio-net header
        self.rx_bytes = self.tx_bytes = self.rx_frames = self.tx_frames = 0
        self.endpoint_changes = 0  # learnt or moved (roaming)
        self.via: Port | None = None  # a carrier of another port (transport auto): the switch sees that one
        self.policy: PortPolicy = OPEN  # what a hub allows this peer (proto/hubpolicy.py)


P = TypeVar("P", bound=Port)


class Protocol(ABC, Generic[P]):
    """One wire protocol serving ``ports`` over one transport endpoint (see the module docstring)."""

    transport: ClassVar[TransportKind]
    ports: list[P]
    _ingress: Ingress

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.drops = ctx.drops
        self.events = ctx.events

    def attach(self, ingress: Ingress) -> None:
        """Called once by the switch: where frames that arrive from our peers go."""
        self._ingress = ingress

    @abstractmethod
    def send(self, port: P, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        """Carry ``frame`` to ``port``. ``flood``: a copy of a broadcast or unknown-unicast frame, which a
        protocol may skip for a peer it has never heard from rather than queue it."""

    def send_control(self, port: P, payload: bytes, now: float) -> bool:
        """Carry one control command (QuickTun TCP encoding: addresses, routes) to ``port``, if this protocol
        and the peer can; False otherwise (the legacy formats cannot)."""
        return False

    @abstractmethod
    def on_timer(self, now: float) -> float:
        """Run due timers; return the time of the next deadline."""

    @abstractmethod
    def status(self, now: float) -> dict[str, Any]:
        """Protocol-wide status; per-port status is ``port_status``."""

    @abstractmethod
    def port_status(self, port: P, now: float) -> dict[str, Any]:
        """One peer's status: at least name, state, endpoint and the rx/tx counters."""


class DatagramProtocol(Protocol[P]):
    """A protocol carried in datagrams (UDP). ``tx`` holds ``(buffer, addr, seg)``."""

    transport = "datagram"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.tx: list[tuple[bytes | bytearray, Addr, int]] = []

    @abstractmethod
    def on_datagram(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        """One datagram. ``data`` may be a view into the runtime's receive buffer: keep no reference."""

    def on_datagram_batch(self, view: memoryview, seg: int, addr: Addr, now: float) -> None:
        """Datagrams of ``seg`` bytes back to back in ``view`` (the last may be shorter), all from ``addr``:
        what one UDP GRO receive returns. A protocol with a faster way to take a batch overrides this."""
        for off in range(0, len(view), seg):
            self.on_datagram(view[off : off + seg], addr, now)


class StreamProtocol(Protocol[P]):
    """A protocol carried in byte streams (TCP). The transport owns the sockets and names each connection
    with a handle (an int). The protocol asks for connections (``dial``: its own handle, below 2^32, and
    the address), for closes (``close``), and hands over its output only when the transport has room for
    it: the transport asks ``ready()`` which connections have something to send and ``take(conn, room)``
    for about ``room`` bytes of it, so nothing is committed (sealed, given a nonce) before it can be sent
    and a full connection's frames can be dropped unsealed. Accepted connections get handles of 2^32 and
    above from the transport."""

    transport = "stream"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.dial: list[tuple[int, Addr]] = []
        self.close: list[int] = []

    @abstractmethod
    def on_connected(self, conn: int, addr: Addr, now: float) -> None:
        """A connection is up: one we dialled (our handle) or one accepted (the transport's)."""

    @abstractmethod
    def on_stream(self, conn: int, data: bytes, now: float) -> None:
        """Bytes read from ``conn``, in order, split anywhere."""

    @abstractmethod
    def on_closed(self, conn: int, now: float) -> None:
        """``conn`` is gone (closed by the far end, reset, refused, or after ``close``)."""

    @abstractmethod
    def ready(self) -> list[int]:
        """Connections with output waiting."""

    @abstractmethod
    def take(self, conn: int, room: int) -> bytes:
        """About ``room`` bytes of ``conn``'s output (at least one message, if any waits)."""
