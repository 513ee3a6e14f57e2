"""tappet (amenonsen/tappet): crypto_box under one static key for both directions, a prefixed clock nonce.

Wire format (seed notes, section 1.3)::

    n24 || 00x16 || tag16 || ct            overhead 56; the 16 zero bytes (NaCl's BOXZEROBYTES) are sent
    n24 = be32(prefix) || rand12 || be64(ns)   prefix from the nonce file, rand12 chosen once per run
    tag16 || ct = box(K, n24, plaintext)       K = beforenm(their_pk, our_sk): the same key both ways

Plaintexts shorter than 32 bytes are not frames: ``0xFE || be16(size)`` is a keepalive (``size`` =
the biggest datagram received, informational only) and anything else is ignored.

Receive rules, in order (2 is tapliance's, the rest tappet's)::

    1. len < 56                               -> LEGACY_SHORT
    2. n24 starts with OUR prefix || rand12   -> LEGACY_REFLECTED
    3. n24 <= the last accepted n24 (memcmp, before decryption) -> LEGACY_REPLAY
    4. box does not open (the zero bytes are not checked) -> LEGACY_AUTH
    5. plaintext < 32 bytes: a keepalive -> b""; anything else -> TAPPET_RUNT (tappet records its
       n24 as accepted; we change no state on a drop, which can only refuse a later replay as
       TAPPET_RUNT rather than LEGACY_REPLAY)

Reflection: with one key both ways and no direction bit, the format cannot tell our own datagram,
sent back, from the far end's; tappet accepts it if its n24 is above the far end's. But a datagram we
sent carries our prefix and rand12, and a real far end never does (its rand12 is 96 other random
bits), so rule 2 refuses it at no cost and without risk. Its limit: datagrams from an earlier run of
ours carry an older prefix and a forgotten rand12, and are still refused only by rule 3 when the far
end's nonce is above them. Rule 3 is strict, as tappet's: any reordering drops the later-numbered
datagram's predecessors.

Our ``ns`` is derived from ``now`` (wall clock, the codec contract's one clock) and forced to grow by
at least 1 per datagram, so it never repeats or goes back even if the clock steps; tappet itself uses
CLOCK_MONOTONIC. The receiver only needs it to increase within one prefix, and the prefix grows with
every start: the runtime must write the nonce file back (next_nonce_prefix) before the first send.

Implements the codec contract of tapliance/suites/codec.py.
Timers: the client's start-up keepalive (size 0) on the first on_timer(); then a keepalive after 10 s
without traffic, once the far end is known (always for the client).
"""

from __future__ import annotations

import math

from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, crypto_box_open_afternm
from nacl.exceptions import CryptoError

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD

KEY_LEN = 32
NONCE_LEN = 24
ZERO_LEN = 16
TAG_LEN = 16
OVERHEAD = NONCE_LEN + ZERO_LEN + TAG_LEN  # 56
RAND_LEN = 12
NONCE_FILE_LEN = 4
MIN_FRAME = 32  # tappet's "n < 64" with the 32 NaCl zero bytes counted
KEEPALIVE = 0xFE
KEEPALIVE_LEN = 3
KEEPALIVE_AFTER = 10.0  # seconds without traffic
FAR_END_FRAME = 2048 - 32  # tappet's 2048-byte buffers, less the NaCl zero bytes
ETHERNET_HEADER = 14
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class KeyFileError(ValueError):
    """A tappet key file that cannot be used; the message is one line."""


class NonceFileError(ValueError):
    """A tappet nonce file that cannot be used; the message is one line."""


def parse_key_file(content: bytes) -> bytes:
    """A key from a .key/.pub file: exactly 64 hex characters and a newline (tappet's fgets check)."""
    if len(content) != 2 * KEY_LEN + 1 or not content.endswith(b"\n"):
        raise KeyFileError(
            f"tappet key file: expected 64 hex characters and a newline, got {len(content)} bytes"
            + ("" if len(content) != 2 * KEY_LEN + 1 else " without the final newline")
        )
    bad = next((i for i, c in enumerate(content[:-1]) if c not in HEX_DIGITS), None)
    if bad is not None:
        raise KeyFileError(f"tappet key file: character {bad + 1} is not a hex digit")
    return bytes.fromhex(content[:-1].decode("ascii"))


def key_file_content(key: bytes) -> bytes:
    """What tappet-keygen writes: 64 lower-case hex characters and a newline."""
    return key.hex().encode("ascii") + b"\n"


def parse_nonce_file(content: bytes) -> int:
    """The value in a nonce file: exactly 4 bytes, little-endian (tappet writes host order; x86 is LE)."""
    if len(content) != NONCE_FILE_LEN:
        raise NonceFileError(f"tappet nonce file: expected 4 bytes, got {len(content)}")
    return int.from_bytes(content, "little")


def next_nonce_prefix(content: bytes) -> tuple[int, bytes]:
    """The prefix for this run and the 4 bytes to write back first; refuses the wrap-around to 0."""
    prefix = parse_nonce_file(content) + 1
    if prefix >= 1 << 32:
        raise NonceFileError("tappet nonce file: the prefix would wrap around to 0; new keys are needed")
    return prefix, prefix.to_bytes(NONCE_FILE_LEN, "little")


def keepalive(size: int) -> bytes:
    """Keepalive plaintext announcing ``size`` (capped to 16 bits)."""
    return bytes([KEEPALIVE]) + min(size, 0xFFFF).to_bytes(2, "big")


def seal_nonce(key: bytes, n24: bytes, plaintext: bytes) -> bytes:
    """The datagram for ``plaintext`` under nonce ``n24`` (the pure layout)."""
    return n24 + bytes(ZERO_LEN) + bytes(crypto_box_afternm(bytes(plaintext), n24, key))


class Tappet:
    """One tappet endpoint: the shared key, our nonce (prefix, rand12, ns) and the last n24 accepted."""

    name = "tappet"
    overhead = OVERHEAD
    insecure: str | None = None
    authenticates = True

    def __init__(self, our_secret: bytes, their_public: bytes, prefix: int, rand12: bytes, client: bool) -> None:
        if not 0 < prefix < 1 << 32:
            raise NonceFileError(f"tappet nonce prefix {prefix} is outside 1 .. 2^32-1")
        if len(rand12) != RAND_LEN:
            raise ValueError(f"tappet nonce: expected 12 random bytes, got {len(rand12)}")
        try:
            self._key = bytes(crypto_box_beforenm(their_public, our_secret))
        except CryptoError:
            raise KeyFileError("tappet public key: a low-order point (no shared key)") from None
        self._ours = prefix.to_bytes(4, "big") + rand12  # the first 16 bytes of every n24 we send
        self._ns = -1
        self._theirs = bytes(NONCE_LEN)  # last accepted n24
        self.client = client
        self.biggest_received = 0
        self.biggest_announced = 0  # the far end's keepalive size (tappet's biggest_sent)
        self._started = not client
        self._peer_known = client
        self._last_traffic = -math.inf
        self.control: list[bytes] = []

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        """TAP MTU for an underlay (1402 over IPv4 / 1382 over IPv6 for 1500; not the README's PMTU-74)."""
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        return min(underlay_mtu - ip - cls.overhead, FAR_END_FRAME) - ETHERNET_HEADER

    def next_nonce(self, now: float) -> bytes:
        """Our n24 for a datagram sent at ``now``; ns strictly increasing."""
        self._ns = max(int(now * 1e9), self._ns + 1)
        return self._ours + self._ns.to_bytes(8, "big")

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        self._last_traffic = now
        return seal_nonce(self._key, self.next_nonce(now), frame)

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        if len(datagram) < OVERHEAD:
            return Drop.LEGACY_SHORT
        n24 = bytes(datagram[:NONCE_LEN])
        if n24[:16] == self._ours:
            return Drop.LEGACY_REFLECTED
        if n24 <= self._theirs:
            return Drop.LEGACY_REPLAY
        try:
            plaintext = bytes(crypto_box_open_afternm(bytes(datagram[NONCE_LEN + ZERO_LEN :]), n24, self._key))
        except CryptoError:
            return Drop.LEGACY_AUTH
        if len(plaintext) < MIN_FRAME and not (len(plaintext) == KEEPALIVE_LEN and plaintext[0] == KEEPALIVE):
            return Drop.TAPPET_RUNT
        self._theirs = n24
        self.biggest_received = max(self.biggest_received, len(datagram))
        self._peer_known = True
        self._last_traffic = now
        if len(plaintext) < MIN_FRAME:
            self.biggest_announced = max(self.biggest_announced, int.from_bytes(plaintext[1:], "big"))
            return b""
        return plaintext

    def on_timer(self, now: float) -> float:
        """Queue the client's start-up keepalive, or one after 10 s without traffic; the next deadline."""
        if not self._started:
            self._started = True
            self.control.append(seal_nonce(self._key, self.next_nonce(now), keepalive(0)))
            self._last_traffic = now
        elif self._peer_known and now - self._last_traffic >= KEEPALIVE_AFTER:
            self.control.append(seal_nonce(self._key, self.next_nonce(now), keepalive(self.biggest_received)))
            self._last_traffic = now
        return self._last_traffic + KEEPALIVE_AFTER if self._peer_known else math.inf
