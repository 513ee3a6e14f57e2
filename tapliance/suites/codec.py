"""The codec contract every legacy wire format of tapliance/suites implements.

A codec is one peer's side of a predecessor's format, sans-IO: frames in, datagrams out, and back.
The legacy protocol (an adapter onto the protocol interface) drives every codec the same way::

    name: str; overhead: int; insecure: str | None     class attributes (insecure: the weakness, one line;
    authenticates: bool                                 authenticates: a datagram that opens proves its sender)
    tap_mtu(underlay_mtu, ipv6=False) -> int           classmethod: TAP MTU that fits the underlay
    seal(frame, now) -> bytes | Drop                   the datagram to send, or why not
    open(datagram, now) -> bytes | Drop                the frame, b"" (authentic, nothing for the TAP), or why not
    on_timer(now) -> float                             run timers; next deadline (math.inf: none)
    control: list[bytes]                               datagrams the codec wants sent; the adapter drains it

Optional (looked up by the adapter; the otp suite has them)::

    notices: list[tuple[str, str]]                     (level, line) for the log; the adapter drains it
    status() -> dict                                   extra fields for the peer's status (may set "state")
    close()                                            a clean stop, called once at the daemon's teardown

``now`` is wall-clock UNIX time in seconds (the formats carry wall-clock timestamps). A Drop from
``open`` leaves the codec's state unchanged.
"""

from __future__ import annotations

from typing import Protocol

from tapliance.proto.drops import Drop


class Codec(Protocol):
    name: str
    overhead: int
    insecure: str | None
    authenticates: bool
    control: list[bytes]

    @classmethod
    def tap_mtu(cls, underlay_mtu: int = 1500, ipv6: bool = False) -> int: ...

    def seal(self, frame: bytes, now: float) -> bytes | Drop: ...

    def open(self, datagram: bytes, now: float) -> bytes | Drop: ...

    def on_timer(self, now: float) -> float: ...
