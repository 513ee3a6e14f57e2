"""A native peer: its keys, keypair slots, handshake progress, endpoint, timers' clocks and counters.

Keypair slots (as in WireGuard): ``current`` seals outgoing data; ``previous`` still opens packets
that were in flight during a rekey; ``next`` is a responder's fresh keypair that it may not send on
until the initiator proves it has it (first data packet received on it: key confirmation). So a
rekey never drops traffic: both sides keep the old keypair until the new one is confirmed. Which
slots are filled follows from ``state`` (:mod:`tapliance.proto.native.state`), the one place the
peer's session state lives; ``transition`` is the only way it changes.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from tapliance.proto.events import Addr
from tapliance.proto.native import wire as W
from tapliance.proto.native.handshake import InitiatorState, cookie_key, mac1_key
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.pake import PairRun
from tapliance.proto.native.state import Input, PeerState, transition
from tapliance.proto.protocol import Frame, Port, Protocol

QUEUE_FRAMES = 128  # frames held while a handshake is in progress


@dataclass(frozen=True)
class PeerSpec:
    """A configured peer, as the core needs it (tapliance.config holds the defaults)."""

    public_key: bytes
    name: str
    endpoint: Addr | None
    psk: bytes | None
    keepalive: float  # seconds of tx silence before a keepalive; 0: passive keepalives only
    mirror: bool = False  # keepalives only while the peer is heard (the answering end of transport auto)
    accept_addresses: bool = False  # apply the addresses this peer hands us (control messages)
    accept_routes: tuple[IPv4Network | IPv6Network, ...] = ()  # pushed routes applied only inside these
    passphrase: bytes | None = None  # shared-secret mode: public_key and psk come from pairing (pake.py)


class Peer(Port):
    def __init__(self, spec: PeerSpec, static_static: bytes, protocol: Protocol[Any]) -> None:
        # vnet: plain frames until the peer's handshake message announces CAP_VNET
        super().__init__(spec.name or base64.b64encode(spec.public_key).decode()[:8], protocol, vnet=False)
        self.remote_caps = 0
        # announced to this peer besides the node's own: "send me control messages" if we take what it hands out
        self.caps = W.CAP_CONTROL if spec.accept_addresses or spec.accept_routes else 0
        self.spec = spec
        self.public_key = spec.public_key
        self.psk = spec.psk or bytes(32)
        self.ss = static_static  # precomputed DH(our static, their static)
        self.mac1_key = mac1_key(spec.public_key)  # for messages we send to them
        self.cookie_key = cookie_key(spec.public_key)
        self.endpoint: Addr | None = spec.endpoint
        self.keepalive = spec.keepalive
        self.state = PeerState.IDLE
        self.current: Keypair | None = None
        self.previous: Keypair | None = None
        self.next: Keypair | None = None
        self.handshake: InitiatorState | None = None
        self.handshake_started = 0.0  # when the current attempt series began
        self.last_initiation = -1e9  # when we last sent an initiation
        self.retransmit_at = 0.0
        self.last_timestamp = b""  # greatest TAI64N seen in an initiation from them
        self.cookie: bytes | None = None
        self.cookie_time = -1e9
        self.last_handshake = 0.0  # our clock when the last handshake completed
        self.handshake_rtt: float | None = None  # initiation sent -> response received, the last time we initiated
        self.last_sent = -1e9
        self.last_received = -1e9
        self.awaiting_reply_since: float | None = None
        self.queue: deque[tuple[Frame, int]] = deque(maxlen=QUEUE_FRAMES)  # (frame, flags)
        self.handshakes = 0
        # shared-secret mode (pairing.py): no static key or psk is known until a pairing run gives them
        self.passphrase = spec.passphrase
        self.paired = False  # we hold a pairing we believe the far end holds too
        self.pair_run: PairRun | None = None  # our outstanding run as the pairing's initiator
        self.pair_retry_at = 0.0
        self.pair_answered = -1e9  # when we last answered their init (we do not start one of our own meanwhile)
        self.pair_confirm: bytes | None = None  # our confirm, repeated with each initiation until one completes
        self.pairings = 0

    def rebind(self, public_key: bytes, static_static: bytes, psk: bytes) -> None:
        """A pairing gave the far end's static key and the pre-shared key (shared-secret mode)."""
        self.public_key = public_key
        self.ss = static_static
        self.psk = psk
        self.mac1_key = mac1_key(public_key)
        self.cookie_key = cookie_key(public_key)
        self.paired = True
        self.pairings += 1

    def transition(self, event: Input) -> PeerState:
        """Move to the state the table gives for ``event``; returns the state it left."""
        old = self.state
        self.state = transition(old, event)
        return old

    def usable(self, now: float, reject_after: float) -> Keypair | None:
        kp = self.current
        if kp is not None and now - kp.created < reject_after:
            return kp
        return None

    def install(self, kp: Keypair, *, confirmed: bool) -> list[Keypair]:
        """Put a fresh keypair in place; return keypairs that fell out (their indices must be freed)."""
        dropped = []
        if confirmed:
            if self.previous is not None:
                dropped.append(self.previous)
            if self.next is not None:
                dropped.append(self.next)
                self.next = None
            self.previous, self.current = self.current, kp
        else:
            if self.next is not None:
                dropped.append(self.next)
            self.next = kp
        return dropped

    def confirm_next(self) -> list[Keypair]:
        """The initiator used ``next``: promote it; return the keypair that fell out, if any."""
        dropped = self.previous
        self.previous, self.current, self.next = self.current, self.next, None
        return [dropped] if dropped is not None else []

    def erase(self) -> list[Keypair]:
        dropped = [k for k in (self.current, self.previous, self.next) if k is not None]
        self.current = self.previous = self.next = None
        return dropped

    def status(self, now: float, unix_offset: float) -> dict[str, object]:
        return {
            "name": self.name,
            "public_key": base64.b64encode(self.public_key).decode(),
            "endpoint": f"{self.endpoint[0]}:{self.endpoint[1]}" if self.endpoint else None,
            "state": self.state.shown,
            "last_handshake": round(self.last_handshake + unix_offset, 3) if self.last_handshake else None,
            "last_handshake_ago": round(now - self.last_handshake, 1) if self.last_handshake else None,
            "last_received_ago": round(now - self.last_received, 1) if self.last_received > 0 else None,
            "handshakes": self.handshakes,
            "rx_bytes": self.rx_bytes,
            "tx_bytes": self.tx_bytes,
            "rx_frames": self.rx_frames,
            "tx_frames": self.tx_frames,
            "key_age": round(now - self.current.created, 1) if self.current else None,
            "offload": self.vnet,
            "handshake_rtt": round(self.handshake_rtt, 6) if self.handshake_rtt is not None else None,
            "endpoint_changes": self.endpoint_changes,
            **({"paired": self.paired, "pairings": self.pairings} if self.passphrase is not None else {}),
        }
