"""The responder's side of the handshake: an initiation in, a response and a fresh keypair out.

Cost of an unauthenticated initiation: one BLAKE2s (mac1), then, admitted by cookie.py (within its
network's rate, and with a valid mac2 when under load), one X25519 and one AEAD open to learn who claims
to be calling; the CPU time of that work is measured and charged to the handshake budget. It creates no state until
the initiation authenticated as a configured peer's with a timestamp newer than the last one accepted
from that peer. The new keypair waits in the peer's ``next`` slot until the initiator's first data
message confirms it (receive.py).
"""

from __future__ import annotations

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.keypair import Keypair


class Responder(NativeBase):
    def _on_initiation(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.INIT_LEN:
            self.drops.count(Drop.BAD_LENGTH)
            return
        if not P.equal(P.mac(self.my_mac1_key, data[: W.INIT_MAC1_OFF]), data[W.INIT_MAC1_OFF : W.INIT_MAC2_OFF]):
            self.drops.count(Drop.BAD_MAC1)
            return
        sender = int.from_bytes(data[4:8], "little")
        if not self._admit(data, W.INIT_MAC2_OFF, sender, addr, now):
            return
        cpu = self.cpu_time
        start = cpu()
        self._respond(data, addr, now)
        self.cookies.charge(cpu() - start, now)

    def _respond(self, data: bytes, addr: Addr, now: float) -> None:
        """The admitted initiation's DH work: consume it, answer it, install the new keypair."""
        try:
            init = hs.consume_initiation(
                data,
                suite=self.suite_id,
                static_private=self.static_private,
                static_public=self.static_public,
                my_mac1_key=self.my_mac1_key,
                lookup_ss=lambda pk: p.ss if (p := self.peers.get(pk)) else None,
            )
        except hs.HandshakeError as e:
            self.drops.count(e.reason)
            return
        peer = self.peers[init.peer_public]
        if init.timestamp <= peer.last_timestamp:
            self.drops.count(Drop.STALE_TIMESTAMP)  # a replayed initiation
            return
        peer.last_timestamp = init.timestamp
        idx = self.indices.allocate(peer, self.random)
        msg, keys = hs.create_response(
            init,
            sender_index=idx,
            ephemeral_private=self.random(32),
            psk=peer.psk,
            peer_mac1_key=peer.mac1_key,
            cookie=None,
            caps=self.caps | peer.caps,
        )
        kp = Keypair(
            keys,
            self.params.suite,
            local_index=idx,
            remote_index=init.sender_index,
            initiator=False,
            created=now,
            fast=self.fast,
        )
        self.indices[idx] = (peer, kp)
        self.indices.free(peer.install(kp, confirmed=False))
        if peer.endpoint is None:  # discovery: the first authenticated initiation tells us where the peer is
            self._set_endpoint(peer, addr)
        # A peer we know the address of is not moved by an initiation: a genuine one that never reached us can
        # be captured and replayed later from anywhere, with a timestamp newer than any we saw. Its response
        # goes back to where it came from; the new session's first data message (receive.py) proves the sender
        # holds the keys, and moves the endpoint if the peer really moved (a round trip later).
        self.tx.append((msg, addr, len(msg)))
        self._completed(peer, addr, now, init.caps, initiator=False)
