"""The initiator's side of the handshake: initiations, retransmits, responses, cookie replies, giving up.

An initiation goes out when a frame waits for a session, a keypair is due for rekeying, or a peer with
a persistent keepalive has none; it is retransmitted every REKEY_TIMEOUT (+ up to 1/3 s jitter) until
a response completes it, and after REKEY_ATTEMPT_TIME the peer is declared down and its keys erased.
A cookie reply to one of our initiations stores the cookie; the next retransmission carries mac2.
"""

from __future__ import annotations

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr, PeerDown
from tapliance.proto.native import constants as K
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import Peer
from tapliance.proto.native.state import Input, PeerState


class Initiator(NativeBase):
    def _maybe_initiate(self, peer: Peer, now: float) -> None:
        if peer.passphrase is not None and not peer.paired:
            self._maybe_pair(peer, now)  # shared-secret mode: no key to initiate to yet (pairing.py)
            return
        if peer.handshake is not None or peer.endpoint is None:
            return
        if now - peer.last_initiation < K.HANDSHAKE_MIN_INTERVAL:
            return
        peer.transition(Input.INITIATE)
        peer.handshake_started = now
        self._send_initiation(peer, now)

    def _send_initiation(self, peer: Peer, now: float) -> None:
        assert peer.endpoint is not None
        if peer.handshake is not None:
            self.indices.pop(peer.handshake.sender_index, None)
        idx = self.indices.allocate(peer, self.random)
        cookie = peer.cookie if now - peer.cookie_time < K.COOKIE_SECRET_LIFETIME else None
        if peer.pair_confirm is not None:  # until a handshake completes, the pairing's confirm goes first
            self.tx.append((peer.pair_confirm, peer.endpoint, len(peer.pair_confirm)))
        msg, peer.handshake = hs.create_initiation(
            suite=self.suite_id,
            static_private=self.static_private,
            static_public=self.static_public,
            peer_public=peer.public_key,
            peer_mac1_key=peer.mac1_key,
            sender_index=idx,
            ephemeral_private=self.random(32),
            unix_time=now + self.unix_offset,
            cookie=cookie,
            caps=self.caps | peer.caps,
        )
        peer.last_initiation = now
        peer.retransmit_at = now + K.REKEY_TIMEOUT + self.random(1)[0] / 768  # up to 1/3 s jitter
        self.tx.append((msg, peer.endpoint, len(msg)))

    def _on_response(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.RESP_LEN:
            self.drops.count(Drop.BAD_LENGTH)
            return
        receiver = int.from_bytes(data[8:12], "little")
        entry = self.indices.get(receiver)
        st = entry[0].handshake if entry is not None and entry[1] is None else None
        if entry is None or st is None or st.sender_index != receiver:
            self.drops.count(Drop.UNKNOWN_INDEX)
            return
        peer = entry[0]
        sender = int.from_bytes(data[4:8], "little")
        if not self._admit(data, W.RESP_MAC2_OFF, sender, addr, now):
            return
        start = self.cpu_time()
        try:
            remote, keys, caps = hs.consume_response(
                data, st, static_private=self.static_private, my_mac1_key=self.my_mac1_key, psk=peer.psk
            )
        except hs.HandshakeError as e:
            self.drops.count(e.reason)
            return
        finally:
            self.cookies.charge(self.cpu_time() - start, now)
        kp = Keypair(
            keys,
            self.params.suite,
            local_index=receiver,
            remote_index=remote,
            initiator=True,
            created=now,
            fast=self.fast,
        )
        self.indices[receiver] = (peer, kp)
        peer.handshake = None
        self.indices.free(peer.install(kp, confirmed=True))
        peer.last_received = now
        peer.awaiting_reply_since = None
        peer.handshake_rtt = now - peer.last_initiation  # every retransmission has its own index: this one's
        if addr != peer.endpoint:
            self._set_endpoint(peer, addr)
        self._completed(peer, addr, now, caps, initiator=True)
        if not self._flush(peer, now):
            self._keepalive(peer, kp, now)  # key confirmation for the responder

    def _on_cookie(self, data: bytes, now: float) -> None:
        receiver = int.from_bytes(data[4:8], "little")
        entry = self.indices.get(receiver)
        st = entry[0].handshake if entry is not None and entry[1] is None else None
        if entry is None or st is None:
            self.drops.count(Drop.UNKNOWN_INDEX)
            return
        try:
            _, cookie = hs.consume_cookie_reply(data, entry[0].cookie_key, st.mac1)
        except hs.HandshakeError as e:
            self.drops.count(e.reason)
            return
        entry[0].cookie, entry[0].cookie_time = cookie, now

    def _give_up(self, peer: Peer) -> None:
        if peer.handshake is not None:
            self.indices.pop(peer.handshake.sender_index, None)
        peer.handshake = None
        self.indices.free(peer.erase())
        peer.queue.clear()
        peer.awaiting_reply_since = None
        if peer.transition(Input.GIVE_UP) is not PeerState.RETRYING:  # report each outage once
            self.events.append(PeerDown(peer.name, f"no handshake answer for {K.REKEY_ATTEMPT_TIME:.0f} s"))
