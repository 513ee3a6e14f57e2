"""The native protocol's control messages: a data message with the ``CONTROL`` flag carries, instead of a
frame, commands in the QuickTun TCP protocol's encoding (set network configuration, routing information
update), so a hub's address handout has one encoding over both carriers (tapliance/hub/leases.py). Sent
only to a peer whose handshake announced ``CAP_CONTROL``; the receiver applies what its peer config
accepts and counts the rest."""

from __future__ import annotations

from tapliance.proto.drops import Drop
from tapliance.proto.events import NetworkAssigned
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.peer import Peer
from tapliance.proto.protocol import Frame
from tapliance.proto.qtcp import wire as Q


class Control(NativeBase):
    def send_control(self, peer: Peer, payload: bytes, now: float) -> bool:
        """Seal ``payload`` (one control command) to ``peer``; False if it takes none. A responder's new
        session is not usable before the initiator's first data confirms it: until then the message waits
        in the peer's queue like a frame."""
        if peer.endpoint is None or not peer.remote_caps & W.CAP_CONTROL:
            return False
        kp = peer.usable(now, self.reject_after)
        if kp is None:
            peer.queue.append((payload, W.FLAG_CONTROL))
            return True
        buf, seg = kp.seal_frame(payload, self.max_chunk, W.FLAG_CONTROL)
        self.tx.append((buf, peer.endpoint, seg))
        self._sent(peer, now)
        return True

    def _control_in(self, peer: Peer, payload: Frame, flags: int, now: float) -> None:
        if flags & W.FLAG_VNET:
            self.drops.count(Drop.CONTROL_BAD)
            return
        try:
            commands = Q.unwrap(bytes(payload))
            for cmd in commands:
                self._control_command(peer, cmd)
        except Q.MessageError:
            self.drops.count(Drop.CONTROL_BAD)

    def _control_command(self, peer: Peer, cmd: bytes) -> None:
        spec = peer.spec
        if cmd[0] == Q.NETWORK_CONFIG:
            cfg = Q.NetworkConfig.decode(cmd[1:])
            if spec.accept_addresses:
                self.events.append(NetworkAssigned(peer.name, cfg))
        elif cmd[0] == Q.ROUTING_UPDATE:
            update = Q.RouteUpdate.decode(cmd[1:])
            if Q.route_accepted(update, spec.accept_routes):
                self.events.append(NetworkAssigned(peer.name, update))
            else:
                self.drops.count(Drop.ROUTE_REFUSED)
        else:
            self.drops.count(Drop.CONTROL_UNKNOWN)
