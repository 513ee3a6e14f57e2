"""tinytaptunnel v1.4 (vsergeev/tinytaptunnel): an HMAC-SHA256-authenticated, UNENCRYPTED L2 tunnel.

Wire format (one UDP payload per Ethernet frame; see docs/seed notes, section 1.1)::

    tag32 || ts8 || frame        ts8   = be64(sender's wall clock, ns since 1970)
                                 tag32 = HMAC-SHA256(key, ts8 || frame)

Receive rules, in order. Rules 1, 2 and 6 are the original's; 3-5 are tapliance's and cannot break a
real far end (why for each below)::

    1. len < 41                               -> LEGACY_SHORT
    2. now - ts > 3 s                         -> TTT_STALE
    3. ts - now > 60 s                        -> TTT_FUTURE
    4. the tag is one we sent (< 3 s ago)     -> LEGACY_REFLECTED
    5. the tag was accepted before, or ts is at or below the replay memory's floor -> LEGACY_REPLAY
    6. HMAC differs (hmac.compare_digest)     -> LEGACY_AUTH

Why a 60 s future bound (3) is safe: the original rejects anything more than 3 s old, in both
directions. A pair whose clocks differ by more than 3 s therefore already loses one direction
completely (the side that is behind sees the other's datagrams as stale), so every working pair has a
skew under 3 s, and 60 s leaves twenty times that. The bound caps how long a captured datagram stays
replayable across a restart of ours (when the replay memory is empty) at 63 s instead of forever.

Replay memory (5): the first 16 bytes of each accepted tag, kept until its ts is 3 s old by our
clock (older datagrams fail rule 2 anyway). A tag identifies the exact (ts, frame) pair, so two
different frames that a coarse far-end clock stamped alike are both accepted; only a byte-identical
copy is refused, and a real far end never sends one (its ts moves on). The memory holds at most
65536 tags; when full, the oldest is evicted and its ts becomes a floor, below which everything is
refused. That only engages above ~21,800 datagrams/s (~250 Mbit/s of full frames), and then costs
datagrams reordered behind the floor. Reflection (4) uses a second such memory of the tags we sent:
with one key for both directions and no direction bit, the format cannot tell a reflected datagram
from the far end's, but we can recognise our own tags; the far end would have to send the same
frame at the same nanosecond to collide.

Implements the codec contract of tapliance/suites/codec.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import math

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD

TAG_LEN = 32
TS_LEN = 8
OVERHEAD = TAG_LEN + TS_LEN  # 40
MIN_DATAGRAM = OVERHEAD + 1  # 41: the original's length check
MAX_AGE_NS = 3_000_000_000  # the original's one-sided staleness bound
FUTURE_NS = 60_000_000_000  # ours: see the module docstring
MEMORY_TAGS = 65536  # bound of each tag memory
TAG_KEY_LEN = 16  # bytes of a tag remembered
FAR_END_DATAGRAM = 1472  # the original's UDP read buffer: longer datagrams arrive truncated there
ETHERNET_HEADER = 14


class KeyFileError(ValueError):
    """A tinytaptunnel key file that cannot be used; the message is one line."""


def parse_key_file(content: bytes) -> bytes:
    """The HMAC key in a key file: base64 (standard, padded) with surrounding whitespace trimmed.

    As Go's ``base64.StdEncoding``, CR and LF inside the text are ignored. Any length >= 1 is a key."""
    text = content.strip().replace(b"\r", b"").replace(b"\n", b"")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"tinytaptunnel key file: not padded standard base64 ({len(text)} characters)") from None
    if not key:
        raise KeyFileError("tinytaptunnel key file: empty key")
    return key


def key_file_content(key: bytes) -> bytes:
    """What the original writes for a new key: base64 of the key, no trailing newline."""
    return base64.b64encode(key)


def seal_at(key: bytes, ts_ns: int, frame: bytes) -> bytes:
    """The datagram for ``frame`` stamped ``ts_ns`` (the pure layout; no state)."""
    ts = ts_ns.to_bytes(TS_LEN, "big")
    return hmac.new(key, ts + frame, hashlib.sha256).digest() + ts + frame


class _TagMemory:
    """Tags with their timestamps, forgotten when 3 s old; bounded, with a floor raised by eviction."""

    __slots__ = ("_heap", "_tags", "floor")

    def __init__(self) -> None:
        self._heap: list[tuple[int, bytes]] = []
        self._tags: set[bytes] = set()
        self.floor = -1  # ts of the newest entry evicted while still young; -1: none

    def __contains__(self, tag: bytes) -> bool:
        return tag in self._tags

    def add(self, ts: int, tag: bytes, now_ns: int) -> None:
        heap = self._heap
        heapq.heappush(heap, (ts, tag))
        self._tags.add(tag)
        while heap and heap[0][0] < now_ns - MAX_AGE_NS:
            self._tags.discard(heapq.heappop(heap)[1])
        while len(heap) > MEMORY_TAGS:
            old_ts, old_tag = heapq.heappop(heap)
            self._tags.discard(old_tag)
            self.floor = max(self.floor, old_ts)


class TinyTapTunnel:
    """One tinytaptunnel endpoint: a key, the replay memory and our sent tags (see the module docstring)."""

    name = "tinytaptunnel"
    overhead = OVERHEAD
    insecure: str | None = "no encryption: frames cross the network in plaintext (HMAC only)"
    authenticates = True

    def __init__(self, key: bytes) -> None:
        if not key:
            raise KeyFileError("tinytaptunnel key: empty key")
        self._key = key
        self._last_ts = -1  # our last ts: the next one is strictly larger, even if the clock steps back
        self._accepted = _TagMemory()
        self._sent = _TagMemory()
        self.control: list[bytes] = []

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        """TAP MTU for an underlay: what fits unfragmented, and never more than the original's 1418."""
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        payload = min(underlay_mtu - ip, FAR_END_DATAGRAM)
        return payload - cls.overhead - ETHERNET_HEADER

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        """Stamp and authenticate ``frame``; timestamps strictly increase so the far end never sees a tie."""
        ts = max(int(now * 1e9), self._last_ts + 1)
        self._last_ts = ts
        datagram = seal_at(self._key, ts, frame)
        now_ns = int(now * 1e9)
        self._sent.add(ts, datagram[:TAG_KEY_LEN], now_ns)
        return datagram

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        """Apply the receive rules of the module docstring; the frame, or the first rule that fails."""
        if len(datagram) < MIN_DATAGRAM:
            return Drop.LEGACY_SHORT
        now_ns = int(now * 1e9)
        ts = int.from_bytes(datagram[TAG_LEN:OVERHEAD], "big")
        if now_ns - ts > MAX_AGE_NS:
            return Drop.TTT_STALE
        if ts - now_ns > FUTURE_NS:
            return Drop.TTT_FUTURE
        tag = datagram[:TAG_LEN]
        if tag[:TAG_KEY_LEN] in self._sent:
            return Drop.LEGACY_REFLECTED
        if tag[:TAG_KEY_LEN] in self._accepted or ts <= self._accepted.floor:
            return Drop.LEGACY_REPLAY
        expected = hmac.new(self._key, datagram[TAG_LEN:], hashlib.sha256).digest()
        if not hmac.compare_digest(tag, expected):
            return Drop.LEGACY_AUTH
        self._accepted.add(ts, tag[:TAG_KEY_LEN], now_ns)
        return datagram[OVERHEAD:]

    def on_timer(self, now: float) -> float:
        """No timers: memories expire as datagrams arrive."""
        return math.inf
