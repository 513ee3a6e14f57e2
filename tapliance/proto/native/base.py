"""The native protocol's shared state, its parameters, and the bookkeeping every part of it uses.

The native protocol is one class, :class:`~tapliance.proto.native.protocol.NativeProtocol`, whose
methods live in one file per concern, as wireguard-go spreads ``Device``'s methods over
``receive.go``, ``send.go``, ``noise-protocol.go`` and ``timers.go``: ``receive.py``, ``send.py``,
``initiator.py``, ``responder.py``, ``timers.py``. Each is a mixin over this base, which declares
the state they share and the methods one part calls in another (abstract here). Mixins rather than
separate objects keep the per-packet path free of extra indirection: a datagram goes from the
runtime to ``on_datagram`` to the AEAD in the same number of calls as before the split.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr, EndpointChanged, HandshakeCompleted
from tapliance.proto.native import wire as W
from tapliance.proto.native.cookie import CookieChecker
from tapliance.proto.native.fragments import Reassembler
from tapliance.proto.native.index import IndexTable
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import Peer
from tapliance.proto.native.state import Input
from tapliance.proto.protocol import DatagramProtocol, Frame

if TYPE_CHECKING:
    from tapliance.proto.native.guesses import GuessLimiter
    from tapliance.proto.native.pairing import Pending


@dataclass(frozen=True)
class NativeParams:
    """The native protocol's settings, all required: their defaults live in tapliance.config."""

    suite: str  # data AEAD, a name from tapliance.suites
    underlay_mtu: int  # largest IP packet the underlay carries
    ipv6: bool  # the underlay is IPv6 (48 bytes of IP/UDP headers instead of 28)
    rekey_after_seconds: float
    rekey_after_bytes: int
    handshake_rate: int  # handshake messages per second per source network (/24, /64)
    handshake_cpu: float  # share of one core handshake processing may use before cookies are required
    passphrase_guesses: int  # shared-secret mode: pairing runs (passphrase guesses) per minute, in all
    offload: bool  # our TAP has offloads: we announce CAP_VNET and take virtio-net headers and super-frames
    # seal and open data through the compiled data path (tapliance.fastpath) where it is built; None: auto, the
    # compiled path only where its worker thread runs (runtime/worker.py falls back to Python elsewhere)
    fastpath: bool | None


class NativeBase(DatagramProtocol[Peer]):
    params: NativeParams
    static_private: bytes
    static_public: bytes
    suite_id: int
    my_mac1_key: bytes
    random: Callable[[int], bytes]
    cpu_time: Callable[[], float]
    unix_offset: float
    rekey_after: float
    rekey_after_bytes: int
    reject_after: float
    max_chunk: int
    peers: dict[bytes, Peer]  # by static public key
    indices: IndexTable
    reasm: Reassembler
    cookies: CookieChecker
    caps: int  # what we announce in our handshake messages (wire.CAP_*)
    fast: ModuleType | None  # the compiled data path's module, when it runs (keypairs get a session of it)
    passphrase_peer: Peer | None  # the peer known by a passphrase (shared-secret mode), if any
    pair_runs: dict[int, Peer]  # our outstanding pairing runs by sender index
    pair_pending: dict[int, Pending]  # runs we answered, waiting for their confirm
    guesses: GuessLimiter

    # -- provided by the parts -----------------------------------------------------------------------

    @abstractmethod
    def _control_in(self, peer: Peer, payload: Frame, flags: int, now: float) -> None: ...

    @abstractmethod
    def _flush(self, peer: Peer, now: float) -> bool:
        """Send what was queued for ``peer`` while it had no session (send.py)."""

    @abstractmethod
    def _keepalive(self, peer: Peer, kp: Keypair, now: float) -> None:
        """An empty data message on ``kp`` (send.py)."""

    @abstractmethod
    def _maybe_initiate(self, peer: Peer, now: float) -> None:
        """Start a handshake with ``peer`` unless one runs or one started too recently (initiator.py)."""

    @abstractmethod
    def _send_initiation(self, peer: Peer, now: float) -> None:
        """Send (or retransmit) an initiation to ``peer`` (initiator.py)."""

    @abstractmethod
    def _give_up(self, peer: Peer) -> None:
        """No answer for REKEY_ATTEMPT_TIME: erase keys, report the peer down (initiator.py)."""

    @abstractmethod
    def _maybe_pair(self, peer: Peer, now: float) -> None:
        """Start a pairing run with an unpaired passphrase peer (pairing.py)."""

    @abstractmethod
    def _pair_timers(self, peer: Peer, now: float) -> float:
        """Pairing retries and staleness; the peer's next pairing deadline (pairing.py)."""

    @abstractmethod
    def _on_pair_init(self, data: bytes, addr: Addr, now: float) -> None: ...

    @abstractmethod
    def _on_pair_reply(self, data: bytes, addr: Addr, now: float) -> None: ...

    @abstractmethod
    def _on_pair_confirm(self, data: bytes, addr: Addr, now: float) -> None: ...

    @abstractmethod
    def _on_initiation(self, data: bytes, addr: Addr, now: float) -> None: ...

    @abstractmethod
    def _on_response(self, data: bytes, addr: Addr, now: float) -> None: ...

    @abstractmethod
    def _on_cookie(self, data: bytes, now: float) -> None: ...

    # -- shared bookkeeping --------------------------------------------------------------------------

    def _sent(self, peer: Peer, now: float) -> None:
        peer.last_sent = now
        if peer.awaiting_reply_since is None:
            peer.awaiting_reply_since = now

    def _set_endpoint(self, peer: Peer, addr: Addr) -> None:
        self.events.append(EndpointChanged(peer.name, peer.endpoint, addr))
        peer.endpoint = addr
        peer.endpoint_changes += 1

    def _admit(self, data: bytes, mac2_off: int, sender: int, addr: Addr, now: float) -> bool:
        """May this mac1-valid handshake message be processed (cookie.py)? If not, it is counted as
        dropped, and under load answered with a cookie reply."""
        verdict = self.cookies.admit(data, mac2_off, sender, addr, now)
        if verdict is None:
            return True
        if isinstance(verdict, Drop):
            self.drops.count(verdict)
            return False
        self.tx.append((verdict, addr, len(verdict)))
        self.drops.count(Drop.HANDSHAKE_UNDER_LOAD)
        return False

    def _deliver_salvaged(self, salvaged: list[tuple[object, list[bytes]]], now: float) -> None:
        """Segments the reassembler saved out of super-frames that lost a datagram, to the switch (in runs, each
        with a virtio-net header that leaves segmenting and checksums to the kernel: fragments.py)."""
        for owner, segments in salvaged:
            if isinstance(owner, Peer):
                for seg in segments:
                    self._ingress(owner, seg, W.FLAG_VNET, now)

    def _completed(self, peer: Peer, addr: Addr, now: float, caps: int, *, initiator: bool) -> None:
        peer.transition(Input.ESTABLISH_INITIATOR if initiator else Input.ESTABLISH_RESPONDER)
        peer.remote_caps = caps
        peer.pair_confirm = None  # the far end has the pairing: a handshake under its psk completed
        peer.vnet = bool(caps & W.CAP_VNET)  # the switch gives it plain frames unless it asked for more
        rekey = peer.last_handshake > 0
        peer.last_handshake = now
        peer.handshakes += 1
        self.events.append(HandshakeCompleted(peer.name, addr, initiator, rekey))
