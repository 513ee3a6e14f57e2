"""The switch between the TAP and the peers: MAC learning, look-up and flooding, written once.

Its ports are the local TAP (``LOCAL``) and every peer of every protocol. With one peer the daemon is
a point-to-point link and frames pass straight through. With several it is a learning switch (hub
mode): a frame's source MAC is learnt on the port it came in by; a frame to a known unicast MAC goes
to that port only; broadcast, multicast and unknown destinations are flooded to every port but the
one they came in by. A frame whose destination lives behind the port it came from is dropped there.

The switch also converts framing per port: the TAP and each peer either take frames with a virtio-net
header (offload super-frames) or plain Ethernet frames only; a super-frame for a plain port is
segmented in software first (:func:`tapliance.proto.offload.to_plain`).

MAC table entries age out, and the table is bounded (oldest evicted) so a peer spraying random
source MACs cannot grow memory without limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from tapliance.proto import offload
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.protocol import VNET, Frame, Port, Protocol

K = TypeVar("K")
AGING = 300.0
MAX_ENTRIES = 8192


class MacTable(Generic[K]):
    def __init__(self, aging: float = AGING, max_entries: int = MAX_ENTRIES) -> None:
        self.aging = aging
        self.max_entries = max_entries
        self._t: dict[bytes, tuple[K, float]] = {}
        self.flaps = 0  # a learnt MAC seen behind another port

    def __len__(self) -> int:
        return len(self._t)

    def learn(self, mac: bytes, port: K, now: float) -> None:
        if mac[0] & 1:  # never learn a multicast source
            return
        t = self._t
        old = t.get(mac)
        if old is not None:
            if old[0] is not port:
                self.flaps += 1
            del t[mac]  # re-insert: dict order is our LRU order
        elif len(t) >= self.max_entries:
            del t[next(iter(t))]
        t[mac] = (port, now)

    def lookup(self, mac: bytes, now: float) -> K | None:
        e = self._t.get(mac)
        if e is None:
            return None
        if now - e[1] > self.aging:
            del self._t[mac]
            return None
        return e[0]


class _Local:
    """The switch port of our own TAP."""

    name = "local"


LOCAL = _Local()
SwitchPort = Port | _Local


class Switch:
    """Frames in from the TAP (``from_tap``) and from peers (``ingress``); frames out to the TAP
    (``to_tap``, drained by the runtime) and to peers (their protocol's ``send``)."""

    def __init__(self, protocols: Sequence[Protocol[Any]], *, tap_vnet: bool, drops: Drops) -> None:
        self.ports: list[Port] = [p for proto in protocols for p in proto.ports if p.via is None]
        self.hub = len(self.ports) > 1
        self.drops = drops
        self.tap_vnet = tap_vnet
        self.tap_flags = VNET if tap_vnet else 0
        self.tap_off = offload.HDR_LEN if tap_vnet else 0
        self.to_tap: list[Frame] = []
        self.macs: MacTable[SwitchPort] = MacTable()
        for proto in protocols:
            proto.attach(self.ingress)
        # Point to point: frames from the TAP go to the one peer without a look at the MAC table, and
        # straight to its protocol when no conversion is needed (the per-packet path stays short).
        self._p2p = self.ports[0] if len(self.ports) == 1 else None

    def from_tap(self, frame: Frame, now: float) -> None:
        o, flags = self.tap_off, self.tap_flags
        if len(frame) < 14 + o:
            self.drops.count(Drop.TAP_RUNT)
            return
        p = self._p2p
        if p is not None:
            if p.vnet or not flags:
                p.protocol.send(p, frame, flags, now)
            else:
                self._to(p, frame, flags, now)
        elif self.hub:
            self._forward(LOCAL, frame, flags, o, now)

    def ingress(self, port: Port, frame: Frame, flags: int, now: float) -> None:
        """A frame that arrived from ``port`` (``flags & VNET``: it has a virtio-net header)."""
        o = offload.HDR_LEN if flags else 0
        if len(frame) < 14 + o:
            self.drops.count(Drop.RUNT)
            return
        if port.via is not None:
            port = port.via  # a carrier of an auto port
        port.rx_bytes += len(frame) - o
        port.rx_frames += 1
        if not self.hub:
            self._deliver(frame, flags)
        else:
            self._forward(port, frame, flags, o, now)

    def _forward(self, src: SwitchPort, frame: Frame, flags: int, o: int, now: float) -> None:
        """The switching rule (``o``: the virtio-net header's length, 0 if none)."""
        self.macs.learn(bytes(frame[o + 6 : o + 12]), src, now)  # may be a bytearray: keys must be bytes
        dst = None if frame[o] & 1 else self.macs.lookup(bytes(frame[o : o + 6]), now)
        if dst is src:
            return
        if dst is not None:
            self._to(dst, frame, flags, now)
            return
        if src is not LOCAL:
            self._deliver(frame, flags)
        for p in self.ports:
            if p is not src:
                self._to(p, frame, flags, now, flood=True)

    def _to(self, port: SwitchPort, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        if not isinstance(port, Port):
            self._deliver(frame, flags)
        elif flags and not port.vnet:
            for plain in self._plain(frame):
                port.protocol.send(port, plain, 0, now, flood)
        else:
            port.protocol.send(port, frame, flags, now, flood)

    def _deliver(self, frame: Frame, flags: int) -> None:
        """To our TAP, converting between the sender's and our TAP's framing when they differ."""
        if flags == self.tap_flags:
            self.to_tap.append(frame)
        elif self.tap_vnet:
            self.to_tap.append(offload.ZERO_HDR + frame)
        else:
            self.to_tap.extend(self._plain(frame))

    def _plain(self, frame: Frame) -> list[bytes]:
        try:
            return offload.to_plain(frame)
        except offload.OffloadError:
            self.drops.count(Drop.OFFLOAD_BAD)
            return []
