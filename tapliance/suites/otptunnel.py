"""OTPTunnel (rpgraham84/otptunnel, the 2013 code at HEAD): frames XORed with a shared pad file, unkeyed MD5.

Wire format (seed notes, section 1.4)::

    c || be48(s)                 overhead 22 (16 MD5 + 6 offset)
    m = frame || MD5(frame)      c[i] = m[i] XOR pad[s + 2*i]      s = the sender's seek before the packet
    seek += 2 * len(m)           client (no -S): even offsets from 0; server (-S): odd offsets from 1

Receive rules, in order (OTPTunnel itself only checks the MD5, and crashes reading past the pad)::

    1. len < 22                                        -> LEGACY_SHORT
    2. s has OUR parity                                -> LEGACY_REFLECTED
    3. its pad range overlaps one accepted before, or starts below the window's floor -> LEGACY_REPLAY
    4. its pad range ends past the end of the pad      -> OTP_PAD_END
    5. MD5(frame) differs from the 16-byte tail (constant-time compare) -> LEGACY_AUTH

Reflection (2): both ends XOR with one pad, and the offset in the datagram picks the keystream, so
OTPTunnel accepts its own datagrams sent back. But the two ends use offsets of opposite parity, so a
datagram with our parity is ours, and refusing it cannot touch a real far end's traffic.

Replay window (3): a far end's offsets grow within one run, each datagram using the pad range
``[s, s + 2*len(m))``, so the ranges of genuine datagrams never overlap. We remember the last 64
accepted ranges and refuse a datagram whose range overlaps one of them or starts below the end of
the newest range forgotten (the floor). Tolerates reordering by up to 64 datagrams; besides exact
replays it stops re-use of known pad bytes at a shifted offset (the MD5 is unkeyed: anyone who knows
a frame's plaintext knows those pad bytes and can XOR in a new frame with a fresh MD5).

A restarted far end starts again at 0 or 1: below our floor, so refused (LEGACY_REPLAY). That is
exactly what a replay of its earlier run looks like, and the format gives no way to tell them apart
(the restarted far end even reuses the same pad bytes). So by default a restart is never accepted:
the tunnel stays one-way dead until tapliance restarts or the runtime calls reset() on an operator's
request. ``accept_restart_after=q`` accepts a lower offset after q seconds without any accepted
datagram instead; the cost is that an attacker who recorded the earlier run can replay it after any
quiet period of q seconds.

Our own restarts reuse the pad the same way (OTPTunnel's receiver accepts any offset): the runtime
should persist ``seek`` and pass it back as ``start_seek`` to avoid that.

Implements the codec contract of tapliance/suites/codec.py; ``pad(offset, length)`` returns the pad
bytes there (fewer at the end of the pad).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
from collections.abc import Callable

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD

MD5_LEN = 16
OFFSET_LEN = 6
OVERHEAD = MD5_LEN + OFFSET_LEN  # 22
MAX_OFFSET = (1 << 48) - 1
WINDOW_RANGES = 64
ETHERNET_HEADER = 14

Pad = Callable[[int, int], bytes]


class PadError(ValueError):
    """A pad or seek that cannot be used; the message is one line."""


def pad_from_bytes(data: bytes) -> Pad:
    """A pad callable over bytes in memory (or an mmap): ``pad(offset, length)``."""
    view = memoryview(data)

    def pad(offset: int, length: int) -> bytes:
        return bytes(view[offset : offset + length])

    return pad


def _check_parity(seek: int, server: bool) -> None:
    if seek < 0 or seek % 2 != int(server):
        side = "server (odd)" if server else "client (even)"
        raise PadError(f"otptunnel seek {seek}: a {side} offset is needed")


def check_pad(pad_size: int, seek: int, server: bool) -> None:
    """Refuse a seek of the wrong parity, or a pad too small for one 1-byte frame from ``seek``."""
    _check_parity(seek, server)
    needed = seek + 2 * (1 + MD5_LEN) - 1
    if pad_size < needed:
        raise PadError(
            f"otptunnel pad: {pad_size} bytes cannot carry one datagram from offset {seek} (needs at least {needed})"
        )


def _xor_stride(data: bytes, pad: Pad, s: int) -> bytes | None:
    """``data`` XOR pad[s], pad[s+2], ...; None when the pad ends first."""
    need = 2 * len(data) - 1
    chunk = pad(s, need)
    if len(chunk) < need:
        return None
    stream = chunk[::2]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


class OtpTunnel:
    """One OTPTunnel endpoint: our seek and parity, and the window of the far end's accepted ranges."""

    name = "otptunnel"
    overhead = OVERHEAD
    insecure: str | None = "unkeyed MD5 (frames forgeable from known plaintext) and pad reuse after every restart"
    authenticates = True

    def __init__(
        self, pad: Pad, server: bool, start_seek: int | None = None, accept_restart_after: float | None = None
    ) -> None:
        self._pad = pad
        self.server = server
        self.seek = int(server) if start_seek is None else start_seek
        _check_parity(self.seek, server)
        self._accept_restart_after = accept_restart_after
        self._starts: list[int] = []  # accepted ranges, sorted by start; never overlapping
        self._ends: list[int] = []
        self._floor = 0  # ranges starting below this are refused
        self._last_accept = -math.inf
        self.control: list[bytes] = []

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        """TAP MTU that fits unfragmented (OTPTunnel itself leaves the TAP at 1500 and fragments)."""
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        return underlay_mtu - ip - cls.overhead - ETHERNET_HEADER

    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        """Encode at our seek and advance it by 2 * len(m); OTP_PAD_END when the pad is used up."""
        m = bytes(frame) + hashlib.md5(frame).digest()
        s = self.seek
        c = _xor_stride(m, self._pad, s) if s + 2 * len(m) <= MAX_OFFSET else None
        if c is None:
            return Drop.OTP_PAD_END
        self.seek = s + 2 * len(m)
        return c + s.to_bytes(OFFSET_LEN, "big")

    def _overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start)
        return (i > 0 and self._ends[i - 1] > start) or (i < len(self._starts) and self._starts[i] < end)

    def _remember(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        if len(self._starts) > WINDOW_RANGES:
            del self._starts[0]
            self._floor = max(self._floor, self._ends.pop(0))

    def on_timer(self, now: float) -> float:
        """No timers."""
        return math.inf

    def reset(self) -> None:
        """Forget the far end's offsets (an operator accepting its restart, and the pad reuse it means)."""
        self._starts, self._ends, self._floor = [], [], 0

    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        if len(datagram) < OVERHEAD:
            return Drop.LEGACY_SHORT
        c = bytes(datagram[:-OFFSET_LEN])
        s = int.from_bytes(datagram[-OFFSET_LEN:], "big")
        if s % 2 == int(self.server):
            return Drop.LEGACY_REFLECTED
        end = s + 2 * len(c)
        restart = False
        if s < self._floor or self._overlaps(s, end):
            quiet = self._accept_restart_after
            if quiet is None or now - self._last_accept < quiet:
                return Drop.LEGACY_REPLAY
            restart = True
        m = _xor_stride(c, self._pad, s)
        if m is None:
            return Drop.OTP_PAD_END
        frame, tail = m[:-MD5_LEN], m[-MD5_LEN:]
        if not hmac.compare_digest(hashlib.md5(frame).digest(), tail):
            return Drop.LEGACY_AUTH
        if restart:
            self.reset()
        self._remember(s, end)
        self._last_accept = now
        return frame
