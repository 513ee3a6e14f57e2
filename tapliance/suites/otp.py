"""The one-time-pad suite ``otp``: what OTPTunnel's author wanted and did not build (docs/protocol-otp.md).

Wire format (integers big-endian)::

    be64(o) || c || t                          overhead 24 (8 offset + 16 tag)
    c = frame XOR pad[o+16 : o+16+L]           L = len(frame)
    t = Poly1305(key = r || pad[o : o+16], msg = be64(o) || c)
    r = pad[h : h+16]                          h = the first offset of the sender's half

Consumption rule: a frame of L bytes uses exactly the pad range [o, o+16+L) of its sender's half (16
bytes of tag mask ``s``, then L bytes of keystream); the sender's next datagram starts at o+16+L. A pad
of P bytes has halves of H = P // 2 bytes: the end with ``server = false`` sends from [0, H), the end
with ``server = true`` from [H, 2H). The first 16 bytes of each half are that direction's ``r``, never
used otherwise, so datagram ranges lie in [h+16, h+H). No pad byte is used twice, and nothing wraps.

Authentication is a Wegman-Carter MAC: Poly1305 with ``r`` fixed per direction and ``s`` fresh pad bytes
in every datagram. Every tag is masked by 16 uniform bytes used once, so tags reveal nothing of r, and a
forgery succeeds with probability at most 8 * ceil((L+8)/16) / 2^106 per try, whatever the forger's
computing power. Why not the whole 32-byte key fresh at o: a receiver cannot tell a genuine range's
start from any other offset, and keystream bytes are known to whoever knows that frame's plaintext; a
forger who suppressed such a datagram could claim an offset inside its range and key a tag with those
known bytes. With r apart, known bytes taken as s are worth nothing.

Receive rules, in order::

    1. len < 24                                                   -> LEGACY_SHORT
    2. o in OUR half: below our next offset                       -> LEGACY_REFLECTED (ours, sent back)
       at or past it, inside our half, tag verifies under our r   -> OTP_CONFLICT (we stop sending)
       ... not inside our half's data range                       -> OTP_OUT_OF_HALF; tag wrong -> LEGACY_AUTH
    3. [o, o+16+L) not inside the far end's half's data range     -> OTP_OUT_OF_HALF
    4. below the window's floor, or overlapping an accepted range -> LEGACY_REPLAY (suites/padwindow.py)
    5. the tag does not verify (constant-time)                    -> LEGACY_AUTH

Rule 2: both ends sending from one half (``server`` set alike at both) is a two-time pad. A datagram we
sent has a range below our next offset; an authentic one at or past it is the far end (or our own
earlier run, after a rolled-back state file) using our half, and we stop sending at once.

Sending: once stopped, every frame is that stop's drop again. A frame that does not fit in what is left
of our half stops the tunnel (OTP_PAD_EXHAUSTED). Before a range's first byte is used the store makes
our reservation durable past its end (``reserve``, in RESERVE_CHUNK steps, so a datagram does not cost
an fsync): a restart, even after kill -9 or a power cut, starts past every byte this run may have used.
A range whose mask reads as 16 zero bytes (burned: a rolled-back state file) stops us (OTP_PAD_BURNED).

Receiving needs no durable record for secrecy or authenticity (the sender never reuses pad), only
against replays across our own restart: the store keeps a receive mark (the far end's ranges below it
are refused after a restart), written when the accepted high-water mark has grown by RESERVE_CHUNK and
exactly at a clean stop. After a crash, datagrams accepted in the last chunk of the far end's range can
be replayed once each; after a clean stop, none. Received pad is burned only below both the window's
floor and the durable mark.

Implements the codec contract of tapliance/suites/codec.py and its optional members ``notices``,
``status()`` and ``close()``. Sans-IO: the pad and its state are behind an injected PadStore (padstore.py).
"""

from __future__ import annotations

import math
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from tapliance.proto.drops import Drop
from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD
from tapliance.suites.padstore import MIN_PAD_SIZE, R_LEN, PadError, PadStore, PadStoreError, halves
from tapliance.suites.padwindow import RangeWindow

OFFSET_LEN = 8
TAG_LEN = 16
MASK_LEN = 16  # Poly1305 s: the first bytes of each datagram's range
OVERHEAD = OFFSET_LEN + TAG_LEN  # 24
RESERVE_CHUNK = 1 << 20  # how far ahead a reservation (and the receive mark) is made durable
ETHERNET_HEADER = 14
ZERO_MASK = bytes(MASK_LEN)

Notice = tuple[str, str]  # (level: "info" | "warning" | "error", message): a line for the log


def _xor(data: bytes, stream: bytes) -> bytes:
    n = len(data)
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def _verifies(key: bytes, msg: bytes, tag: bytes) -> bool:
    try:
        Poly1305.verify_tag(key, msg, tag)
    except InvalidSignature:
        return False
    return True


class Otp:
    """One end of an otp tunnel: our half (its next offset and durable reservation), the far end's half
    (its window and receive mark), and a stop once the tunnel can no longer send safely."""

    name = "otp"
    overhead = OVERHEAD
    insecure: str | None = None
    authenticates = True

    def __init__(self, store: PadStore, server: bool, warn_percent: float = 10.0) -> None:
        if store.size < MIN_PAD_SIZE:
            raise PadError(f"otp pad: {store.size} bytes is too small (at least {MIN_PAD_SIZE}: half for each way)")
        self.store = store
        self.server = server
        (self.tx_lo, self.tx_end), (self.rx_lo, self.rx_end) = halves(store.size, server)
        self.tx_next = self.tx_reserved = store.send_start
        floor = store.receive_floor
        if not self.tx_lo + R_LEN <= self.tx_next <= self.tx_end:
            raise PadError(f"otp send offset {self.tx_next} is outside this end's half [{self.tx_lo}, {self.tx_end})")
        if not self.rx_lo + R_LEN <= floor <= self.rx_end:
            raise PadError(f"otp receive mark {floor} is outside the far end's half [{self.rx_lo}, {self.rx_end})")
        self._r_tx, self._r_rx = self._r(self.tx_lo), self._r(self.rx_lo)
        self._window = RangeWindow(floor)
        self.rx_high = self._rx_marked = self._rx_burned = floor  # the far end's highest accepted range end
        self._rx_mark_at = floor + RESERVE_CHUNK  # when the receive mark is next written
        self.warn_percent = warn_percent
        self._warned = {"send": False, "receive": False}
        self.stopped: Drop | None = None
        self.stop_reason = ""
        self._closed = False
        self.control: list[bytes] = []
        self.notices: list[Notice] = [
            ("info", f"pad of {store.size} bytes: {self.send_left} left to send, {self.receive_left} to receive")
        ]
        self._check_warn("send")
        self._check_warn("receive")

    def _r(self, lo: int) -> bytes:
        try:
            r = self.store.read(lo, R_LEN)
        except PadStoreError as e:
            raise PadError(str(e)) from None
        if r == bytes(R_LEN):
            raise PadError(f"otp pad: the 16 bytes at offset {lo} are zeros (burned, or not a random pad)")
        return r

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int:
        ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
        return underlay_mtu - ip - cls.overhead - ETHERNET_HEADER

    @property
    def send_left(self) -> int:
        return self.tx_end - self.tx_next

    @property
    def receive_left(self) -> int:
        return self.rx_end - self.rx_high

    # -- sending: the hot path is reserve (once a chunk), read, XOR, tag
    def seal(self, frame: bytes, now: float) -> bytes | Drop:
        if self.stopped is not None:
            return self.stopped
        o = self.tx_next
        n = MASK_LEN + len(frame)
        end = o + n
        if end > self.tx_end:
            return self._stop(
                Drop.OTP_PAD_EXHAUSTED,
                f"pad exhausted: the {self.tx_end - o} bytes left in our half cannot carry a {len(frame)}-byte "
                "frame; nothing more is sent (never a wrap): give both ends a new pad",
            )
        try:
            if end > self.tx_reserved:
                reserved = min(self.tx_end, end + RESERVE_CHUNK)
                self.store.reserve(reserved)  # durable before a byte of [o, end) is used
                self.tx_reserved = reserved
            pad = self.store.read(o, n)
        except PadStoreError as e:
            return self._stop(Drop.OTP_STORE_ERROR, f"{e}; this end stops sending")
        if pad[:MASK_LEN] == ZERO_MASK:
            return self._stop(
                Drop.OTP_PAD_BURNED,
                f"the pad at offset {o} reads as zeros (burned): the state was rolled back; this end stops sending",
            )
        head = o.to_bytes(OFFSET_LEN, "big")
        c = _xor(frame, pad[MASK_LEN:])
        tag = Poly1305.generate_tag(self._r_tx + pad[:MASK_LEN], head + c)
        self.tx_next = end
        self.store.burn(o, n)
        if not self._warned["send"]:
            self._check_warn("send")
        return head + c + tag

    def _stop(self, reason: Drop, message: str) -> Drop:
        if self.stopped is None:
            self.stopped, self.stop_reason = reason, message
            self.notices.append(("error", message))
        return reason

    def _check_warn(self, way: str) -> None:
        left, total = (self.send_left, self.tx_end) if way == "send" else (self.receive_left, self.rx_end)
        total -= (self.tx_lo if way == "send" else self.rx_lo) + R_LEN
        if left * 100 < self.warn_percent * total and not self._warned[way]:
            self._warned[way] = True
            what = "left to send" if way == "send" else "left to the far end to send to us"
            pct = 100 * left / total
            limit = f"pad_warn {self.warn_percent:g} %"
            self.notices.append(("warning", f"pad low: {left} bytes ({pct:.1f} %) {what} ({limit})"))

    # -- receiving
    def open(self, datagram: bytes, now: float) -> bytes | Drop:
        n = len(datagram) - OVERHEAD
        if n < 0:
            return Drop.LEGACY_SHORT
        o = int.from_bytes(datagram[:OFFSET_LEN], "big")
        end = o + MASK_LEN + n
        if self.tx_lo <= o < self.tx_end:
            return self._ours(datagram, o, end)
        if o < self.rx_lo + R_LEN or end > self.rx_end:
            return Drop.OTP_OUT_OF_HALF
        if self._window.seen(o, end):
            return Drop.LEGACY_REPLAY
        pad = self._read(o, end - o)
        if pad is None:
            return Drop.OTP_STORE_ERROR
        if not _verifies(self._r_rx + pad[:MASK_LEN], datagram[:-TAG_LEN], datagram[-TAG_LEN:]):
            return Drop.LEGACY_AUTH
        frame = _xor(datagram[OFFSET_LEN:-TAG_LEN], pad[MASK_LEN:])
        self._accept(o, end)
        return frame

    def _read(self, o: int, n: int) -> bytes | None:
        try:
            return self.store.read(o, n)
        except PadStoreError:
            return None

    def _ours(self, datagram: bytes, o: int, end: int) -> Drop:
        if o < self.tx_next:
            return Drop.LEGACY_REFLECTED
        if o < self.tx_lo + R_LEN or end > self.tx_end:
            return Drop.OTP_OUT_OF_HALF
        pad = self._read(o, end - o)
        if pad is None:
            return Drop.OTP_STORE_ERROR
        if not _verifies(self._r_tx + pad[:MASK_LEN], datagram[:-TAG_LEN], datagram[-TAG_LEN:]):
            return Drop.LEGACY_AUTH
        return self._stop(
            Drop.OTP_CONFLICT,
            f"an authentic datagram at offset {o} of our own half, past what we sent: the far end sends from our "
            "half too (set server = true at exactly one end) or our state was rolled back; this end stops sending",
        )

    def _accept(self, o: int, end: int) -> None:
        self._window.add(o, end)
        if end > self.rx_high:
            self.rx_high = end
            if end >= self._rx_mark_at:
                self._rx_mark_at = end + RESERVE_CHUNK
                try:
                    self.store.received(end)
                    self._rx_marked = end
                except PadStoreError as e:
                    lost = "after a crash, what was received since could be replayed once"
                    self.notices.append(("error", f"{e}; {lost}"))
            if not self._warned["receive"]:
                self._check_warn("receive")
        self._burn_received(min(self._window.floor, self._rx_marked))

    def _burn_received(self, upto: int) -> None:
        if upto > self._rx_burned:
            self.store.burn(self._rx_burned, upto - self._rx_burned)
            self._rx_burned = upto

    def on_timer(self, now: float) -> float:
        return math.inf

    def status(self) -> dict[str, Any]:
        """Pad left both ways, for the peer's status (plain numbers: metrics read the same attributes)."""
        st: dict[str, Any] = {
            "pad_size": self.store.size,
            "pad_send_offset": self.tx_next,
            "pad_send_left": self.send_left,
            "pad_receive_offset": self.rx_high,
            "pad_receive_left": self.receive_left,
        }
        if self.stopped is not None:
            st["state"] = "pad exhausted" if self.stopped is Drop.OTP_PAD_EXHAUSTED else f"stopped: {self.stopped}"
            st["pad_stopped"] = self.stop_reason
        return st

    def close(self) -> None:
        """A clean stop: the receive mark written exactly (no replay window lost), what it covers burned,
        and the next send offset written exactly (no reserved pad wasted). Raises PadStoreError."""
        if self._closed:
            return
        self._closed = True
        if self.rx_high > self._rx_marked:
            self.store.received(self.rx_high)
            self._rx_marked = self.rx_high
        self._burn_received(self.rx_high)
        self.store.close(self.tx_next)
