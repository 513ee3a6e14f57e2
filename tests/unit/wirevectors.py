"""A fixed protocol run whose every output byte is recorded: the native suite's wire vectors.

Two nodes with fixed static keys, a deterministic randomness stream and a fixed clock go through a
handshake, data in both directions, a fragmented frame, a frame with a virtio-net header, keepalives,
a cookie reply under load and a rekey. ``record()`` returns everything they put on the wire and to
their TAPs, in order; ``tests/unit/vectors/native-v1.json`` holds the output of the code as it was
before the core was restructured, and ``test_wire_vectors.py`` keeps the two identical.

The only place that knows how to build and drive a node is ``_Side``: when the core's construction
API changes, this adapter changes and the recorded bytes must not.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tapliance.proto.native.primitives import dh_public
from tapliance.proto.native.protocol import NativeProtocol
from tests.unit.pair import build, spec

A_PRIVATE = hashlib.sha256(b"tapliance vector key A").digest()
B_PRIVATE = hashlib.sha256(b"tapliance vector key B").digest()
A_ADDR = ("192.0.2.1", 9123)
B_ADDR = ("192.0.2.2", 9123)
UNIX_OFFSET = 1.7e9
START = 1000.0
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


class DetRandom:
    """Deterministic randomness standing in for os.urandom: each call takes the next ceil(n / 32) blocks
    SHA-256(seed || le64(i)), i = 0, 1, ..., and returns their first n bytes; ``draws`` records the calls."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.i = 0
        self.draws: list[str] = []

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self.i.to_bytes(8, "little")).digest()
            self.i += 1
        self.draws.append(out[:n].hex())
        return out[:n]


class _Side:
    def __init__(
        self,
        name: str,
        private: bytes,
        peer_private: bytes,
        endpoint: tuple[str, int] | None,
        *,
        seed: bytes = b"",
        psk: bytes | None = None,
        **kw: Any,
    ) -> None:
        self.name = name
        peer = spec(dh_public(peer_private), "b" if name == "a" else "a", endpoint, psk, 10.0)
        self.random = DetRandom(seed or b"rng-" + name.encode())
        self.node = build(private, [peer], self.random, START, UNIX_OFFSET, **kw)
        proto = self.node.protocols[0]
        assert isinstance(proto, NativeProtocol)
        self.proto = proto

    def drain(self, log: list[dict[str, Any]]) -> list[bytes]:
        """Record and return this side's datagrams (GSO buffers split), record its TAP output."""
        n = self.node
        out = []
        for buf, _dst, seg in self.proto.tx:
            for off in range(0, len(buf), seg):
                d = bytes(buf[off : off + seg])
                out.append(d)
                log.append({"from": self.name, "udp": d.hex()})
        self.proto.tx.clear()
        for f in n.to_tap:
            log.append({"to_tap": self.name, "frame": bytes(f).hex()})
        n.to_tap.clear()
        return out


def _frame(dst: bytes, src: bytes, payload: bytes) -> bytes:
    return dst + src + b"\x08\x00" + payload


def _deliver(dst: _Side, datagrams: list[bytes], src: tuple[str, int], now: float) -> None:
    for d in datagrams:
        dst.proto.on_datagram(d, src, now)


def _scenario(log: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    a = _Side("a", A_PRIVATE, B_PRIVATE, B_ADDR, **kw)
    b = _Side("b", B_PRIVATE, A_PRIVATE, None, **kw)
    now = START
    vnet = bool(kw.get("vnet"))
    hdr = bytes(10) if vnet else b""

    def step(src: _Side, dst: _Side, src_addr: tuple[str, int]) -> None:
        _deliver(dst, src.drain(log), src_addr, now)

    a.node.on_frame(hdr + _frame(MAC_B, MAC_A, b"first frame"), now)  # queued; initiation goes out
    step(a, b, A_ADDR)  # initiation -> b answers
    step(b, a, B_ADDR)  # response -> a flushes its queue (data)
    step(a, b, A_ADDR)  # data -> b confirms the keys
    b.drain(log)
    b.node.on_frame(hdr + _frame(MAC_A, MAC_B, b"reply"), now)
    step(b, a, B_ADDR)
    a.drain(log)
    a.node.on_frame(hdr + _frame(MAC_B, MAC_A, bytes(range(256)) * 12), now)  # 3086 bytes: fragments
    step(a, b, A_ADDR)
    b.drain(log)
    now += 11.0  # keepalives after 10 s of silence
    a.node.on_timer(now)
    b.node.on_timer(now)
    step(a, b, A_ADDR)
    step(b, a, B_ADDR)
    now += 110.0  # 121 s after the handshake: past rekey_after_seconds for a (the initiator), not yet
    for _ in range(3):  # for b's fallback (130 s)
        a.node.on_timer(now)
        b.node.on_timer(now)
        step(a, b, A_ADDR)
        step(b, a, B_ADDR)
    a.node.on_frame(hdr + _frame(MAC_B, MAC_A, b"after rekey"), now)
    step(a, b, A_ADDR)
    b.drain(log)
    return {"a": a.node.status(now), "b": b.node.status(now)}


def _exhaust(side: _Side, now: float) -> None:
    side.proto.cookies.budget.level, side.proto.cookies.budget.stamp = 0.0, now  # under load, as a flood would make it


def _under_load(log: list[dict[str, Any]]) -> None:
    """b processes one handshake message per second; the second initiation within it gets a cookie."""
    a = _Side("a", A_PRIVATE, B_PRIVATE, B_ADDR)
    b = _Side("b", B_PRIVATE, A_PRIVATE, None, handshake_rate=1)
    now = START
    a.node.on_frame(_frame(MAC_B, MAC_A, b"x"), now)
    _deliver(b, a.drain(log), A_ADDR, now)  # consumes b's one token
    b.drain(log)
    now += 5.5  # a retransmits (its response was "lost")
    a.node.on_timer(now)
    first = a.drain(log)
    _exhaust(b, now)  # over the rate: b must answer with a cookie reply
    _deliver(b, first, A_ADDR, now)
    _deliver(a, b.drain(log), B_ADDR, now)  # a stores the cookie
    now += 5.5
    a.node.on_timer(now)  # the next initiation carries mac2
    _exhaust(b, now)
    _deliver(b, a.drain(log), A_ADDR, now)  # valid mac2: processed despite the load
    b.drain(log)


def record() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kw in (
        ("chacha20-poly1305", {}),
        ("aes-256-gcm", {"suite": "aes-256-gcm"}),
        ("chacha20-poly1305 vnet", {"vnet": True}),
    ):
        log: list[dict[str, Any]] = []
        status = _scenario(log, **kw)
        out[name] = {"log": log, "drops": {k: status[k]["drops"] for k in ("a", "b")}}
    log = []
    _under_load(log)
    out["cookie"] = {"log": log}
    return out
