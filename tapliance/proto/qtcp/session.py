"""One QuickTun TCP connection, sans-IO: bytes of the stream in, frames and events out, sealed bytes out.

Incoming bytes are split into messages wherever the stream happened to cut them, each opened under the
far end's direction state (crypto.Receiver) and handled in order (commands.py); what we send is queued
unsealed (control first, then frames) and sealed only when the transport has room for it (``take``),
so a message's keys and nonce are those of its place in the stream, and frames can be dropped from the
head of a full queue before they cost a nonce. The tunnel carries frames once both ends have sent and
received ``start tunnel data``; an end sends it when its policy is met (commands.satisfied).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tapliance.proto.drops import Drop
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.crypto import KEY0_PUBLIC, KeyPair, Receiver, Sender
from tapliance.proto.qtcp.policy import Policy

QUEUE_BYTES = 1 << 20  # frames held for a full connection (about 80 ms at 100 Mbit/s); the oldest go, counted
BATCH_BELOW = 512  # frames shorter than this are batched (multiple messages) when several wait
BATCH_BYTES = 8192
BUCKETS = (64, 128, 256, 512, 1024, 1536, 4096, 8192, 16384, 32767)

Effect = Callable[[], None] | None


class Host(Protocol):
    """What a connection asks of the protocol that owns it."""

    def identify_key(self, conn: Connection, public: bytes) -> bytes: ...
    def identify_password(self, conn: Connection, salt: bytes, digest: bytes) -> bool: ...
    def identify_later(self, conn: Connection) -> None: ...
    def wants_crypto(self) -> bool: ...
    def password_allowed(self, conn: Connection) -> bool: ...
    def password_attempt(self, conn: Connection, ok: bool) -> None: ...
    def deliver(self, conn: Connection, frame: bytes, flags: int, now: float) -> None: ...
    def event(self, conn: Connection, kind: str, data: Any) -> None: ...
    def random(self, n: int) -> bytes: ...


class Closed(Exception):
    """The connection ends: ``reason`` is the drop counted, ``text`` says why."""

    def __init__(self, reason: Drop, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


@dataclass
class Connection:
    conn: int
    client: bool
    host: Host
    policy: Policy | None  # known up front on the client; found from the far end's key or password on a server
    started: float
    static: KeyPair | None = None  # our key (the tunnel's), presented unless the policy is anonymous
    send: Sender = field(default_factory=Sender)
    recv: Receiver = field(default_factory=Receiver)
    trusted: set[bytes] = field(default_factory=set)  # far-end keys a box from proves the holder of
    their_static: bytes | None = None
    sent_tunnel: bool = False
    got_tunnel: bool = False
    password_ok: bool = False
    salt: bytes | None = None  # our password challenge
    their_salt: bytes | None = None  # the far end's, until we answer it
    their_options: int = 0
    options_seen: bool = False
    sent_crypto: bool = False
    sent_disable: bool = False
    answered_password: bool = False
    authenticated_once: bool = False  # authenticated at some point (auth-only mode turns encryption off after)
    session_at: float | None = None  # when we last announced a session key
    last_rx: float = 0.0
    echo_at: float = 0.0
    rtt: float | None = None
    inbuf: bytearray = field(default_factory=bytearray)
    control: deque[tuple[bytes, Effect]] = field(default_factory=deque)
    frames: deque[tuple[bytes, int]] = field(default_factory=deque)
    queue_drops: int = 0
    queued: int = 0  # bytes in ``frames``
    heard: deque[int] = field(default_factory=lambda: deque(maxlen=32))  # the last commands received
    port: Any = None  # the switch port, once identified
    remote: tuple[str, int] | None = None  # the far end's address

    def __post_init__(self) -> None:
        self.last_rx = self.echo_at = self.started

    @property
    def enabled(self) -> bool:
        return self.sent_tunnel and self.got_tunnel

    @property
    def vnet(self) -> bool:
        return bool(self.policy and self.policy.vnet and self.their_options & Q.OPT_VNET)

    def authentic(self) -> bool:
        """A box opened now proves its sender: its key is one we trust, and it is sealed to a key of ours
        that is not the public key0."""
        return self.recv.encrypted and self.recv.their in self.trusted and self.recv.mine.public != KEY0_PUBLIC

    def secure(self) -> bool:
        """Both directions sealed, and no key0 on either side of either box: what we send is confidential."""
        s, r = self.send, self.recv
        return s.encrypted and r.encrypted and KEY0_PUBLIC not in (s.remote, s.local.public, r.their, r.mine.public)

    # -- output -----------------------------------------------------------------------------------------

    def queue(self, cmd: bytes, effect: Effect = None) -> None:
        self.control.append((cmd, effect))

    @property
    def max_frame(self) -> int:
        """The longest frame one message carries: the 15-bit length, less the tag if sealed, less what data
        in control and padding add (4 bytes)."""
        return (Q.MAX_PLAIN if self.send.encrypted else Q.MAX_PAYLOAD) - 4

    def queue_frame(self, frame: bytes, flags: int) -> bool:
        """Queue a frame; True if older ones were dropped from the head to make room."""
        dropped = False
        while self.frames and self.queued + len(frame) > QUEUE_BYTES:
            old, _ = self.frames.popleft()
            self.queued -= len(old)
            self.queue_drops += 1
            dropped = True
        self.frames.append((frame, flags))
        self.queued += len(frame)
        return dropped

    def pending(self) -> bool:
        return bool(self.control) or (self.enabled and bool(self.frames))

    def take(self, room: int) -> bytes:
        """Sealed messages, control first, up to about ``room`` bytes (at least one message if any)."""
        out = bytearray()
        while self.control and (not out or len(out) < room):
            cmd, effect = self.control.popleft()
            out += self._seal(cmd, True)
            if effect is not None:
                effect()
        while self.enabled and self.frames and (not out or len(out) < room):
            out += self._seal_frames()
        return bytes(out)

    def _seal(self, payload: bytes, control: bool) -> bytes:
        if control and self.policy is not None and self.policy.padding and self.send.encrypted:
            need = len(payload) + 2
            target = next((b for b in BUCKETS if b >= need + Q.TAG_LEN), need + Q.TAG_LEN)
            payload = Q.padding(payload, min(255, target - need - Q.TAG_LEN))
        return Q.frame(self.send.seal(payload), control)

    def _seal_frames(self) -> bytes:
        frame, _flags = self._next_frame()
        small = len(frame) < BATCH_BELOW
        padded = self.policy is not None and self.policy.padding and self.send.encrypted
        if not (small and self.frames and len(self.frames[0][0]) < BATCH_BELOW) and not padded:
            return Q.frame(self.send.seal(frame), False)
        batch, size = [Q.command(Q.DATA_IN_CONTROL, frame)], len(frame)
        while self.frames and len(self.frames[0][0]) < BATCH_BELOW and size < BATCH_BYTES:
            f, _ = self._next_frame()
            batch.append(Q.command(Q.DATA_IN_CONTROL, f))
            size += len(f) + 3
        return self._seal(batch[0] if len(batch) == 1 else Q.multiple(batch), True)

    def _next_frame(self) -> tuple[bytes, int]:
        item = self.frames.popleft()
        self.queued -= len(item[0])
        return item

    # -- input ------------------------------------------------------------------------------------------

    def data(self, frame: bytes, now: float) -> None:
        if not self.enabled:
            self.host.event(self, "drop", Drop.TCP_DATA_EARLY)
            return
        p = self.policy
        if (
            p is not None
            and p.require_encryption
            and not self.recv.encrypted
            and not (p.allow_unencrypted and self.recv.disabled)
        ):
            raise Closed(Drop.TCP_POLICY, "unencrypted data where encryption is required")
        self.host.deliver(self, frame, 1 if self.vnet else 0, now)

    def new_session_key(self) -> KeyPair:
        return KeyPair.from_secret(self.host.random(32))
