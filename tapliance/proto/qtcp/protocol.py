"""The QuickTun TCP protocol as tapliance's stream protocol: peers, their connections, and the switch's
frames carried over them.

A peer with an ``endpoint`` is dialled (we are the client; a lost connection is redialled with
backoff: 1, 2, 4 ... 30 s); any other TCP peer is served: a client that connects to our TCP listener
is matched to a peer by the key it presents (the spec's "client specific configuration"; an unknown
key is refused), or, for a peer configured without a key, by its password. One connection per peer
at a time: a new one that authenticates replaces the old.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tapliance.proto import offload
from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr, ConnectionChanged, NetworkAssigned, PeerNotice
from tapliance.proto.protocol import VNET, Context, Frame, StreamProtocol
from tapliance.proto.qtcp import commands
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.crypto import KeyPair
from tapliance.proto.qtcp.directory import Directory
from tapliance.proto.qtcp.peer import TcpPeer, TcpPeerSpec
from tapliance.proto.qtcp.reconfig import Reconfigure
from tapliance.proto.qtcp.session import Closed, Connection
from tapliance.proto.qtcp.show import show
from tapliance.proto.qtcp.stream import feed

ACCEPTED = 1 << 32  # handles at or above this are the transport's (accepted connections)
BACKOFF_MAX = 30.0
CONNECT_TIMEOUT = 10.0


def _show(a: Addr | None) -> str:
    return "?" if a is None else f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"


class QtcpProtocol(Reconfigure, StreamProtocol[TcpPeer]):
    def __init__(self, ctx: Context, static: KeyPair, peers: Sequence[TcpPeerSpec]) -> None:
        super().__init__(ctx)
        self.static = static
        self.ports = [TcpPeer(s, self) for s in peers]
        self.conns: dict[int, Connection] = {}
        self._next = 1
        self.offer_crypto = any(p.spec.policy.require_encryption for p in self.ports)
        self._now = 0.0
        self.directory = Directory(self.ports, self._bind, lambda: self._now)

    # -- the Host interface a Connection calls back ------------------------------------------------------

    def identify_key(self, c: Connection, public: bytes) -> bytes:
        return self.directory.identify_key(c, public)

    def identify_password(self, c: Connection, salt: bytes, digest: bytes) -> bool:
        return self.directory.identify_password(c, salt, digest)

    def identify_later(self, c: Connection) -> None:
        self.directory.identify_later(c)

    def wants_crypto(self) -> bool:
        return self.offer_crypto

    def password_allowed(self, c: Connection) -> bool:
        return self.directory.password_allowed(c)

    def password_attempt(self, c: Connection, ok: bool) -> None:
        if not ok:
            self.directory.password_failed(c)
        where = f"{c.remote[0]}:{c.remote[1]}" if c.remote else "?"
        self.events.append(
            PeerNotice(
                c.port.name if c.port is not None else "-",
                "info" if ok else "warning",
                f"password {'accepted' if ok else 'wrong'} from {where}",
            )
        )

    def deliver(self, c: Connection, frame: bytes, flags: int, now: float) -> None:
        self._ingress(c.port, frame, flags, now)

    def event(self, c: Connection, kind: str, data: Any) -> None:
        if kind == "drop":
            self.drops.count(data)
        elif kind == "route":
            if not Q.route_accepted(data, c.policy.accept_routes if c.policy is not None else ()):
                self.drops.count(Drop.ROUTE_REFUSED)
                return
            self.events.append(NetworkAssigned(c.port.name, data))
        elif kind == "netconfig" and c.client and c.policy is not None and c.policy.accept_network_config:
            self.events.append(NetworkAssigned(c.port.name, data))

    def random(self, n: int) -> bytes:
        return self.ctx.random(n)

    def _bind(self, c: Connection, peer: TcpPeer) -> None:
        if peer.conn is not None and peer.conn is not c:
            self._end(peer.conn.conn, "replaced by a new connection")
        c.port, c.policy, peer.conn = peer, peer.spec.policy, c

    # -- the stream protocol ----------------------------------------------------------------------------

    def on_connected(self, conn: int, addr: Addr, now: float) -> None:
        peer = next((p for p in self.ports if p.dialling == conn), None)
        if peer is None and conn < ACCEPTED:
            self.close.append(conn)  # a dial we gave up on (timed out) that connected after all
            return
        c = Connection(conn, peer is not None, self, peer.spec.policy if peer else None, now, static=self.static)
        self.conns[conn] = c
        c.remote = addr
        self._now = now
        policies = [peer.spec.policy] if peer is not None else [p.spec.policy for p in self.ports]
        if peer is not None:
            peer.dialling, peer.conn, c.port = None, c, peer
            peer.endpoint = addr
        options = (
            (Q.OPT_ENCRYPTION if any(p.require_encryption for p in policies) else 0)
            | (Q.OPT_UNENCRYPTED if any(p.encryption != "required" for p in policies) else 0)
            | (Q.OPT_VNET if any(p.vnet for p in policies) else 0)
        )
        commands.opening(c, options)
        if c.client:
            self._run(c, lambda: commands.progress(c, now))  # a raw client is ready at once

    def _run(self, c: Connection, step: Callable[[], None]) -> None:
        """One step of a connection's handshake; the connection ends (counted) if it breaks a rule."""
        was = c.enabled
        try:
            step()
        except Closed as e:
            self.drops.count(e.reason)
            self._end(c.conn, e.text)
            return
        if c.enabled and not was:
            self._started(c)

    def on_stream(self, conn: int, data: bytes, now: float) -> None:
        c = self.conns.get(conn)
        if c is None:
            return
        self._now = now
        self._run(c, lambda: feed(c, data, now))

    def _started(self, c: Connection) -> None:
        peer: TcpPeer = c.port
        peer.vnet = c.vnet
        peer.endpoint = c.remote
        peer.backoff, peer.reason = 1.0, ""
        self.events.append(ConnectionChanged(peer.name, peer.endpoint, True))
        if not c.client:
            if peer.spec.assign is not None:
                c.queue(peer.spec.assign.encode())
            for r in peer.spec.push_routes:
                c.queue(r.encode())

    def on_closed(self, conn: int, now: float) -> None:
        c = self.conns.pop(conn, None)
        for p in self.ports:
            if p.dialling == conn:
                p.dialling = None
                if p.reason.startswith("not connected") or not p.reason:
                    p.reason = f"TCP connection to {_show(p.spec.endpoint)} refused or unreachable"
                self._backoff(p, now)
        if c is None or c.port is None:
            return
        peer: TcpPeer = c.port
        if peer.conn is c:
            peer.conn = None
            self.events.append(ConnectionChanged(peer.name, peer.endpoint, False, peer.reason or "closed"))
            if peer.hung_up:  # our own hangup: dial again as soon as wanted, not after a backoff
                peer.hung_up, peer.next_dial = False, now
            elif peer.spec.endpoint is not None:
                self._backoff(peer, now)

    def _backoff(self, p: TcpPeer, now: float) -> None:
        p.next_dial = now + p.backoff * (1 + self.ctx.random(1)[0] / 1024)
        p.backoff = min(BACKOFF_MAX, p.backoff * 2)

    def _end(self, conn: int, why: str) -> None:
        c = self.conns.get(conn)
        if c is not None and c.port is not None:
            c.port.reason = why
        self.close.append(conn)

    def send_control(self, port: TcpPeer, payload: bytes, now: float) -> bool:
        c = port.conn
        if c is None or not c.enabled:
            return False
        c.queue(payload)
        return True

    def hangup(self, port: TcpPeer, why: str) -> None:
        """Close ``port``'s connection on purpose (``transport = "auto"``: UDP works again); the next dial,
        when one is wanted, is not held back by a backoff."""
        if port.conn is not None:
            port.hung_up = True
            self._end(port.conn.conn, why)

    def send(self, port: TcpPeer, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        c = port.conn
        if c is None or not c.enabled:
            if not flood:
                self.drops.count(Drop.TCP_NOT_CONNECTED)
            return
        if len(frame) > c.max_frame:  # a TSO super-frame over the 15-bit length: segments, each with a header
            try:
                pieces = [offload.ZERO_HDR + f for f in offload.to_plain(frame)]
            except offload.OffloadError:
                self.drops.count(Drop.OFFLOAD_BAD)
                return
        else:
            pieces = [bytes(frame)]
        for piece in pieces:
            if c.queue_frame(piece, flags & VNET):
                self.drops.count(Drop.TCP_QUEUE_FULL)
        port.tx_bytes += len(frame) - (offload.HDR_LEN if flags & VNET else 0)
        port.tx_frames += 1

    def ready(self) -> list[int]:
        return [k for k, c in self.conns.items() if c.pending()]

    def take(self, conn: int, room: int) -> bytes:
        c = self.conns.get(conn)
        if c is None:
            return b""
        out = c.take(room)
        self._run(c, lambda: commands.progress(c, self._now))  # what we sent may let the handshake go on
        return out

    def on_timer(self, now: float) -> float:
        deadline, self._now = now + 1.0, now  # at least once a second: I/O may have changed what is due
        for p in self.ports:
            if p.dialling is not None and now - p.dial_at > CONNECT_TIMEOUT:
                p.reason = f"no TCP connection to {_show(p.spec.endpoint)} within {CONNECT_TIMEOUT:.0f} s"
                self.close.append(p.dialling)  # the transport closes it and calls on_closed
            elif p.dialling is not None:
                deadline = min(deadline, p.dial_at + CONNECT_TIMEOUT + 0.01)
            if p.spec.endpoint is not None and p.conn is None and p.dialling is None and not p.standby:
                if now >= p.next_dial:
                    p.dialling, self._next, p.dial_at = self._next, self._next + 1, now
                    self.dial.append((p.dialling, p.spec.endpoint))
                    deadline = min(deadline, now + CONNECT_TIMEOUT + 0.01)
                else:
                    deadline = min(deadline, p.next_dial)
        for conn, c in list(self.conns.items()):
            try:
                deadline = min(deadline, commands.tick(c, now))
            except Closed as e:
                self.drops.count(e.reason)
                self._end(conn, e.text)
        return deadline

    def status(self, now: float) -> dict[str, Any]:
        return {}

    def port_status(self, port: TcpPeer, now: float) -> dict[str, Any]:
        return show(port, now)
