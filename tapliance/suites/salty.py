"""QuickTun 2.2.6 ``salty``: static control key, ephemeral data keys (PFS), key ids, two decoders per remote key.

Theory of operation (seed notes 1.2; src/proto.salty.c is authoritative where its comment differs).
A static control key ``Kc = beforenm(PUBLIC_KEY, PRIVATE_KEY)`` protects key updates; each side owns
two ephemeral key slots (ids 0 and 1) and announces the one it wants used. A key becomes current when
the peer echoes it back (its public key and the first 20 bytes of its nonce base), and only then does
the side build its encoder ``beforenm(remote_eph_pk, local_eph_sk)``. Each control datagram from the
peer rebuilds the decoders ``dec[(remote_id << 1) | i]`` for both local slots ``i``, so traffic under
the previous local key still decodes during a transition. Handshake of two fresh ends::

    A: 0x40 (announce id 1)  ->  B: 0x60 (not ack: B's key, A's echoed)  ->  A: 0x70 (ack)  => both on id 1

Wire::

    control (146 B)  0x80 || be64(cet) || box(Kc, dir || 00x15 || be64(cet), P)
                     P (121 B) = flags || spk32 || snonce24 || rpk32 || rnonce24 || be64(cdt)
                     flags: bit6 announced key id, bit5 the peer's key id as we know it, bit4 ack
    data             h4 || box(Ke, base20 || be32(ctr), frame)          overhead 20
                     h4 = be32(ctr) with byte 0 = (ctr >> 24) & 0x1F | local_id << 6 | remote_id << 5
    Bit 7 of byte 0 tells them apart; it is the only bit of a control datagram's byte 0 read (as QuickTun).

Control datagrams are accepted iff ``ts > cdt`` (the last accepted control time) and they decrypt with
the receive direction byte ``(roles >> 1) & 1``; we send with ``roles & 1``, roles as nacltai's without
the ROLE override. Each decoder keeps the last 5 counters (duplicates and anything <= the smallest
are LEGACY_REPLAY). Timers: a new ephemeral key every 300 s; a pending update re-sent every 2 s;
past 2^28 packets under one key an update starts; at 2^29 frames are dropped (SALTY_KEY_EXHAUSTED).

Where tapliance differs, without breaking a real QuickTun:
- The all-zero remote key at start (and any low-order key) is skipped: no decoder is built for it.
  QuickTun's libsodium build aborts there (crypto_box_beforenm refuses the point); NaCl builds
  compute a key that nothing ever uses. Likewise for a local slot never generated (QuickTun uses its
  all-zero secret). A missing decoder drops data as SALTY_NO_DECODER.
- QuickTun resets a decoder's replay counters on every control datagram, so after each key update
  (or ack) a recorded data datagram of the current key can be replayed. We keep the counters when the
  rebuilt decoder has the same keys and nonce base: a real sender's counter only grows under one key.
- Past 2^28 packets QuickTun sends a control datagram with every data packet until the new key is
  confirmed; we send at most one per 2 s re-send interval (the timer covers loss).
- Timers run only from on_timer() (QuickTun also runs them inside encode/decode); the runtime
  calls on_timer() when the returned deadline passes.

Implements the codec contract of tapliance/suites/codec.py; ``random(n)`` returns n random bytes. A
control datagram that is accepted returns b"" and may queue a reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, crypto_box_open_afternm, crypto_scalarmult_base
from nacl.exceptions import CryptoError

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD
from tapliance.suites.quicktun import MAX_FRAME, role_of, shared_key

KEY_LEN = 32
BASE_LEN = 20  # random part of a nonce base; the last 4 bytes are the packet counter
CONTROL_FLAG = 0x80
CONTROL_LEN = 146  # 1 + 8 + 16 + 121
PAYLOAD_LEN = 121  # flags(1) spk(32) snonce(24) rpk(32) rnonce(24) cdt(8)
HEADER_LEN = 4
OVERHEAD = HEADER_LEN + 16  # 20
REPLAY_SLOTS = 5
REKEY_AFTER = 300.0  # seconds between new ephemeral keys
RESEND_AFTER = 2.0  # seconds between re-sends of a pending update
UPDATE_AT = 1 << 28  # packets under one key before an update starts
LIMIT = 1 << 29  # packets under one key: frames are dropped from here
ETHERNET_HEADER = 14
ZERO_KEY = bytes(KEY_LEN)

Random = Callable[[int], bytes]


def seal_control(kc: bytes, send_dir: int, cet: int, payload: bytes) -> bytes:
    """A control datagram carrying ``payload`` (121 bytes) at control time ``cet`` (the pure layout)."""
    ts = cet.to_bytes(8, "big")
    return bytes([CONTROL_FLAG]) + ts + bytes(crypto_box_afternm(payload, bytes([send_dir]) + bytes(15) + ts, kc))


def open_control(kc: bytes, recv_dir: int, datagram: bytes) -> tuple[int, bytes] | Drop:
    """The control time and 121-byte payload of a control datagram, or why not (no replay check here)."""
    if len(datagram) != CONTROL_LEN:
        return Drop.LEGACY_SHORT if len(datagram) < CONTROL_LEN else Drop.SALTY_CONTROL_SIZE
    ts = bytes(datagram[1:9])
    try:
        payload = crypto_box_open_afternm(bytes(datagram[9:]), bytes([recv_dir]) + bytes(15) + ts, kc)
    except CryptoError:
        return Drop.LEGACY_AUTH
    return int.from_bytes(ts, "big"), bytes(payload)


def seal_data(key: bytes, base: bytes, counter: int, local_id: int, remote_id: int, frame: bytes) -> bytes:
    """A data datagram for ``frame`` under shared key ``key``, nonce ``base20 || be32(counter)``."""
    ctr = counter.to_bytes(4, "big")
    h0 = (ctr[0] & 0x1F) | (local_id << 6) | (remote_id << 5)
    return bytes([h0]) + ctr[1:] + bytes(crypto_box_afternm(bytes(frame), base[:BASE_LEN] + ctr, key))


def _beforenm(public: bytes, secret: bytes) -> bytes | None:
    """The shared key, or None for the zero key / a low-order point (libsodium refuses them)."""
    if public == ZERO_KEY:
        return None
    try:
        return bytes(crypto_box_beforenm(public, secret))
    except CryptoError:
        return None


class SaltyDecoder:
    """One decoder: a shared key, the remote nonce base and the last 5 counters it accepted."""

    __slots__ = ("base", "key", "recent", "remote")

    def __init__(self, key: bytes, base: bytes, remote: bytes = ZERO_KEY) -> None:
        self.key = key
        self.base = base[:BASE_LEN]
        self.remote = remote
        self.recent = [0] * REPLAY_SLOTS

    def open(self, datagram: bytes) -> bytes | Drop:
        """The frame of a data datagram (header byte 0 bit 7 clear), or why not; no state change on a drop."""
        if len(datagram) < OVERHEAD:
            return Drop.LEGACY_SHORT
        ctr = int.from_bytes(datagram[:HEADER_LEN], "big") & (LIMIT - 1)
        recent = self.recent
        oldest = min(recent)
        if ctr <= oldest or ctr in recent:
            return Drop.LEGACY_REPLAY
        try:
            frame = bytes(
                crypto_box_open_afternm(bytes(datagram[HEADER_LEN:]), self.base + ctr.to_bytes(4, "big"), self.key)
            )
        except CryptoError:
            return Drop.LEGACY_AUTH
        recent[recent.index(oldest)] = ctr
        return frame


@dataclass
class KeySlot:
    """One local ephemeral key; a never-generated slot is all zeros, as QuickTun's zeroed memory."""

    secret: bytes = ZERO_KEY
    public: bytes = ZERO_KEY
    base: bytes = bytes(BASE_LEN)
    counter: int = 0
    generated: bool = False
    encoder: bytes | None = field(default=None, repr=False)

    def nonce(self) -> bytes:
        return self.base + self.counter.to_bytes(4, "big")


class Salty:
    """One salty endpoint as a sans-IO state machine (module docstring). Queues its first update at once."""

    name = "quicktun-salty"
    overhead = OVERHEAD
    insecure: str | None = None
    authenticates = True

    def __init__(self, secret: bytes, peer_public: bytes, now: float, random: Random) -> None:
        self._random = random
        self._kc = shared_key(secret, peer_public)
        self.roles = role_of(bytes(crypto_scalarmult_base(secret)), peer_public)
        self.cdt = 0  # last control time accepted from the peer
        self.cet = int(now) << 8  # our control time, incremented before each control datagram
        self.slots = [KeySlot(), KeySlot()]
        self.local_id = 0
        self.next_id: int | None = None  # slot of a key announced but not yet confirmed
        self.remote_id = 0
        self.remote_public = ZERO_KEY
        self.remote_nonce = bytes(24)
        self.decoders: list[SaltyDecoder | None] = [None] * 4  # index (remote_id << 1) | local slot
        self.encoder: int | None = None  # slot whose confirmed key seals our frames
        self.control: list[bytes] = []
        self.last_update = self.last_sent = now
        self._begin_update(now)
        # As QuickTun's init: the first key (slot 1) is current at once, and stays pending until echoed.
        self.local_id = self.next_id if self.next_id is not None else 0

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        """TAP MTU for an underlay: what fits unfragmented, never more than QuickTun's 1500."""
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        return min(underlay_mtu - ip - cls.overhead, MAX_FRAME) - ETHERNET_HEADER

    # -- key updates (QuickTun's beginkeyupdate / sendkeyupdate / initdecoder)

    def _begin_update(self, now: float) -> None:
        nid = (self.local_id + 1) % 2
        self.next_id = nid
        base = self._random(BASE_LEN)
        secret = self._random(KEY_LEN)
        self.slots[nid] = KeySlot(secret, bytes(crypto_scalarmult_base(secret)), base, 0, True)
        self._build_decoder((self.remote_id << 1) | nid)
        self._send_update(False, now)
        self.last_update = now

    def _send_update(self, ack: bool, now: float) -> None:
        keyid = self.local_id if self.next_id is None else self.next_id
        slot = self.slots[keyid]
        flags = (keyid << 6) | (self.remote_id << 5) | (0x10 if ack else 0)
        payload = (
            bytes([flags])
            + slot.public
            + slot.nonce()
            + self.remote_public
            + self.remote_nonce
            + self.cdt.to_bytes(8, "big")
        )
        self.cet = (self.cet + 1) & 0xFFFF_FFFF_FFFF_FFFF
        self.control.append(seal_control(self._kc, self.roles & 1, self.cet, payload))
        self.last_sent = now

    def _build_decoder(self, index: int) -> None:
        """Decoder for the remote key against local slot ``index & 1``; skipped for the zero key."""
        slot = self.slots[index & 1]
        key = _beforenm(self.remote_public, slot.secret) if slot.generated else None
        old = self.decoders[index]
        if key is None:
            self.decoders[index] = None
        elif old is None or old.key != key or old.base != self.remote_nonce[:BASE_LEN]:
            self.decoders[index] = SaltyDecoder(key, self.remote_nonce, self.remote_public)

    def _on_control(self, datagram: bytes, now: float) -> bytes | Drop:
        if len(datagram) == CONTROL_LEN and int.from_bytes(datagram[1:9], "big") <= self.cdt:
            return Drop.LEGACY_REPLAY  # checked before decryption, as QuickTun does
        opened = open_control(self._kc, (self.roles >> 1) & 1, datagram)
        if isinstance(opened, Drop):
            return opened
        ts, p = opened
        self.cdt = ts
        send = 0 if p[0] & 0x10 else 1  # a non-ack asks for an answer
        self.remote_id = (p[0] >> 6) & 1
        lkeyid = (p[0] >> 5) & 1
        self.remote_public, self.remote_nonce = p[1:33], p[33:57]
        self.cet = max(self.cet, int.from_bytes(p[113:121], "big"))
        slot = self.slots[lkeyid]
        echoed = slot.public == p[57:89] and slot.base == p[89:109]
        if not echoed:
            send |= 2
        self._build_decoder(self.remote_id << 1)
        self._build_decoder((self.remote_id << 1) | 1)
        if echoed and lkeyid == self.next_id:
            self.local_id, self.next_id = lkeyid, None
        if echoed and lkeyid == self.local_id:
            slot.encoder = _beforenm(self.remote_public, slot.secret)
            self.encoder = lkeyid
        if self.next_id is not None:
            send |= 2
        if send:
            self._send_update(send & 2 == 0, now)
        return b""

    # -- the codec contract

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        """A data datagram under the confirmed key, or SALTY_NO_KEY / SALTY_KEY_EXHAUSTED."""
        slot = self.slots[self.encoder] if self.encoder is not None else None
        if slot is None or slot.encoder is None:
            return Drop.SALTY_NO_KEY
        if slot.counter >= UPDATE_AT:
            if self.next_id is None:
                self._begin_update(now)
            elif now - self.last_sent >= RESEND_AFTER:
                self._send_update(False, now)
        if slot.counter + 1 >= LIMIT:
            return Drop.SALTY_KEY_EXHAUSTED
        slot.counter += 1
        return seal_data(slot.encoder, slot.base, slot.counter, self.local_id, self.remote_id, frame)

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        """A data frame, b"" for an accepted control datagram, or why not."""
        if not datagram:
            return Drop.LEGACY_SHORT
        if datagram[0] & CONTROL_FLAG:
            return self._on_control(datagram, now)
        if len(datagram) < OVERHEAD:
            return Drop.LEGACY_SHORT
        decoder = self.decoders[(datagram[0] >> 5) & 3]
        if decoder is None:
            return Drop.SALTY_NO_DECODER
        return decoder.open(datagram)

    def on_timer(self, now: float) -> float:
        """New key every 300 s, pending update re-sent every 2 s; returns the next deadline."""
        if now - self.last_update >= REKEY_AFTER:
            self._begin_update(now)
        elif self.next_id is not None and now - self.last_sent >= RESEND_AFTER:
            self._send_update(False, now)
        deadline = self.last_update + REKEY_AFTER
        if self.next_id is not None:
            deadline = min(deadline, self.last_sent + RESEND_AFTER)
        return deadline
