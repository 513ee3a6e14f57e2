"""The native protocol: Noise IKpsk2 handshakes and AEAD data to any number of peers on one socket.

One local static identity; each configured peer is a switch port. Datagrams are told apart by their
type byte and, for responses, cookies and data, by the receiver index our side chose (index.py); an
initiation names its sender only inside its encrypted payload (identity hiding). The parts:

    receive.py    datagrams in: dispatch, data open (and GRO runs), key confirmation, roaming
    send.py       frames out: seal, queue while there is no session, keepalives
    initiator.py  initiations, retransmits, responses, cookie replies, giving up
    responder.py  initiations in, responses out
    pairing.py    shared-secret mode: pairing runs (pake.py, guesses.py) give a passphrase peer its key
    timers.py     retransmit, expiry, rekey, keepalive and dead-peer rules
    state.py      the peer state table; peer.py the per-peer state; index.py, cookie.py, fragments.py
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from tapliance import fastpath
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeParams
from tapliance.proto.native.constants import reject_after_time
from tapliance.proto.native.control import Control
from tapliance.proto.native.cookie import CookieChecker
from tapliance.proto.native.fragments import Reassembler
from tapliance.proto.native.guesses import GuessLimiter
from tapliance.proto.native.handshake import mac1_key
from tapliance.proto.native.index import IndexTable
from tapliance.proto.native.initiator import Initiator
from tapliance.proto.native.pairing import Pairing
from tapliance.proto.native.peer import Peer, PeerSpec
from tapliance.proto.native.receive import Receive
from tapliance.proto.native.responder import Responder
from tapliance.proto.native.send import Send
from tapliance.proto.native.timers import Timers
from tapliance.proto.protocol import Context
from tapliance.suites import suite_id


class NativeProtocol(Receive, Send, Control, Initiator, Responder, Pairing, Timers):
    def __init__(
        self, ctx: Context, params: NativeParams, *, static_private: bytes, peers: Sequence[PeerSpec], now: float
    ) -> None:
        super().__init__(ctx)
        self.params = params
        self.static_private = static_private
        self.static_public = P.dh_public(static_private)
        self.random = ctx.random
        self.cpu_time = ctx.cpu_time
        self.unix_offset = ctx.unix_offset
        self.suite_id = suite_id(params.suite)
        self.my_mac1_key = mac1_key(self.static_public)
        self.rekey_after = params.rekey_after_seconds
        self.rekey_after_bytes = params.rekey_after_bytes
        self.reject_after = reject_after_time(params.rekey_after_seconds)
        self.max_chunk = W.max_chunk(params.underlay_mtu, params.ipv6)
        keyed = [s for s in peers if s.passphrase is None]
        self.peers = {spec.public_key: Peer(spec, P.dh(static_private, spec.public_key), self) for spec in keyed}
        self.ports = list(self.peers.values())
        # shared-secret mode: a passphrase peer is a port but in no table until paired (pairing.py)
        shared = [Peer(s, b"", self) for s in peers if s.passphrase is not None]
        self.ports += shared
        self.passphrase_peer = shared[0] if shared else None
        self.pair_runs = {}
        self.pair_pending = {}
        self.guesses = GuessLimiter(params.passphrase_guesses, now)
        self.indices = IndexTable()
        self.reasm = Reassembler(self.drops)
        self.cookies = CookieChecker(self.static_public, params.handshake_rate, params.handshake_cpu, ctx.random, now)
        self.caps = W.CAP_VNET if params.offload else 0  # and per peer: Peer.caps
        self.fast = fastpath.module(params.fastpath)

    def python_path(self) -> None:
        """From now on seal and open in Python: before any session exists (runtime/worker.py, at start-up, when
        the compiled path was on auto and no worker can run)."""
        assert not self.indices, "python_path() after sessions exist"
        self.fast = None

    def add_peer(self, spec: PeerSpec) -> Peer:
        """A peer added at a reload: it starts like one configured at start-up."""
        peer = Peer(spec, P.dh(self.static_private, spec.public_key), self)
        self.peers[spec.public_key] = peer
        self.ports.append(peer)
        return peer

    def remove_peer(self, public_key: bytes) -> None:
        """A peer removed at a reload: its session keys are erased and its indices freed at once."""
        peer = self.peers.pop(public_key)
        self.ports.remove(peer)
        self.indices.free(peer.erase())
        for idx in [i for i, (p, _) in self.indices.items() if p is peer]:  # a pending initiation's
            del self.indices[idx]
        peer.handshake = None
        peer.queue.clear()

    def status(self, now: float) -> dict[str, Any]:
        return {
            "public_key": base64.b64encode(self.static_public).decode(),
            "suite": self.params.suite,
            "data_path": "compiled" if self.fast is not None else "python",
            "reassembly_pending": len(self.reasm),
            "reassembly_bytes": self.reasm.buffered,
            "reassembly_salvaged": self.reasm.salvaged,
            "handshake_cpu_s": round(self.cookies.budget.spent, 6),
            "under_load": self.cookies.under_load(now),
            "handshake_sources": len(self.cookies.sources),
        }

    def port_status(self, port: Peer, now: float) -> dict[str, Any]:
        return port.status(now, self.unix_offset)
