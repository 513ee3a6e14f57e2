"""The native protocol's timer rules, evaluated by ``on_timer``, which returns when to call it again.

- an unanswered initiation is retransmitted every REKEY_TIMEOUT (+ jitter); after REKEY_ATTEMPT_TIME
  the peer is declared down and its keys are erased;
- a keypair older than 1.5 x rekey_after is erased;
- rekey: the initiator of the current keypair rekeys after ``rekey_after`` seconds (or bytes, on the
  send path), the responder as a fallback 2 x REKEY_TIMEOUT later;
- persistent keepalive: an empty data message after ``keepalive`` seconds of tx silence; with
  keepalive 0, a passive one PASSIVE_KEEPALIVE after receiving data, so the far end can tell we live;
  a ``mirror`` peer (the answering end of transport auto) gets keepalives only while we hear it
  (within its keepalive + 0.25 s);
  a peer with a keepalive and an endpoint but no session starts a handshake without waiting for data;
- dead-peer detection: something sent but nothing received for keepalive + REKEY_TIMEOUT starts a
  handshake (this is how a peer that restarted and lost its keys is healed without an operator).
"""

from __future__ import annotations

from tapliance.proto.native import constants as K
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.peer import Peer
from tapliance.proto.native.state import Input


class Timers(NativeBase):
    def on_timer(self, now: float) -> float:
        self._deliver_salvaged(self.reasm.expire(now), now)
        deadline = min(now + 1.0, self.reasm.deadline)
        for peer in self.ports:
            deadline = min(deadline, self._peer_timers(peer, now))
        return deadline

    def _peer_timers(self, peer: Peer, now: float) -> float:
        if peer.handshake is not None and now >= peer.retransmit_at:
            if now - peer.handshake_started >= K.REKEY_ATTEMPT_TIME:
                self._give_up(peer)
            else:
                self._send_initiation(peer, now)
        if peer.current is not None and now - peer.current.created >= self.reject_after:
            peer.transition(Input.EXPIRE)
            self.indices.free(peer.erase())
        deadlines = [self._pair_timers(peer, now), self._session_timers(peer, now)]
        if peer.awaiting_reply_since is not None:
            dead_at = peer.awaiting_reply_since + (peer.keepalive or K.PASSIVE_KEEPALIVE) + K.REKEY_TIMEOUT
            if now >= dead_at and peer.handshake is None:
                peer.awaiting_reply_since = None
                self._maybe_initiate(peer, now)
            else:
                deadlines.append(dead_at)
        if peer.handshake is not None:
            deadlines.append(peer.retransmit_at)
        return min(deadlines)

    def _session_timers(self, peer: Peer, now: float) -> float:
        """Rekey and keepalive on a usable session; the persistent keepalive's handshake without one."""
        kp = peer.usable(now, self.reject_after)
        deadline = now + 3600.0
        if kp is not None:
            rekey_at = kp.created + self.rekey_after + (0 if kp.initiator else 2 * K.REKEY_TIMEOUT)
            if now >= rekey_at:
                self._maybe_initiate(peer, now)
            deadline = max(rekey_at, now + K.HANDSHAKE_MIN_INTERVAL)
            interval = peer.keepalive or (K.PASSIVE_KEEPALIVE if peer.last_received > peer.last_sent else 0)
            if interval and peer.spec.mirror and now - peer.last_received > interval + 0.25:
                interval = 0  # deaf to them: silent too, so a far end whose packets do not reach us notices
            if interval:
                if now - peer.last_sent >= interval:
                    self._keepalive(peer, kp, now)
                deadline = min(deadline, peer.last_sent + interval)
        elif peer.keepalive > 0 and peer.endpoint is not None:
            self._maybe_initiate(peer, now)  # keep a configured tunnel up without waiting for traffic
            deadline = peer.last_initiation + K.HANDSHAKE_MIN_INTERVAL
        return deadline
