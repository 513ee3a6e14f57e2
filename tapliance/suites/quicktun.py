"""QuickTun 2.2.6 (UCIS/QuickTun) stateless protocols: ``raw``, ``nacl0`` and ``nacltai``; keys and roles.

Wire formats (seed notes, section 1.2; ``box(K, n, m)`` is crypto_box_afternm without its 16 zero
bytes, i.e. ``tag16 || ct``; ``K = crypto_box_beforenm(PUBLIC_KEY, PRIVATE_KEY)``)::

    raw      frame                                   no overhead, no authentication
    nacl0    box(K, 00x24, frame)                    overhead 16; ONE nonce for every packet, both ways
    nacltai  T16 || box(K, 00x7 || dir || T16, frame)  overhead 32
             T16 = be64(2^62 + 10 + unix_s) || be32(1000 * usec + 500) || be32(counter), counter from 1

nacltai direction: ``role`` is 1 if our public key is the larger (memcmp), 2 if the smaller, 0 if
equal; ``ROLE=<int>`` overrides it (non-zero -> 1, zero -> 2). We send with ``dir = role & 1`` and
expect ``dir = (role >> 1) & 1``, so the side with the larger key sends with dir=1. A reflected
datagram carries the other direction byte and fails authentication (LEGACY_AUTH).

nacltai replay (the original's): the last 5 accepted labels; a label equal to one of them, or not
above the smallest (big-endian compare, before decryption), is LEGACY_REPLAY; an accepted one replaces
the smallest. ``time_window`` (QuickTun's TIME_WINDOW) starts all 5 at ``now - time_window``; without
it they start at zero, so after a restart of ours datagrams recorded earlier are accepted, in label
order, until 5 current labels fill the set (QuickTun warns the same). There is no upper bound on
future labels, and we add none: nacltai asks nothing of the clocks (no staleness rule), so a far end
whose clock runs ahead works with QuickTun and must keep working here. Equal key pairs (role 0) send
and expect dir 0, so for them a reflection is accepted, as in QuickTun.

raw and nacl0 duplicate rule (ours): the original accepts any replay, and the format cannot tell a
replay from a re-sent frame: identical frames are legitimately re-sent (ARP, IPv6 DAD, VRRP adverts:
1 s apart) and nacl0's fixed nonce makes their datagrams byte-identical too. We refuse a datagram
byte-identical to one accepted in the last 0.5 s (LEGACY_DUPLICATE) and one identical to a datagram
we sent in the last 0.5 s (LEGACY_REFLECTED; a far end never sends our frames, which carry our source
MAC). Limits: this removes duplication by the network and replay floods; a replay more than 0.5 s
late is accepted, as by QuickTun. At most 4096 digests are kept per memory; above ~8000 datagrams/s
the oldest go early and the window shrinks (never a wrong drop).

Key inputs: hex strings of exactly 64 hex digits (QuickTun ignores bad hex and half-parses; we
refuse it) and PRIVATE_KEY_FILE content: exactly 32 raw bytes, or 64 hex digits and an optional
newline (QuickTun reads at most 64 bytes and treats anything but 32 as hex).

Implements the codec contract of tapliance/suites/codec.py.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, crypto_box_open_afternm, crypto_scalarmult_base
from nacl.exceptions import CryptoError

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD

KEY_LEN = 32
TAG_LEN = 16
LABEL_LEN = 16
NONCE_LEN = 24
TAI_OFFSET = (1 << 62) + 10  # TAI64 label of 1970 (+10 s TAI-UTC, as QuickTun's taia_now)
REPLAY_SLOTS = 5
DUPLICATE_WINDOW = 0.5  # seconds (raw, nacl0; see the module docstring)
DIGEST_SLOTS = 4096
MAX_FRAME = 1514  # QuickTun's MAX_PACKET_LEN minus the 4-byte packet-info header
ETHERNET_HEADER = 14
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class KeyFileError(ValueError):
    """A QuickTun key (setting or file) that cannot be used; the message is one line."""


def parse_hex_key(text: str | bytes, what: str = "PUBLIC_KEY") -> bytes:
    """A 32-byte key from exactly 64 hex digits; ``what`` names the setting in the error."""
    raw = text.encode("latin-1", "replace") if isinstance(text, str) else text
    if len(raw) != 2 * KEY_LEN:
        raise KeyFileError(f"quicktun {what}: expected 64 hex characters, got {len(raw)}")
    bad = next((i for i, c in enumerate(raw) if c not in HEX_DIGITS), None)
    if bad is not None:
        raise KeyFileError(f"quicktun {what}: character {bad + 1} is not a hex digit")
    return bytes.fromhex(raw.decode("ascii"))


def parse_key_file(content: bytes) -> bytes:
    """PRIVATE_KEY_FILE content: 32 raw bytes, or 64 hex digits optionally followed by a newline."""
    if len(content) == KEY_LEN:
        return content
    text = content[:-1] if content.endswith(b"\n") else content
    if len(text) != 2 * KEY_LEN:
        raise KeyFileError(
            f"quicktun PRIVATE_KEY_FILE: expected 32 bytes or 64 hex characters, got {len(content)} bytes"
        )
    return parse_hex_key(text, "PRIVATE_KEY_FILE")


def role_of(own_public: bytes, peer_public: bytes, override: int | None = None) -> int:
    """QuickTun's role: 1 if our key is the larger, 2 if the smaller, 0 if equal; ROLE override: 1 or 2."""
    if override is not None:
        return 1 if override else 2
    if own_public == peer_public:
        return 0
    return 1 if own_public > peer_public else 2


def shared_key(secret: bytes, peer_public: bytes) -> bytes:
    """crypto_box_beforenm(peer_public, secret); a low-order peer key raises KeyFileError."""
    try:
        return bytes(crypto_box_beforenm(peer_public, secret))
    except CryptoError:
        raise KeyFileError("quicktun PUBLIC_KEY: a low-order point (no shared key)") from None


def tai_label(unix_seconds: int, usec: int, counter: int) -> bytes:
    """nacltai's 16-byte label: TAI64 seconds, 1000 * usec + 500 ns, then the packet counter."""
    return (
        (TAI_OFFSET + unix_seconds).to_bytes(8, "big")
        + (1000 * usec + 500).to_bytes(4, "big")
        + (counter & 0xFFFFFFFF).to_bytes(4, "big")
    )


def _open_box(key: bytes, nonce: bytes, boxed: bytes) -> bytes | None:
    try:
        return bytes(crypto_box_open_afternm(boxed, nonce, key))
    except CryptoError:
        return None


class _Digests:
    """Digests of datagrams seen in the last DUPLICATE_WINDOW seconds, at most DIGEST_SLOTS of them."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def recent(self, digest: bytes, now: float) -> bool:
        """Seen less than DUPLICATE_WINDOW ago (a pure query: expiry happens in add)."""
        when = self._seen.get(digest)
        return when is not None and now - when < DUPLICATE_WINDOW

    def add(self, digest: bytes, now: float) -> None:
        seen = self._seen
        seen[digest] = now
        seen.move_to_end(digest)
        while len(seen) > DIGEST_SLOTS or now - next(iter(seen.values())) >= DUPLICATE_WINDOW:
            seen.popitem(last=False)


def _digest(datagram: bytes) -> bytes:
    return hashlib.blake2b(datagram, digest_size=16).digest()


class _Stateless:
    """What raw, nacl0 and nacltai share: MTU sizing, no timers, an empty outbox."""

    name = "quicktun"
    overhead = 0
    insecure: str | None = None
    authenticates = True

    def __init__(self) -> None:
        self.control: list[bytes] = []

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        """TAP MTU for an underlay: what fits unfragmented, never more than QuickTun's 1500."""
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        return min(underlay_mtu - ip - cls.overhead, MAX_FRAME) - ETHERNET_HEADER

    def on_timer(self, now: float) -> float:
        return math.inf


class _Deduplicated(_Stateless):
    """raw and nacl0: the duplicate and reflection memories (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._accepted = _Digests()
        self._sent = _Digests()

    def _encode(self, frame: bytes) -> bytes:
        raise NotImplementedError

    def _decode(self, datagram: bytes) -> bytes | Drop:
        raise NotImplementedError

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        datagram = self._encode(frame)
        self._sent.add(_digest(datagram), now)
        return datagram

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        digest = _digest(datagram)
        if self._sent.recent(digest, now):
            return Drop.LEGACY_REFLECTED
        if self._accepted.recent(digest, now):
            return Drop.LEGACY_DUPLICATE
        frame = self._decode(datagram)
        if not isinstance(frame, Drop):
            self._accepted.add(digest, now)
        return frame


class Raw(_Deduplicated):
    """QuickTun ``raw``: the frame is the datagram."""

    name = "quicktun-raw"
    overhead = 0
    insecure: str | None = "no encryption and no authentication: anyone can read and inject frames"
    authenticates = False

    def _encode(self, frame: bytes) -> bytes:
        return bytes(frame)

    def _decode(self, datagram: bytes) -> bytes | Drop:
        return bytes(datagram) if datagram else Drop.LEGACY_SHORT


class Nacl0(_Deduplicated):
    """QuickTun ``nacl0``: crypto_box under the static shared key with the all-zero nonce."""

    name = "quicktun-nacl0"
    overhead = TAG_LEN
    insecure: str | None = (
        "one nonce for every packet both ways: keystream reuse, and Poly1305 forgeable after two packets"
    )

    def __init__(self, secret: bytes, peer_public: bytes) -> None:
        super().__init__()
        self._key = shared_key(secret, peer_public)

    def _encode(self, frame: bytes) -> bytes:
        return bytes(crypto_box_afternm(bytes(frame), bytes(NONCE_LEN), self._key))

    def _decode(self, datagram: bytes) -> bytes | Drop:
        if len(datagram) < TAG_LEN:
            return Drop.LEGACY_SHORT
        frame = _open_box(self._key, bytes(NONCE_LEN), bytes(datagram))
        return Drop.LEGACY_AUTH if frame is None else frame


class NaclTai(_Stateless):
    """QuickTun ``nacltai``: a TAI64NA-style label in the nonce, a direction byte, a 5-label replay set."""

    name = "quicktun-nacltai"
    overhead = LABEL_LEN + TAG_LEN

    def __init__(
        self, secret: bytes, peer_public: bytes, now: float, time_window: float | None = None, role: int | None = None
    ) -> None:
        super().__init__()
        self._key = shared_key(secret, peer_public)
        self.role = role_of(bytes(crypto_scalarmult_base(secret)), peer_public, role)
        self._send_prefix = bytes(7) + bytes([self.role & 1])
        self._recv_prefix = bytes(7) + bytes([(self.role >> 1) & 1])
        self.counter = 0  # per-process packet counter; the first label carries 1
        floor = bytes(LABEL_LEN)
        if time_window is not None:
            secs, usec = divmod(round((now - time_window) * 1e6), 1_000_000)
            floor = tai_label(secs, usec, 0)
        self._recent = [floor] * REPLAY_SLOTS

    def label(self, now: float) -> bytes:
        """The next label for a packet sent at ``now`` (advances the counter)."""
        self.counter += 1
        secs, usec = divmod(round(now * 1e6), 1_000_000)
        return tai_label(secs, usec, self.counter)

    def seal_labelled(self, frame: bytes, label: bytes) -> bytes:
        """The datagram for ``frame`` under a given label (the pure layout)."""
        return label + bytes(crypto_box_afternm(bytes(frame), self._send_prefix + label, self._key))

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        return self.seal_labelled(frame, self.label(now))

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        if len(datagram) < self.overhead:
            return Drop.LEGACY_SHORT
        label = bytes(datagram[:LABEL_LEN])
        recent = self._recent
        oldest = min(recent)
        if label <= oldest or label in recent:
            return Drop.LEGACY_REPLAY
        frame = _open_box(self._key, self._recv_prefix + label, bytes(datagram[LABEL_LEN:]))
        if frame is None:
            return Drop.LEGACY_AUTH
        recent[recent.index(oldest)] = label
        return frame
