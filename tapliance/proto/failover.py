"""``transport = "auto"``: one switch port for a peer reachable over UDP (the native protocol) and, where UDP
is blocked, over TCP (the QuickTun TCP protocol), and the rule that picks the carrier.

Both carriers are ports of their own protocols, hidden from the switch (``via`` points at the AutoPort,
so frames they receive are learnt on it). The dialling end (the peer has an endpoint):
- probes UDP all the time: the native peer keeps a 1-second keepalive (``KEEPALIVE``), so its handshake
  is retried and its liveness known within ``UDP_ALIVE`` seconds;
- falls back: no live UDP session ``FALLBACK_AFTER`` seconds after the start, or nothing heard over UDP
  for ``UDP_ALIVE`` seconds once it worked, and the TCP member dials in the same timer pass (the node
  runs this protocol's timer first); once its tunnel is up, frames go over TCP;
- moves back: as soon as UDP is alive again, frames go over UDP; the TCP connection is closed
  ``GRACE`` seconds later (what it still carries arrives).
The answering end (no endpoint) sends over the carrier the far end last spoke on, UDP while both are
fresh; hearing the far end on neither, it sends nothing, UDP keepalives included (``mirror``: none once
it has not heard the far end for a keepalive and a quarter second), so that a far end whose UDP
packets stopped reaching us (a one-way block) sees UDP go quiet and falls back.
With no carrier up yet, frames go to the UDP member, which holds a few and starts a handshake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tapliance.proto import offload
from tapliance.proto.drops import Drop
from tapliance.proto.events import PeerNotice
from tapliance.proto.protocol import Context, Frame, Port, Protocol

if TYPE_CHECKING:
    from tapliance.proto.native.peer import Peer
    from tapliance.proto.qtcp.peer import TcpPeer

KEEPALIVE = 1.0
UDP_ALIVE = 3.0
FALLBACK_AFTER = 3.0
GRACE = 5.0
TICK = 0.25  # how often the carrier is chosen again


class AutoPort(Port):
    def __init__(self, name: str, protocol: FailoverProtocol, udp: Peer, tcp: TcpPeer, now: float) -> None:
        super().__init__(name, protocol, vnet=False)
        self.udp, self.tcp = udp, tcp
        udp.via = tcp.via = self
        self.dials = udp.endpoint is not None or tcp.spec.endpoint is not None
        tcp.standby = self.dials  # a dialling end uses TCP only once UDP failed
        self.carrier: Port | None = None
        self.udp_ok_at = now  # the fallback clock starts at start-up
        self.udp_back_at: float | None = None
        self.udp_seen = False  # UDP worked once: when it stops (UDP_ALIVE), fall back at once
        self.deaf = False  # the answering end, hearing the far end on neither carrier: sends nothing

    @property
    def vnet(self) -> bool:
        c = self.carrier or self.udp
        return c.vnet

    @vnet.setter
    def vnet(self, _value: bool) -> None:  # Port.__init__ sets it; ours follows the carrier
        pass


class FailoverProtocol(Protocol[AutoPort]):
    transport = "none"

    def __init__(self, ctx: Context, pairs: list[tuple[str, Peer, TcpPeer]], now: float) -> None:
        super().__init__(ctx)
        self.ports = [AutoPort(name, self, u, t, now) for name, u, t in pairs]

    def udp_alive(self, p: AutoPort, now: float) -> bool:
        u = p.udp
        return u.usable(now, u.protocol.reject_after) is not None and now - u.last_received < UDP_ALIVE  # type: ignore[attr-defined]

    def tcp_alive(self, p: AutoPort) -> bool:
        return p.tcp.conn is not None and p.tcp.conn.enabled

    def send(self, port: AutoPort, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        if port.deaf:  # the answering end hears the far end on neither carrier: it could not reach us either
            self.drops.count(Drop.AUTO_NO_CARRIER)
            return
        m = port.carrier or port.udp
        if flags and not m.vnet:
            for plain in offload.to_plain(frame):
                m.protocol.send(m, plain, 0, now, flood)
            return
        m.protocol.send(m, frame, flags, now, flood)

    def send_control(self, port: AutoPort, payload: bytes, now: float) -> bool:
        m = port.carrier or port.udp
        return m.protocol.send_control(m, payload, now)

    def on_timer(self, now: float) -> float:
        for p in self.ports:
            self._choose(p, now)
        return now + TICK

    def _choose(self, p: AutoPort, now: float) -> None:
        """Pick ``p``'s carrier, and tell its TCP member whether to dial. The node runs this protocol's
        timer before the TCP protocol's (assembly.py), so a member taken out of standby dials in the same
        pass."""
        udp_ok, tcp_ok = self.udp_alive(p, now), self.tcp_alive(p)
        if udp_ok:
            p.udp_ok_at, p.udp_seen = now, True
        if not p.dials:
            tcp_rx = p.tcp.conn.last_rx if p.tcp.conn is not None else -1e9
            newer_tcp = tcp_ok and (not udp_ok or tcp_rx > p.udp.last_received + 1.0)
            self._use(p, p.tcp if newer_tcp else p.udp if udp_ok else p.carrier, now)
            p.deaf = not udp_ok and not tcp_ok and p.carrier is not None
            return
        if udp_ok:
            if p.carrier is not p.udp:
                p.udp_back_at = now
                self._use(p, p.udp, now)
            if tcp_ok and p.udp_back_at is not None and now - p.udp_back_at >= GRACE:
                p.tcp.protocol.hangup(p.tcp, "UDP works again")  # type: ignore[attr-defined]
            p.tcp.standby = not tcp_ok or (p.udp_back_at is not None and now - p.udp_back_at >= GRACE)
            return
        if p.udp_seen or now - p.udp_ok_at >= FALLBACK_AFTER:
            p.tcp.standby = False  # dial (and redial) TCP
            if tcp_ok and p.carrier is not p.tcp:
                self._use(p, p.tcp, now)

    def _use(self, p: AutoPort, carrier: Port | None, now: float) -> None:
        if carrier is p.carrier or carrier is None:
            return
        was = p.carrier
        p.carrier = carrier
        kind = "UDP" if carrier is p.udp else "TCP"
        if was is not None or kind == "TCP":
            why = f" (no UDP session for {now - p.udp_ok_at:.0f} s)" if kind == "TCP" and p.dials else ""
            self.events.append(PeerNotice(p.name, "info" if kind == "UDP" else "warning", f"carried over {kind}{why}"))

    def status(self, now: float) -> dict[str, Any]:
        return {}

    def port_status(self, port: AutoPort, now: float) -> dict[str, Any]:
        udp = port.udp.protocol.port_status(port.udp, now)
        tcp = port.tcp.protocol.port_status(port.tcp, now)
        c = port.carrier
        out = dict(tcp if c is port.tcp else udp)
        out.update(
            name=port.name,
            transport="auto",
            carrier="tcp" if c is port.tcp else "udp" if c is port.udp else None,
            rx_bytes=port.rx_bytes,
            rx_frames=port.rx_frames,
            tx_bytes=port.udp.tx_bytes + port.tcp.tx_bytes,
            tx_frames=port.udp.tx_frames + port.tcp.tx_frames,
            udp={k: udp.get(k) for k in ("state", "endpoint", "last_handshake_ago")},
            tcp={k: tcp.get(k) for k in ("state", "endpoint", "rtt", "why")},
        )
        return out
