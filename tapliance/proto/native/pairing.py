"""Shared-secret mode: the pairing runs (pake.py) that give a passphrase peer its static key and psk.

A peer configured with a passphrase and no public key starts unpaired: it is a switch port whose
frames wait (as for any handshake), but it is in no look-up table, so no Noise message can be for it.
Whenever a handshake would start with it, a pairing run starts instead (init -> reply -> confirm);
when the run completes, the peer holds the far end's static key and the pairing's psk, and the usual
Noise_IKpsk2 handshakes (and every rekey) follow without the passphrase.

Rules:
- every run we answer or start is one passphrase guess and takes one from the guess budget
  (guesses.py); an init over the budget is dropped unanswered (``pair_rate``);
- an unanswered run is dropped after REKEY_TIMEOUT (+ jitter) and a fresh one started (new index, new
  SPAKE2 scalar: a run is never resumed);
- two inits that cross (both ends started at once) would pair twice with different keys: the run
  whose init carries the smaller SPAKE2 element wins at both ends (``pair_collision``), and a side that
  has just answered an init starts none of its own for REKEY_TIMEOUT;
- a responder's run waits for its confirm at most PAIR_PENDING seconds, at most MAX_PENDING at once
  (oldest dropped); a confirm that does not open leaves the run waiting (a forged one cannot cancel
  it); the confirm rides in front of each Noise initiation until a handshake completes, so a lost one
  is sent again;
- a pairing whose Noise handshake stays unanswered for PAIR_STALE (the far end restarted and forgot
  it) is given up and a new run started; until a new run completes the old pairing still works.
A pairing replaces the one before only when it completed: unauthenticated messages never change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr, PeerNotice
from tapliance.proto.native import constants as K
from tapliance.proto.native import pake
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.peer import Peer

PAIR_PENDING = 15.0  # seconds a responder's run waits for its confirm
MAX_PENDING = 8
PAIR_STALE = 2 * K.REKEY_TIMEOUT  # a paired handshake unanswered this long: pair again


@dataclass
class Pending:
    """A run we answered, waiting for the initiator's confirm."""

    peer: Peer
    keys: pake.PairKeys
    reply: bytes
    created: float


class Pairing(NativeBase):
    def _pair_index(self) -> int:
        while True:
            idx = int.from_bytes(self.random(4), "little")
            if idx not in self.pair_runs and idx not in self.pair_pending:
                return idx

    def _maybe_pair(self, peer: Peer, now: float) -> None:
        """Start a pairing run with ``peer`` unless one runs, we just answered theirs, or no guess is left."""
        assert peer.passphrase is not None
        if peer.pair_run is not None or peer.endpoint is None or now < peer.pair_retry_at:
            return
        if now - peer.pair_answered < K.REKEY_TIMEOUT:
            return
        peer.pair_retry_at = now + K.REKEY_TIMEOUT + self.random(1)[0] / 768
        if not self.guesses.take(None, now):
            return
        idx = self._pair_index()
        msg, peer.pair_run = pake.start(peer.passphrase, self.suite_id, idx, self.random)
        self.pair_runs[idx] = peer
        self.tx.append((msg, peer.endpoint, len(msg)))

    def _drop_run(self, peer: Peer) -> None:
        if peer.pair_run is not None:
            self.pair_runs.pop(peer.pair_run.sender_index, None)
        peer.pair_run = None

    def _pair_timers(self, peer: Peer, now: float) -> float:
        """Retry an unanswered run; give up a stale pairing. Returns the next deadline for ``peer``."""
        if peer.passphrase is None:
            return now + 3600.0
        if peer.pair_run is not None and now >= peer.pair_retry_at:
            self._drop_run(peer)
        if peer.paired and peer.handshake is not None and now - peer.handshake_started >= PAIR_STALE:
            peer.paired = False  # the far end does not answer this pairing's handshakes: pair again
        if not peer.paired and (peer.pair_run is not None or peer.queue or peer.keepalive > 0):
            self._maybe_pair(peer, now)
            return max(peer.pair_retry_at, now + 0.05)
        return now + 3600.0

    def _on_pair_init(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.PAIR_INIT_LEN:
            self.drops.count(Drop.BAD_LENGTH)
            return
        if data[1] != self.suite_id:
            self.drops.count(Drop.SUITE_MISMATCH)
            return
        peer = self.passphrase_peer
        if peer is None or peer.passphrase is None:
            self.drops.count(Drop.PAIR_REFUSED)
            return
        run = peer.pair_run
        if run is not None and run.element < data[8:40]:
            self.drops.count(Drop.PAIR_COLLISION)  # ours wins at both ends
            return
        if not self.guesses.take(addr, now):
            self.drops.count(Drop.PAIR_RATE)
            return
        idx = self._pair_index()
        try:
            reply, keys = pake.answer(data, peer.passphrase, idx, self.static_public, self.random)
        except pake.PairError as e:
            self.drops.count(e.reason)
            return
        self._drop_run(peer)
        for old in [i for i, p in self.pair_pending.items() if now - p.created > PAIR_PENDING]:
            del self.pair_pending[old]
        if len(self.pair_pending) >= MAX_PENDING:
            del self.pair_pending[next(iter(self.pair_pending))]
        self.pair_pending[idx] = Pending(peer, keys, reply, now)
        peer.pair_answered = now
        self.tx.append((reply, addr, len(reply)))

    def _on_pair_reply(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.PAIR_REPLY_LEN:
            self.drops.count(Drop.BAD_LENGTH)
            return
        peer = self.pair_runs.get(int.from_bytes(data[8:12], "little"))
        if peer is None or peer.pair_run is None:
            self.drops.count(Drop.UNKNOWN_INDEX)
            return
        try:
            public, confirm, keys = pake.finish(data, peer.pair_run, self.static_public)
            self._paired(peer, public, pake.psk(keys, self.static_public, public), addr, now)
        except pake.PairError as e:
            self.drops.count(e.reason)
            return
        self._drop_run(peer)
        peer.pair_confirm = confirm
        if peer.handshake is not None:
            self._send_initiation(peer, now)  # with the new key and psk (it sends the confirm first)
        else:
            self._maybe_initiate(peer, now)

    def _on_pair_confirm(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.PAIR_CONFIRM_LEN:
            self.drops.count(Drop.BAD_LENGTH)
            return
        idx = int.from_bytes(data[4:8], "little")
        pending = self.pair_pending.get(idx)
        if pending is None or now - pending.created > PAIR_PENDING:
            self.drops.count(Drop.UNKNOWN_INDEX)
            return
        try:
            public = pake.confirm(data, pending.keys, pending.reply)
            self._paired(pending.peer, public, pake.psk(pending.keys, public, self.static_public), addr, now)
        except pake.PairError as e:
            self.drops.count(e.reason)
            return
        del self.pair_pending[idx]

    def _paired(self, peer: Peer, public: bytes, psk: bytes, addr: Addr, now: float) -> None:
        """Install a completed pairing: the peer is known by ``public`` from now on. PairError if that
        key is ours or another peer's, or a low-order point."""
        holder = self.peers.get(public)
        if public == self.static_public or (holder is not None and holder is not peer):
            raise pake.PairError(Drop.PAIR_FAILED)
        try:
            ss = P.dh(self.static_private, public)
        except P.DecryptError:
            raise pake.PairError(Drop.PAIR_FAILED) from None
        if self.peers.get(peer.public_key) is peer:
            del self.peers[peer.public_key]
        peer.rebind(public, ss, psk)
        self.peers[public] = peer
        self.events.append(PeerNotice(peer.name, "info", f"paired by passphrase (pairing {peer.pairings})"))
        if addr != peer.endpoint:
            self._set_endpoint(peer, addr)
