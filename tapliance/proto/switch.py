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
source MACs cannot grow memory without limit (proto/mactable.py). In hub mode each peer's port policy
(proto/hubpolicy.py) applies: isolation between clients, a cap on the MACs learnt behind it, a rate
limit on what it makes the switch flood; MAC flaps are counted and a few logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapliance.proto import offload
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.events import Event, PeerNotice
from tapliance.proto.hubpolicy import may_talk
from tapliance.proto.mactable import MacTable
from tapliance.proto.protocol import VNET, Frame, Port, Protocol
from tapliance.proto.ratelimit import TokenBucket


class _Local:
    """The switch port of our own TAP."""

    name = "local"


LOCAL = _Local()
SwitchPort = Port | _Local


class Switch:
    """Frames in from the TAP (``from_tap``) and from peers (``ingress``); frames out to the TAP
    (``to_tap``, drained by the runtime) and to peers (their protocol's ``send``)."""

    def __init__(
        self, protocols: Sequence[Protocol[Any]], *, tap_vnet: bool, drops: Drops, events: list[Event] | None = None
    ) -> None:
        self.ports: list[Port] = []
        self.drops = drops
        self.events: list[Event] = events if events is not None else []
        self._flap_notices = TokenBucket(0.2, 5, 0.0)
        self.tap_vnet = tap_vnet
        self.tap_flags = VNET if tap_vnet else 0
        self.tap_off = offload.HDR_LEN if tap_vnet else 0
        self.to_tap: list[Frame] = []
        self.macs: MacTable[SwitchPort] = MacTable()
        for proto in protocols:
            proto.attach(self.ingress)
        self.set_ports([p for proto in protocols for p in proto.ports if p.via is None])

    def set_ports(self, ports: list[Port]) -> None:
        """The peers' ports (at start, and after a reload changed them): the MACs behind removed ones go."""
        for gone in set(self.ports) - set(ports):
            self.macs.forget(gone)
        self.ports = ports
        self.hub = len(ports) > 1
        self.isolation = any(not p.policy.open for p in ports)
        self.macs.max_entries = max(8192, sum(p.policy.max_macs for p in ports) + 1024)
        # Point to point: frames from the TAP go to the one peer without a look at the MAC table, and
        # straight to its protocol when no conversion is needed (the per-packet path stays short).
        self._p2p = ports[0] if len(ports) == 1 else None

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
        mac = bytes(frame[o + 6 : o + 12])  # may be a bytearray: keys must be bytes
        if isinstance(src, Port):
            refused = self.macs.refused
            moved = self.macs.learn(mac, src, now, src.policy.max_macs)
            if moved is not None:
                self._flapped(mac, moved, src, now)
            elif self.macs.refused != refused:
                self.drops.count(Drop.MAC_LIMIT)
        else:
            self.macs.learn(mac, src, now)
        dst = None if frame[o] & 1 else self.macs.lookup(bytes(frame[o : o + 6]), now)
        if dst is src:
            return
        apart = self.isolation and isinstance(src, Port)
        if dst is not None:
            if apart and isinstance(dst, Port) and not may_talk(src.policy, dst.policy):  # type: ignore[union-attr]
                self.drops.count(Drop.ISOLATED)
                return
            self._to(dst, frame, flags, now)
            return
        if isinstance(src, Port):
            bucket = src.policy.bucket
            if bucket is not None and not bucket.take(now):
                self.drops.count(Drop.FLOOD_LIMITED)
                return
            self._deliver(frame, flags)
        for p in self.ports:
            if p is not src and (not apart or may_talk(src.policy, p.policy)):  # type: ignore[union-attr]
                self._to(p, frame, flags, now, flood=True)

    def _flapped(self, mac: bytes, old: SwitchPort, new: Port, now: float) -> None:
        if self._flap_notices.take(now):
            self.events.append(PeerNotice(new.name, "warning", f"MAC {mac.hex(':')} moved here from {old.name}"))

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
