"""The published test vectors of the native protocol (docs/protocol-vectors.json, described in
docs/protocol.md): fixed keys, a fixed randomness stream and a fixed clock; every message type, a frame
in one datagram, a fragmented frame and a frame with a virtio-net header. ``published()`` recomputes them
with today's code; test_wire_vectors.py holds the file to it. ``python -m tests.unit.protocol_vectors``
rewrites the file (only after a deliberate change of the wire format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tapliance.proto.native.primitives import dh_public
from tests.unit.wirevectors import (
    A_ADDR,
    A_PRIVATE,
    B_ADDR,
    B_PRIVATE,
    MAC_A,
    MAC_B,
    START,
    UNIX_OFFSET,
    _deliver,
    _frame,
    _Side,
    _under_load,
)

FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol-vectors.json"


def _udp(log: list[dict[str, Any]], side: str) -> list[bytes]:
    return [bytes.fromhex(e["udp"]) for e in log if e.get("from") == side]


class Recorder:
    """Wraps a side's randomness and records every draw, so another implementation can reuse them."""

    def __init__(self, side: _Side) -> None:
        self.draws: list[str] = []
        inner = side.proto.random

        def draw(n: int) -> bytes:
            out = inner(n)
            self.draws.append(out.hex())
            return out

        side.proto.random = side.proto.cookies.random = draw


def _plain_pair() -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    """Two peers without TAP offloads: handshake (caps 0), a small frame, a fragmented frame, keepalive."""
    log: list[dict[str, Any]] = []
    a, b = _Side("a", A_PRIVATE, B_PRIVATE, B_ADDR), _Side("b", B_PRIVATE, A_PRIVATE, None)
    ra, rb = Recorder(a), Recorder(b)
    small = _frame(MAC_B, MAC_A, b"one datagram")
    big = _frame(MAC_B, MAC_A, bytes(range(256)) * 12)
    a.node.on_frame(small, START)
    init = a.drain(log)
    _deliver(b, init, A_ADDR, START)
    resp = b.drain(log)
    _deliver(a, resp, B_ADDR, START)
    data = a.drain(log)
    a.node.on_frame(big, START)
    frags = a.drain(log)
    a.node.on_timer(START + 11.0)
    keepalive = a.drain(log)
    msgs = {
        "initiation": init[0].hex(),
        "response": resp[0].hex(),
        "data_one_datagram": data[0].hex(),
        **{f"data_fragment_{i}": d.hex() for i, d in enumerate(frags)},
        "keepalive": keepalive[0].hex(),
    }
    return msgs, {"small": small.hex(), "fragmented": big.hex()}, {"a": ra.draws, "b": rb.draws}


def _offload_pair() -> tuple[dict[str, str], dict[str, str]]:
    """Two peers whose TAPs have offloads: both announce CAP_VNET; frames carry a virtio-net header."""
    log: list[dict[str, Any]] = []
    a = _Side("a", A_PRIVATE, B_PRIVATE, B_ADDR, vnet=True)
    b = _Side("b", B_PRIVATE, A_PRIVATE, None, vnet=True)
    vnet = bytes(10) + _frame(MAC_B, MAC_A, b"with a virtio-net header")
    a.node.on_frame(vnet, START)
    init = a.drain(log)
    _deliver(b, init, A_ADDR, START)
    resp = b.drain(log)
    _deliver(a, resp, B_ADDR, START)
    queued = a.drain(log)  # held before B announced CAP_VNET: sent as a plain frame
    a.node.on_frame(vnet, START)
    data = a.drain(log)
    return (
        {
            "initiation_offload": init[0].hex(),
            "response_offload": resp[0].hex(),
            "data_queued_before_caps": queued[0].hex(),
            "data_vnet": data[0].hex(),
        },
        {"vnet": vnet.hex()},
    )


def _cookie() -> dict[str, str]:
    log: list[dict[str, Any]] = []
    _under_load(log)
    a, b = _udp(log, "a"), _udp(log, "b")
    return {"cookie_reply": b[1].hex(), "initiation_with_mac2": a[2].hex()}


def published() -> dict[str, Any]:
    plain, frames, draws = _plain_pair()
    offload, vframes = _offload_pair()
    return {
        "about": "tapliance native protocol v1 test vectors; see docs/protocol.md, section Test vectors",
        "inputs": {
            "a_private": A_PRIVATE.hex(),
            "a_public": dh_public(A_PRIVATE).hex(),
            "b_private": B_PRIVATE.hex(),
            "b_public": dh_public(B_PRIVATE).hex(),
            "randomness": "side X draws bytes from SHA-256(b'rng-X' || le64(i)) for i = 0, 1, ... concatenated",
            "monotonic_start": START,
            "unix_offset": UNIX_OFFSET,
            "a_addr": list(A_ADDR),
            "b_addr": list(B_ADDR),
            "psk": "none (32 zero bytes)",
            "suite": "chacha20-poly1305",
            "underlay_mtu": 1500,
            "plain_pair_random_draws": draws,
        },
        "frames": {**frames, **vframes},
        "messages": {**plain, **offload, **_cookie()},
    }


if __name__ == "__main__":
    FILE.write_text(json.dumps(published(), indent=1) + "\n")
    print(f"wrote {FILE}")
