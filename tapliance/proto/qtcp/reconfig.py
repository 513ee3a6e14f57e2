"""Peers of the TCP protocol added and removed while it runs (``tapliance reload``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tapliance.proto.qtcp.directory import Directory
from tapliance.proto.qtcp.peer import TcpPeer, TcpPeerSpec

if TYPE_CHECKING:
    from tapliance.proto.qtcp.session import Connection


class Reconfigure:
    ports: list[TcpPeer]
    directory: Directory
    offer_crypto: bool
    close: list[int]
    _now: float
    _bind: Callable[[Connection, TcpPeer], None]

    def _end(self, conn: int, why: str) -> None:
        raise NotImplementedError

    def add_peer(self, spec: TcpPeerSpec) -> TcpPeer:
        """A peer added at a reload."""
        peer = _new_peer(spec, self)
        self.ports.append(peer)
        self._rebuild()
        return peer

    def remove_peer(self, public_key: bytes | None, name: str) -> None:
        """A peer removed at a reload (by key, or by name for a keyless one): its connection ends."""
        peer = next(
            (p for p in self.ports if (p.spec.public_key == public_key if public_key else p.name == name)), None
        )
        if peer is None:
            return
        if peer.conn is not None:
            self._end(peer.conn.conn, "removed by a reload")
        if peer.dialling is not None:
            self.close.append(peer.dialling)
        self.ports.remove(peer)
        self._rebuild()

    def _rebuild(self) -> None:
        failures = self.directory.failures
        self.directory = Directory(self.ports, self._bind, lambda: self._now)
        self.directory.failures = failures
        self.offer_crypto = any(p.spec.policy.require_encryption for p in self.ports)


def _new_peer(spec: TcpPeerSpec, proto: Any) -> TcpPeer:
    from tapliance.proto.qtcp.peer import TcpPeer

    return TcpPeer(spec, proto)
