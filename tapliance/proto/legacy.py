"""The legacy protocol: any predecessor's codec (tapliance/suites/codec.py) as a protocol of its own.

A predecessor's format has no field that says which session a datagram belongs to, so each legacy
peer gets a socket of its own (its ``listen`` address, or an ephemeral port when only its endpoint is
known, as QuickTun's and tappet's clients do) and this protocol serves exactly one port. The codec
does the format; this adapter does what every legacy peer needs the same way:

    datagram -> codec.open -> frame to the switch | keepalive (b"") | a counted drop
             -> authenticated: liveness, and the endpoint follows the source address (roaming only
                on authenticated datagrams; the unauthenticated raw format learns it once)
    frame from the switch -> codec.seal -> one datagram to the endpoint (nothing while it is unknown)
    timers -> codec.on_timer -> its control datagrams (keepalives, key updates)
    codec.notices (optional) -> PeerNotice events (logged); codec.status() (optional) -> the peer's status;
    close() -> codec.close() (optional): a clean stop, at the daemon's teardown

The codecs work in wall-clock seconds (their formats carry wall-clock timestamps); the adapter adds
``ctx.unix_offset`` to the monotonic time it is given and converts deadlines back.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr, EndpointChanged, PeerNotice
from tapliance.proto.protocol import Context, DatagramProtocol, Frame, Port
from tapliance.suites.codec import Codec

UP_AFTER_SILENCE = 60.0  # a legacy peer is shown "up" this long after its last authenticated datagram
IDLE_DEADLINE = 3600.0


class LegacyPeer(Port):
    def __init__(self, name: str, protocol: LegacyProtocol, endpoint: Addr | None) -> None:
        super().__init__(name, protocol, vnet=False)  # predecessors carry plain Ethernet frames only
        self.endpoint = endpoint
        self.last_received = -math.inf


class LegacyProtocol(DatagramProtocol[LegacyPeer]):
    def __init__(
        self,
        ctx: Context,
        codec: Codec,
        *,
        name: str,
        suite: str,
        endpoint: Addr | None,
        public_key: bytes | None = None,
    ) -> None:
        super().__init__(ctx)
        self.codec = codec
        self.suite = suite
        self.public_key = public_key
        self.peer = LegacyPeer(name, self, endpoint)
        self.ports = [self.peer]
        self.unix_offset = ctx.unix_offset
        self._roams = codec.authenticates
        self._notices: list[tuple[str, str]] | None = getattr(codec, "notices", None)
        self._status_of = getattr(codec, "status", None)

    def on_datagram(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        out = self.codec.open(bytes(data), now + self.unix_offset)
        peer = self.peer
        if isinstance(out, Drop):
            self.drops.count(out)
            if self._notices:
                self._drain()
            return
        peer.last_received = now
        if addr != peer.endpoint and (self._roams or peer.endpoint is None):
            self.events.append(EndpointChanged(peer.name, peer.endpoint, addr))
            peer.endpoint = addr
            peer.endpoint_changes += 1
        self._drain()
        if out:
            self._ingress(peer, out, 0, now)

    def send(self, port: LegacyPeer, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        if port.endpoint is None:
            if not flood:
                self.drops.count(Drop.NO_ENDPOINT)
            return
        out = self.codec.seal(bytes(frame), now + self.unix_offset)
        if isinstance(out, Drop):
            self.drops.count(out)
            if self._notices:
                self._drain()
            return
        self.tx.append((out, port.endpoint, len(out)))
        port.tx_bytes += len(frame)
        port.tx_frames += 1
        self._drain()

    def on_timer(self, now: float) -> float:
        deadline = self.codec.on_timer(now + self.unix_offset) - self.unix_offset
        self._drain()
        return min(deadline, now + IDLE_DEADLINE)

    def _drain(self) -> None:
        notices = self._notices
        if notices:
            self.events.extend(PeerNotice(self.peer.name, level, message) for level, message in notices)
            notices.clear()
        control = self.codec.control
        if control:
            ep = self.peer.endpoint
            if ep is not None:
                self.tx.extend((d, ep, len(d)) for d in control)
            control.clear()

    def status(self, now: float) -> dict[str, Any]:
        return {}

    def port_status(self, port: LegacyPeer, now: float) -> dict[str, Any]:
        ago = now - port.last_received
        st = {
            "name": port.name,
            "suite": self.suite,
            "public_key": base64.b64encode(self.public_key).decode() if self.public_key else None,
            "endpoint": f"{port.endpoint[0]}:{port.endpoint[1]}" if port.endpoint else None,
            "state": "up" if ago < UP_AFTER_SILENCE else "idle",
            "last_received_ago": round(ago, 1) if math.isfinite(ago) else None,
            "insecure": self.codec.insecure,
            "endpoint_changes": port.endpoint_changes,
            "rx_bytes": port.rx_bytes,
            "tx_bytes": port.tx_bytes,
            "rx_frames": port.rx_frames,
            "tx_frames": port.tx_frames,
        }
        if self._status_of is not None:
            st.update(self._status_of())
        return st

    def close(self) -> None:
        """A clean stop of the codec (an otp pad's exact offsets written), if it has one."""
        close = getattr(self.codec, "close", None)
        if close is not None:
            close()
