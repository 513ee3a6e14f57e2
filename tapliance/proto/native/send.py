"""The native protocol's send path: frames from the switch to sealed datagrams.

Pipeline (the hot path), per frame:
    usable keypair? -- no --> hold the frame (bounded queue) and start a handshake
         | yes
    Keypair.seal_frame: even chunks -> consecutive counters -> header + AEAD in place, one buffer
    -> tx (the runtime sends it with one UDP GSO call) -> counters -> rekey on volume / age
"""

from __future__ import annotations

from tapliance.proto import offload
from tapliance.proto.drops import Drop
from tapliance.proto.native import constants as K
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import Peer
from tapliance.proto.protocol import Frame


class Send(NativeBase):
    def send(self, peer: Peer, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        kp = peer.usable(now, self.reject_after)
        if kp is None or peer.endpoint is None:
            if flood and peer.endpoint is None:
                return  # a hub does not queue floods for clients it has never heard from
            if len(peer.queue) == peer.queue.maxlen:
                self.drops.count(Drop.QUEUE_FULL)
            peer.queue.append((frame, flags))
            self._maybe_initiate(peer, now)
            return
        try:
            buf, seg = kp.seal_frame(frame, self.max_chunk, flags)
        except ValueError:
            self.drops.count(Drop.FRAME_TOO_BIG)
            return
        self.tx.append((buf, peer.endpoint, seg))
        peer.tx_bytes += len(frame) - (offload.HDR_LEN if flags & W.FLAG_VNET else 0)
        peer.tx_frames += 1
        self._sent(peer, now)
        if (
            kp.sent_bytes > self.rekey_after_bytes
            or kp.counter > K.REKEY_AFTER_MESSAGES
            or (kp.initiator and now - kp.created > self.rekey_after)
        ):
            self._maybe_initiate(peer, now)

    def _flush(self, peer: Peer, now: float) -> bool:
        if not peer.queue:
            return False
        frames = list(peer.queue)
        peer.queue.clear()
        for f, flags in frames:
            self.send(peer, f, flags, now)
        return True

    def _keepalive(self, peer: Peer, kp: Keypair, now: float) -> None:
        if peer.endpoint is not None:
            buf, seg = kp.seal_frame(b"", self.max_chunk)
            self.tx.append((buf, peer.endpoint, seg))
            self._sent(peer, now)
