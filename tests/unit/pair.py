"""Test double: two (or more) protocol nodes joined by a fake link with a fake clock.

The link is a list of in-flight datagrams; tests can drop, duplicate, reorder, mutate or capture
them, and move the clock forward. No sockets, no sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tapliance.assembly import native_params
from tapliance.config import TunnelConfig
from tapliance.keyfile import generate_private, public_from_private
from tapliance.proto.events import Addr
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context

KEEPALIVE = TunnelConfig.keepalive  # the config's default


def spec(
    public_key: bytes,
    name: str = "",
    endpoint: Addr | None = None,
    psk: bytes | None = None,
    keepalive: float = KEEPALIVE,
) -> PeerSpec:
    return PeerSpec(public_key, name, endpoint, psk, keepalive)


def build(
    private: bytes,
    peers: list[PeerSpec],
    random: Callable[[int], bytes],
    now: float,
    unix_offset: float = 1.7e9,
    *,
    vnet: bool = False,
    cpu_time: Callable[[], float] | None = None,
    **tunnel: object,
) -> Node:
    """A node with one native protocol; ``tunnel`` overrides TunnelConfig fields (the config's defaults);
    ``cpu_time``: a fake CPU clock for the handshake budget (default: one that never moves)."""
    ctx = Context(random, unix_offset) if cpu_time is None else Context(random, unix_offset, cpu_time=cpu_time)
    params = native_params(TunnelConfig(**tunnel), offload=vnet)  # type: ignore[arg-type]
    proto = NativeProtocol(ctx, params, static_private=private, peers=peers, now=now)
    return Node(ctx, [proto], tap_vnet=vnet)


@dataclass
class Host:
    name: str
    addr: Addr
    private: bytes
    node: Node | None = None
    tap_out: list[bytes] = field(default_factory=list)

    @property
    def public(self) -> bytes:
        return public_from_private(self.private)

    @property
    def n(self) -> Node:
        assert self.node is not None
        return self.node

    @property
    def p(self) -> NativeProtocol:
        """The node's native protocol (datagrams in, ``tx`` out)."""
        proto = self.n.protocols[0]
        assert isinstance(proto, NativeProtocol)
        return proto


class Net:
    """Hosts by address; ``run`` delivers datagrams until the link is quiet."""

    def __init__(self, seed: int = 1) -> None:
        self.now = 1000.0
        self.rng = random.Random(seed)
        self.hosts: dict[Addr, Host] = {}
        self.wire: list[tuple[bytes, Addr, Addr]] = []  # (datagram, src, dst)
        self.captured: list[tuple[bytes, Addr, Addr]] = []
        self.filter: Callable[[bytes, Addr, Addr], bool] = lambda d, s, t: True

    def randbytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def host(self, name: str, addr: Addr) -> Host:
        h = Host(name, addr, self.rng.randbytes(32) if False else generate_private())
        self.hosts[addr] = h
        return h

    def start(self, h: Host, peers: list[PeerSpec], **kw: object) -> Node:
        h.node = build(h.private, peers, self.randbytes, self.now, **kw)  # type: ignore[arg-type]
        self.collect(h)
        return h.node

    def collect(self, h: Host) -> None:
        n, p = h.n, h.p
        for buf, dst, seg in p.tx:  # split GSO-laid-out buffers into their datagrams
            for off in range(0, len(buf), seg):
                self.wire.append((bytes(buf[off : off + seg]), h.addr, dst))
        p.tx.clear()
        h.tap_out.extend(n.to_tap)
        n.to_tap.clear()

    def send_frame(self, h: Host, frame: bytes) -> None:
        h.n.on_frame(frame, self.now)
        self.collect(h)

    def run(self, max_steps: int = 10000) -> None:
        steps = 0
        while self.wire and steps < max_steps:
            d, src, dst = self.wire.pop(0)
            self.captured.append((d, src, dst))
            steps += 1
            if not self.filter(d, src, dst) or dst not in self.hosts:
                continue
            h = self.hosts[dst]
            if h.node is None:
                continue
            h.p.on_datagram(d, src, self.now)
            self.collect(h)

    def advance(self, seconds: float, step: float = 0.5) -> None:
        """Move time forward, firing timers and delivering traffic as it goes."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            for h in list(self.hosts.values()):
                if h.node is not None:
                    h.n.on_timer(self.now)
                    self.collect(h)
            self.run()


def frame(dst: bytes, src: bytes, payload: bytes, ethertype: bytes = b"\x08\x00") -> bytes:
    return dst + src + ethertype + payload


MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
MAC_C = bytes.fromhex("020000000003")
BCAST = b"\xff" * 6


def pair(
    net: Net | None = None,
    *,
    a_endpoint: bool = True,
    b_endpoint: bool = False,
    keepalive: float = KEEPALIVE,
    psk: bytes | None = None,
    vnet: tuple[bool, bool] = (False, False),
    **kw: object,
) -> tuple[Net, Host, Host]:
    """A (initiator, knows B's endpoint) and B (listener, discovers A); ``vnet``: whose TAP has offloads."""
    net = net or Net()
    a = net.host("a", ("192.0.2.1", 9123))
    b = net.host("b", ("192.0.2.2", 9123))
    net.start(a, [spec(b.public, "b", b.addr if a_endpoint else None, psk, keepalive)], vnet=vnet[0], **kw)
    net.start(b, [spec(a.public, "a", a.addr if b_endpoint else None, psk, keepalive)], vnet=vnet[1], **kw)
    return net, a, b
